"""The reviewed script files read back: each format's cues (or events) with their times, text, id and where
they are in the file (for messages), and the language the file says it is in. Mapping them to the Script's
lines is `pipeline.text.script_io`'s."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass

from lxml import etree

from pipeline.core.errors import InputError
from pipeline.core.revision import normalise
from pipeline.text.descriptions.dapt import DAPTM, TT, XML_ID, XML_LANG, parse_time
from pipeline.text.descriptions.scripts import primary_language

_STAMP = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})$")
_TIMING = re.compile(r"^\s*(\S+)\s+-->\s+(\S+)")
_TAGS = {"vtt": re.compile(r"<[^>]*>"), "srt": re.compile(r"</?(?:[ibus]|font)\b[^>]*>|\{\\an\d\}")}


@dataclass(frozen=True)
class FileCue:
    """One cue (or event) as read from the file."""

    where: str  # "cue 3 (00:00:01.000 --> 00:00:02.000) at line 9", for messages
    start: float
    end: float
    text: str
    ident: str | None


def _stamp(seconds: float, sep: str = ".") -> str:
    total = max(0, round(seconds * 1000))
    h, rest = divmod(total, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _unpayload(fmt: str, lines: list[str]) -> str:
    """A cue's text as read, lines joined by a space: WebVTT's tags stripped and entities resolved; SRT's
    formatting tags (<i>, <b>, <u>, <s>, <font>, {\\an8}) stripped, other text kept as it is."""
    text = _TAGS[fmt].sub("", " ".join(lines))
    return normalise(html.unescape(text) if fmt == "vtt" else text)


def _seconds(stamp: str) -> float | None:
    m = _STAMP.match(stamp)
    if m is None or int(m.group(3)) >= 60 or (m.group(1) is not None and int(m.group(2)) >= 60):
        return None
    h, mi, s, frac = m.groups()
    return int(h or 0) * 3600 + int(mi) * 60 + int(s) + float("0." + frac)


def _blocks(lines: list[str], start: int) -> list[tuple[int, list[str]]]:
    """The blocks of non-blank lines from index `start`, each with its first line's number."""
    out: list[tuple[int, list[str]]] = []
    for i in range(start, len(lines)):
        if not lines[i].strip():
            continue
        if i == start or not lines[i - 1].strip():
            out.append((i + 1, []))
        out[-1][1].append(lines[i])
    return out


def _read_cues(lines: list[str], start: int, name: str, fmt: str) -> list[FileCue]:
    cues: list[FileCue] = []
    for line_no, block in _blocks(lines, start):
        if fmt == "vtt" and block[0].startswith(("NOTE", "STYLE", "REGION")) and "-->" not in block[0]:
            continue
        at = next((i for i, line in enumerate(block[:2]) if "-->" in line), None)
        if at is None:
            raise InputError(
                f"{name}: line {line_no}: text outside a cue ({block[0][:60]!r})",
                "a blank line ends a cue: remove blank lines inside a cue's text, and keep each cue's time line",
            )
        n = len(cues) + 1
        m = _TIMING.match(block[at])
        times = (_seconds(m.group(1)), _seconds(m.group(2))) if m else (None, None)
        if times[0] is None or times[1] is None or times[1] < times[0]:
            raise InputError(
                f"{name}: cue {n} at line {line_no + at}: malformed time line {block[at].strip()[:60]!r}",
                "write cue times as 00:01:02.500 --> 00:01:05.000 (SRT: 00:01:02,500), the end after the start",
            )
        ident = block[0].strip() if at == 1 else None
        if fmt == "srt" or (ident is not None and ident.isdigit()):
            ident = None
        where = f"cue {n} ({_stamp(times[0])} --> {_stamp(times[1])}) at line {line_no + at}"
        cues.append(FileCue(where, times[0], times[1], _unpayload(fmt, block[at + 1 :]), ident))
    return cues


def _read_srt(text: str, name: str, kind: str) -> tuple[list[FileCue], str]:
    return _read_cues(text.splitlines(), 0, name, "srt"), ""


def _read_vtt(text: str, name: str, kind: str) -> tuple[list[FileCue], str]:
    lines = text.splitlines()
    if not lines or not lines[0].startswith("WEBVTT"):
        raise InputError(f"{name}: line 1: a WebVTT file starts with 'WEBVTT'", "put WEBVTT on the first line")
    header_end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    language = ""
    for line in lines[1:header_end]:
        key, _, value = line.partition(":")
        if key.strip().lower() == "language":
            language = value.strip()
    return _read_cues(lines, header_end, name, "vtt"), language


def _read_json(text: str, name: str, kind: str) -> tuple[list[FileCue], str]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: line {exc.lineno}: not valid JSON ({exc.msg})", "fix the JSON there") from exc
    hint = 'give the JSON exported by dubline: {"dubline_script": 1, "kind", "language", "lines": [...]}'
    if not isinstance(doc, dict) or doc.get("dubline_script") != 1 or not isinstance(doc.get("lines"), list):
        raise InputError(f'{name}: not a dubline script (no "dubline_script": 1 with "lines")', hint)
    if doc.get("kind", kind) != kind:
        raise InputError(f"{name}: the file is a {doc.get('kind')!r}, not a {kind}", f"give the {kind} export")
    cues = []
    for n, line in enumerate(doc["lines"], start=1):
        try:
            ident, words, start, end = line["id"], line["text"], float(line["start"]), float(line["end"])
            if not isinstance(ident, str) or not isinstance(words, str) or not 0 <= start <= end:
                raise ValueError(line)
        except (KeyError, TypeError, ValueError):
            raise InputError(
                f'{name}: line {n} of "lines" ({str(line)[:60]}): needs an "id", a "text", and "start" <= "end"',
                'keep each line as exported: {"id": "s0001", "start": 1.0, "end": 2.5, "text": "..."}',
            ) from None
        cues.append(FileCue(f"line {n} (id {ident!r}, {start:.3f}-{end:.3f})", start, end, normalise(words), ident))
    return cues, str(doc.get("language") or "")


def _read_dapt(text: str, name: str, kind: str) -> tuple[list[FileCue], str]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True)
    try:
        root = etree.fromstring(text.encode(), parser)
    except etree.XMLSyntaxError as exc:
        raise InputError(f"{name}: line {exc.lineno or 1}: not well-formed XML ({exc.msg})", "fix the XML") from exc
    if root.tag != f"{{{TT}}}tt":
        raise InputError(f"{name}: not a TTML document (root <{etree.QName(root).localname}>)", "give the DAPT export")
    want = "originalTranscript" if kind == "transcript" else "translatedTranscript"
    got = root.get(f"{{{DAPTM}}}scriptType")
    if got and got != want:
        raise InputError(f"{name}: daptm:scriptType is {got!r}, not {want!r}", f"give the {kind} export")
    file_lang = root.get(XML_LANG, "")
    cues = []
    for n, div in enumerate(root.iter(f"{{{TT}}}div"), start=1):
        ps = [p for p in div if p.tag == f"{{{TT}}}p"]
        if not ps:
            continue
        where = f"<div> {n} at line {div.sourceline}"
        try:
            offset = sum(parse_time(a.get("begin", "0s")) for a in div.iterancestors() if a.get("begin"))
            start, end = (offset + parse_time(div.get(k) or "") for k in ("begin", "end"))
        except ValueError:
            raise InputError(
                f"{name}: {where}: needs begin and end times (has {div.get('begin')!r}, {div.get('end')!r})",
                'write times as begin="00:01:02.500" end="00:01:05.000"',
            ) from None
        mine = [p for p in ps if primary_language(_xml_lang(p)) == primary_language(file_lang)] or ps[:1]
        ident = div.get(XML_ID)
        where = f'<div xml:id="{ident}"> at line {div.sourceline} ({_stamp(start)}-{_stamp(end)})' if ident else where
        cues.append(FileCue(where, start, end, normalise(" ".join(_text(p) for p in mine)), ident))
    return cues, file_lang


def _xml_lang(el: etree._Element) -> str:
    node: etree._Element | None = el
    while node is not None and node.get(XML_LANG) is None:
        node = node.getparent()
    return "" if node is None else str(node.get(XML_LANG))


def _text(el: etree._Element) -> str:
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str):
            local = etree.QName(child).localname
            parts.append(" " if local == "br" else "" if local in ("metadata", "desc", "audio") else _text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def read_cues(fmt: str, text: str, name: str, kind: str) -> tuple[list[FileCue], str]:
    """The cues of a file of format `fmt` and the language it says it is in ("" when it does not say)."""
    readers = {"srt": _read_srt, "vtt": _read_vtt, "dapt": _read_dapt, "json": _read_json}
    return readers[fmt](text, name, kind)
