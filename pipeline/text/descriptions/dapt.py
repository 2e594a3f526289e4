"""W3C DAPT (Dubbing and Audio description Profiles of TTML2, Candidate Recommendation), read and
written with lxml.

Reading: the root must be `tt` in the TTML namespace and carry DAPT: a `daptm:` attribute (the metadata
namespace `http://www.w3.org/ns/ttml/profile/dapt#metadata`; the bare `...dapt#` is accepted too) or a
`ttp:contentProfiles` naming DAPT. Script events are `div`s with `p` text (several `p` make one cue,
joined by spaces; where they are in several languages, those in the script's language); a `div` without
its own `begin` whose `p`s are timed gives one cue per `p`. Times are TTML2 time expressions (clock time,
frames with `ttp:frameRate`, offsets in h/m/s/ms/f/t with `ttp:tickRate`), relative to the parent's
begin (the default `timeContainer="par"`); a cue with no begin on itself or any ancestor is refused.
`xml:lang` is inherited; `daptm:descType` is taken from a `ttm:desc` child (as DAPT puts it) or, leniently,
from the div/p itself. The parser resolves no entities and fetches nothing.

Writing: a DAPT document for audio description (`daptm:scriptRepresents="visual.nonText"`), one `div`
per cue; an as-recorded script puts each clip in an `audio` element in the text's `span`. Drafts carry
`<ttm:desc daptm:descType="x-draft">draft</ttm:desc>`, which the reader maps back to `Cue.draft`. A cue id
that is not an XML name (e.g. "1") is written as a safe `xml:id` plus the original in `dl:cueId`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from pipeline.core.errors import InputError
from pipeline.text.descriptions.cues import Cue, DescriptionScript, PlacedCue
from pipeline.text.descriptions.scripts import make_cue, make_script, primary_language

TT = "http://www.w3.org/ns/ttml"
TTP = "http://www.w3.org/ns/ttml#parameter"
TTM = "http://www.w3.org/ns/ttml#metadata"
DAPTM = "http://www.w3.org/ns/ttml/profile/dapt#metadata"
DAPT_NS_PREFIX = "http://www.w3.org/ns/ttml/profile/dapt"
DAPT_PROFILE = "http://www.w3.org/ns/ttml/profile/dapt1.0/content"
DUBLINE = "urn:dubline:description"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
SCRIPT_TYPES = ("originalTranscript", "translatedTranscript", "preRecording", "asRecorded")
DESC_TYPES = ("pronunciationNote", "scene", "plotSignificance")  # the DAPT registry; others as "x-..."
DRAFT = "x-draft"
_SKIP = {"audio", "desc", "metadata", "animate", "set", "source", "data", "chunk", "image", "title", "agent"}
_CLOCK = re.compile(r"^(\d{2,}):(\d{2}):(\d{2})(?:(\.\d+)|:(\d{2,})(?:\.(\d+))?)?$")
_OFFSET = re.compile(r"^(\d+(?:\.\d+)?)(h|ms|m|s|f|t)$")
_NCNAME = re.compile(r"^[A-Za-z_][\w.\-]*$")
_TIME_HINT = "write TTML times such as 00:01:02.500, 12.5s, 500ms or 90f"


@dataclass(frozen=True)
class _Rates:
    frame: float  # effective frames per second (ttp:frameRate x ttp:frameRateMultiplier)
    sub_frame: int
    tick: float


@dataclass(frozen=True)
class _Span:
    begin: float | None  # absolute begin, None while no element up the tree gave one (implicitly 0)
    end: float | None


# --- reading ---------------------------------------------------------------------------------------------


def read_dapt(data: bytes, name: str, language: str = "") -> DescriptionScript:
    """The description script in DAPT `data`; `language` is used where the document has no `xml:lang`."""
    root = _parse(data, name)
    _check_dapt(root, name)
    rates = _rates(root, name)
    script_lang = primary_language(root.get(XML_LANG)) or primary_language(language)
    title = root.findtext(f"{{{TT}}}head//{{{TTM}}}title", default="").strip()
    body = root.find(f"{{{TT}}}body")
    cues: list[Cue] = []
    if body is not None:
        span = _span(body, _Span(None, None), rates, name)
        for n, (el, ps, ev_span) in enumerate(_events(body, span, rates, name), start=1):
            cues.append(_cue(el, ps, ev_span, n, script_lang, name))
    return make_script(name, "dapt", cues, language=script_lang, title=title)


def _parse(data: bytes, name: str) -> etree._Element:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False, remove_comments=True, remove_pis=True
    )
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise InputError(
            f"{name}: line {exc.lineno or 1}: not well-formed XML ({exc.msg})",
            "fix the XML there (an unclosed tag, an unescaped & or <), or give the script as WebVTT, CSV or JSON",
        ) from exc


def _check_dapt(root: etree._Element, name: str) -> None:
    q = etree.QName(root)
    if q.localname != "tt":
        raise InputError(f"{name}: is XML but not TTML (root <{q.localname}>)", "give a W3C DAPT (TTML2) document")
    if q.namespace != TT:
        raise InputError(
            f"{name}: the <tt> root is in namespace {q.namespace or '(none)'!r}, not TTML2's {TT!r}",
            "give a W3C DAPT (TTML2) document",
        )
    profiles = root.get(f"{{{TTP}}}contentProfiles", "") + " " + root.get(f"{{{TTP}}}profile", "")
    has_daptm = any(
        (etree.QName(a).namespace or "").startswith(DAPT_NS_PREFIX) for el in root.iter() for a in el.attrib
    )
    if not has_daptm and "dapt" not in profiles.lower():
        raise InputError(
            f"{name}: is TTML but not DAPT (no daptm:scriptType, daptm:scriptRepresents or DAPT content profile)",
            f'add daptm:scriptType="preRecording" and daptm:scriptRepresents="visual.nonText" '
            f'(xmlns:daptm="{DAPTM}") to <tt>, or give the script as WebVTT',
        )


def _rates(root: etree._Element, name: str) -> _Rates:
    try:
        frame_attr = root.get(f"{{{TTP}}}frameRate")
        frame = float(int(frame_attr)) if frame_attr else 30.0
        multiplier = root.get(f"{{{TTP}}}frameRateMultiplier")
        if multiplier:
            num, den = (int(x) for x in multiplier.split())
            frame = frame * num / den
        sub_frame = int(root.get(f"{{{TTP}}}subFrameRate", "1"))
        tick_attr = root.get(f"{{{TTP}}}tickRate")
        tick = float(int(tick_attr)) if tick_attr else (frame * sub_frame if frame_attr else 1.0)
        if frame <= 0 or sub_frame <= 0 or tick <= 0:
            raise ValueError("rates must be positive")
    except (ValueError, ZeroDivisionError) as exc:
        raise InputError(
            f"{name}: <tt> at line {root.sourceline}: bad ttp:frameRate, ttp:frameRateMultiplier, ttp:subFrameRate "
            f"or ttp:tickRate ({exc})",
            'write whole positive numbers, e.g. ttp:frameRate="25" ttp:frameRateMultiplier="1000 1001"',
        ) from exc
    return _Rates(frame, sub_frame, tick)


def parse_time(text: str, rates: _Rates = _Rates(30.0, 1, 1.0)) -> float:
    """Seconds from a TTML2 time expression (clock time or offset time); ValueError for anything else."""
    value = text.strip()
    m = _CLOCK.match(value)
    if m:
        h, mi, s, frac, frames, sub = m.groups()
        if int(mi) >= 60 or int(s) >= 60:
            raise ValueError(value)
        secs = int(h) * 3600 + int(mi) * 60 + int(s) + (float(frac) if frac else 0.0)
        if frames:
            secs += int(frames) / rates.frame + (int(sub) / (rates.frame * rates.sub_frame) if sub else 0.0)
        return secs
    m = _OFFSET.match(value)
    if m is None:
        raise ValueError(value)
    count, metric = float(m.group(1)), m.group(2)
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "f": 1 / rates.frame, "t": 1 / rates.tick}[metric]
    return count * scale


def _span(el: etree._Element, parent: _Span, rates: _Rates, name: str) -> _Span:
    """The element's absolute begin and end from its begin/end/dur, relative to the parent's begin."""
    if el.get("timeContainer", "par") != "par":
        raise InputError(
            f"{name}: {_where(el)}: timeContainer {el.get('timeContainer')!r} is not supported",
            'remove timeContainer="seq" and give each element its own begin',
        )
    begin_off, end_off, dur = (_time_attr(el, a, rates, name) for a in ("begin", "end", "dur"))
    base = parent.begin or 0.0
    begin = base + begin_off if begin_off is not None else parent.begin
    ends = [base + end_off] if end_off is not None else []
    if dur is not None:
        ends.append((begin or 0.0) + dur)
    if parent.end is not None:
        ends.append(parent.end)
    return _Span(begin, min(ends) if ends else None)


def _time_attr(el: etree._Element, attr: str, rates: _Rates, name: str) -> float | None:
    raw = el.get(attr)
    if raw is None:
        return None
    try:
        return parse_time(raw, rates)
    except ValueError:
        raise InputError(f"{name}: {_where(el)}: malformed {attr} time {raw!r}", _TIME_HINT) from None


def _events(
    container: etree._Element, span: _Span, rates: _Rates, name: str
) -> Iterator[tuple[etree._Element, list[etree._Element], _Span]]:
    """(element, its p elements, its span) for each script event under `container`, in document order."""
    for div in _children(container, "div"):
        div_span = _span(div, span, rates, name)
        yield from _events(div, div_span, rates, name)
        ps = _children(div, "p")
        if not ps:
            continue
        timed = [p for p in ps if p.get("begin") is not None]
        if div.get("begin") is not None or not timed:
            yield div, ps, div_span
        else:
            for p in ps:
                yield p, [p], _span(p, div_span, rates, name)


def _cue(el: etree._Element, ps: list[etree._Element], span: _Span, n: int, script_lang: str, name: str) -> Cue:
    if span.begin is None:
        raise InputError(
            f"{name}: {_where(el)}: the element needs a begin (neither it nor a parent has a time)",
            'give the script event a begin, e.g. begin="00:01:02.500"',
        )
    chosen, lang = _in_language(ps, script_lang)
    text = " ".join(" ".join(_text(p) for p in chosen).split())
    descs = [d for e in (el, *chosen) for d in _children(e, "desc", TTM)]
    desc_types = [_dapt_attr(d, "descType") for d in descs]
    desc_type = _dapt_attr(el, "descType") or next((t for t in desc_types if t and t != DRAFT), "")
    draft = DRAFT in desc_types or any((d.text or "").strip().lower() == "draft" for d in descs)
    return make_cue(
        name,
        _where(el),
        id=el.get(f"{{{DUBLINE}}}cueId") or el.get(XML_ID) or f"d{n}",
        start=span.begin,
        end=span.end,
        text=text,
        desc_type=desc_type,
        language=lang if lang != script_lang else "",
        draft=draft,
    )


def _in_language(ps: list[etree._Element], script_lang: str) -> tuple[list[etree._Element], str]:
    """The p elements to speak (those in the script's language where they are in several) and their
    language."""
    langs = [primary_language(_lang(p)) for p in ps]
    if len(set(langs)) <= 1:
        return ps, langs[0] if langs else ""
    want = script_lang if script_lang in langs else langs[0]
    return [p for p, lang in zip(ps, langs, strict=True) if lang == want], want


def _text(el: etree._Element) -> str:
    """The text of a p or span, without metadata, audio or animation children; br as a space."""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str):
            local = etree.QName(child).localname
            if local == "br":
                parts.append(" ")
            elif local not in _SKIP:
                parts.append(_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _lang(el: etree._Element) -> str:
    node: etree._Element | None = el
    while node is not None:
        value = node.get(XML_LANG)
        if value is not None:
            return value
        node = node.getparent()
    return ""


def _children(el: etree._Element, local: str, ns: str = TT) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str) and c.tag == f"{{{ns}}}{local}"]


def _dapt_attr(el: etree._Element, local: str) -> str:
    for key, value in el.attrib.items():
        q = etree.QName(key)
        if q.localname == local and (q.namespace or "").startswith(DAPT_NS_PREFIX):
            return str(value).strip()
    return ""


def _where(el: etree._Element) -> str:
    local = etree.QName(el).localname
    ident = el.get(XML_ID)
    tag = f'<{local} xml:id="{ident}">' if ident else f"<{local}>"
    return f"{tag} at line {el.sourceline}"


# --- writing ---------------------------------------------------------------------------------------------


def write_dapt(
    cues: Sequence[PlacedCue] | Sequence[Cue], path: Path, language: str, script_type: str, *, title: str = ""
) -> Path:
    """Write a DAPT audio description script: PlacedCues at their placed times with the spoken text (and,
    for `asRecorded`, each clip's `audio_uri` as an `audio` element), or Cues as written. Returns `path`."""
    if script_type not in SCRIPT_TYPES:
        raise ValueError(f"script_type must be one of {', '.join(SCRIPT_TYPES)}, not {script_type!r}")
    nsmap = {None: TT, "ttp": TTP, "ttm": TTM, "daptm": DAPTM, "dl": DUBLINE}
    root = etree.Element(f"{{{TT}}}tt", nsmap=nsmap)  # type: ignore[dict-item]
    root.set(XML_LANG, language or "und")
    root.set(f"{{{TTP}}}contentProfiles", DAPT_PROFILE)
    if language:
        root.set(f"{{{DAPTM}}}langSrc", language)
    root.set(f"{{{DAPTM}}}scriptRepresents", "visual.nonText")
    root.set(f"{{{DAPTM}}}scriptType", script_type)
    if title:
        meta = etree.SubElement(etree.SubElement(root, f"{{{TT}}}head"), f"{{{TT}}}metadata")
        etree.SubElement(meta, f"{{{TTM}}}title").text = title
    body = etree.SubElement(root, f"{{{TT}}}body")
    items: list[PlacedCue | Cue] = list(cues)
    for cue in sorted(items, key=lambda c: (c.start, c.id)):
        _write_event(body, cue, script_type == "asRecorded")
    path.parent.mkdir(parents=True, exist_ok=True)
    etree.ElementTree(root).write(str(path), xml_declaration=True, encoding="utf-8", pretty_print=True)
    return path


def _write_event(body: etree._Element, cue: PlacedCue | Cue, recorded: bool) -> None:
    div = etree.SubElement(body, f"{{{TT}}}div")
    safe_id = cue.id if _NCNAME.match(cue.id) else "c" + re.sub(r"[^\w.\-]", "_", cue.id)
    div.set(XML_ID, safe_id)
    if safe_id != cue.id:
        div.set(f"{{{DUBLINE}}}cueId", cue.id)
    div.set("begin", _clock(cue.start))
    if cue.end is not None:
        div.set("end", _clock(cue.end))
    div.set(f"{{{DAPTM}}}represents", "visual.nonText")
    if cue.desc_type:
        desc = etree.SubElement(div, f"{{{TTM}}}desc")
        registered = cue.desc_type in DESC_TYPES or cue.desc_type.startswith("x-")
        desc.set(f"{{{DAPTM}}}descType", cue.desc_type if registered else f"x-{cue.desc_type}")
    if cue.draft:
        mark = etree.SubElement(div, f"{{{TTM}}}desc")
        mark.set(f"{{{DAPTM}}}descType", DRAFT)
        mark.text = "draft"
    p = etree.SubElement(div, f"{{{TT}}}p")
    if isinstance(cue, PlacedCue):
        if recorded and cue.audio_uri:
            span = etree.SubElement(p, f"{{{TT}}}span", begin="0s", end=f"{max(cue.end - cue.start, 0.0):.3f}s")
            etree.SubElement(span, f"{{{TT}}}audio", src=cue.audio_uri)
            span[0].tail = cue.spoken_text
        else:
            p.text = cue.spoken_text
    else:
        p.text = cue.text


def _clock(seconds: float) -> str:
    total = max(0, round(seconds * 1000))
    h, rest = divmod(total, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"
