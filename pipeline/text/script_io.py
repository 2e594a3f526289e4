"""A Script's transcript or one translation exported for review (SRT, WebVTT, W3C DAPT, JSON) and the
reviewed file read back as a `ScriptEdit`: only the lines that differ, mapped to segment ids.

Export: SRT and WebVTT hold the cues of `script_cues` (the subtitle rules may split a line into several
cues); each WebVTT cue's identifier is its line's id and part ("s0007", "s0007.2") under a header NOTE
naming the export. SRT has no ids: it is mapped back by time. DAPT (TTML2, `audio.dialogue`) and JSON hold
one event per line with its id. SRT and WebVTT are written here rather than with pysubs2, which takes `{...}`
in a text for ASS override tags and drops it. Every file is written to a temporary file and renamed.

Reading maps each cue to a line: by id (WebVTT identifier, DAPT `xml:id`, JSON `id`; a WebVTT identifier
that is a plain number is taken as renumbered by an editor and ignored), else to the line whose span (as
exported) overlaps it most, ties to the nearest midpoint. A line's text is its cues' texts joined with
spaces; it changed when that differs, whitespace-normalised, from what the export wrote. Its times changed
only when it has exactly one cue and that cue's start or end is more than TIME_TOLERANCE_S from what the
export wrote (the cue times, not the segment's: the rules move a cue up to LAG_S past its speech). The
inner times of a split line are the subtitle rules' and are ignored. An emptied text is an empty
translation (the line is not dubbed); a transcript line cannot be emptied. Refused, with the file and the
cue: a cue over no line (an added line), a line with no cue left (a deleted line), an unknown id, a file
that says it is in another language or of another kind, an unreadable file, and one that is not UTF-8.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from pipeline.core.errors import InputError
from pipeline.core.revision import LineEdit, ScriptEdit, normalise
from pipeline.core.script import Script
from pipeline.text.descriptions.dapt import DAPTM, TT, TTM, XML_ID, XML_LANG
from pipeline.text.descriptions.scripts import decode_text, primary_language
from pipeline.text.script_files import FileCue, _stamp, _unpayload, read_cues
from pipeline.text.subtitles import PROFILES, Profile, script_cues, segment_cues

FORMATS = ("srt", "vtt", "dapt", "json")
TIME_TOLERANCE_S = 0.05
_SUFFIXES = {".srt": "srt", ".vtt": "vtt", ".ttml": "dapt", ".xml": "dapt", ".dapt": "dapt", ".json": "json"}
_NCNAME = re.compile(r"[^\w.\-]")
_ADD_HINT = "adding lines is not supported: put its text into the cue of the line it belongs to"


@dataclass(frozen=True)
class _Out:
    """One cue as the export writes it."""

    seg_id: str
    ident: str  # "s0007", "s0007.2"
    start: float
    end: float
    text: str


def format_of(path: Path) -> str:
    """The format of a script file by its suffix: srt, vtt, dapt (.ttml, .xml, .dapt) or json."""
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path.name}: unknown script format {path.suffix or '(no suffix)'!r}",
            f"name the file with one of {', '.join(_SUFFIXES)} ({', '.join(FORMATS)})",
        )
    return fmt


# --- export ----------------------------------------------------------------------------------------------


def export_script(
    script: Script, language: str | None, fmt: str, path: Path, rules: Profile = PROFILES["broadcast"]
) -> Path:
    """Write the source transcript (`language` None) or that language's translations as `fmt`. Returns path."""
    if fmt not in FORMATS:
        raise InputError(f"{path.name}: unknown script format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    if language is not None and language not in script.languages:
        if not any(language in s.translations for s in script.segments):
            raise InputError(f"{path.name}: the script has no {language!r} translation", "translate it first")
    data = {"srt": _srt, "vtt": _vtt, "dapt": _dapt, "json": _json}[fmt](script, language, rules)
    return _write_atomic(path, data)


def _write_atomic(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _exported(script: Script, language: str | None, rules: Profile) -> list[_Out]:
    """The cues of `script_cues`, each with its line: built and sorted as script_cues does, so in its order."""
    owned = [(seg.id, c) for seg in script.segments for c in segment_cues(seg, language)]
    owned.sort(key=lambda sc: sc[1].start)
    timed = script_cues(script, language, rules)
    parts: dict[str, int] = {}
    out = []
    for (seg_id, _), cue in zip(owned, timed, strict=True):
        parts[seg_id] = parts.get(seg_id, 0) + 1
        ident = seg_id if parts[seg_id] == 1 else f"{seg_id}.{parts[seg_id]}"
        out.append(_Out(seg_id, ident, cue.start, cue.end, cue.text))
    return out


def _payload(fmt: str, text: str) -> list[str]:
    """A cue's text as written: its lines, no "-->" (it would read as a timing line); in WebVTT, & < > escaped."""
    lines = [" ".join(line.split()).replace("-->", "->") for line in text.split("\n")]
    lines = [line for line in lines if line]
    return [html.escape(line, quote=False) for line in lines] if fmt == "vtt" else lines


def _srt(script: Script, language: str | None, rules: Profile) -> bytes:
    blocks = [
        "\n".join([str(n), f"{_stamp(c.start, ',')} --> {_stamp(c.end, ',')}", *_payload("srt", c.text)])
        for n, c in enumerate(_exported(script, language, rules), start=1)
    ]
    return "".join(b + "\n\n" for b in blocks).encode()


def _lang_of(script: Script, language: str | None) -> str:
    return language or script.source.language or "und"


def _vtt(script: Script, language: str | None, rules: Profile) -> bytes:
    kind = "transcript" if language is None else "translation"
    note = (
        f"NOTE dubline script export: {kind} ({_lang_of(script, language)}) of {script.source.filename}, "
        f"revision {script.revision}, subtitle profile {rules.name}. Keep each cue's identifier"
        + ("; to leave a line unspoken, keep its cue and empty its text." if language else ".")
    )
    out = [f"WEBVTT\nLanguage: {_lang_of(script, language)}\n\n{html.escape(note, quote=False)}\n\n"]
    for c in _exported(script, language, rules):
        lines = [c.ident, f"{_stamp(c.start)} --> {_stamp(c.end)}", *_payload("vtt", c.text)]
        out.append("\n".join(lines) + "\n\n")
    return "".join(out).encode()


def _line_text(script: Script, language: str | None, i: int) -> str:
    tr = script.segments[i].translations.get(language) if language else None
    return script.segments[i].text if language is None else tr.text if tr else ""


def _json(script: Script, language: str | None, rules: Profile) -> bytes:
    lines: list[dict[str, Any]] = []
    for i, seg in enumerate(script.segments):
        line: dict[str, Any] = {"id": seg.id, "start": round(seg.start, 3), "end": round(seg.end, 3)}
        line |= {"speaker": seg.speaker, "text": _line_text(script, language, i)}
        if language is not None:
            line["original"] = seg.text  # for the reviewer; not read back
        lines.append(line)
    doc = {
        "dubline_script": 1,
        "kind": "transcript" if language is None else "translation",
        "language": _lang_of(script, language),
        "source_language": script.source.language or "und",
        "lines": lines,
    }
    return (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode()


def _dapt(script: Script, language: str | None, rules: Profile) -> bytes:
    source_lang = script.source.language or "und"
    root = etree.Element(f"{{{TT}}}tt", nsmap={None: TT, "ttm": TTM, "daptm": DAPTM})
    root.set(XML_LANG, _lang_of(script, language))
    root.set(f"{{{DAPTM}}}langSrc", source_lang)
    root.set(f"{{{DAPTM}}}scriptRepresents", "audio.dialogue")
    root.set(f"{{{DAPTM}}}scriptType", "originalTranscript" if language is None else "translatedTranscript")
    meta = etree.SubElement(etree.SubElement(root, f"{{{TT}}}head"), f"{{{TT}}}metadata")
    speakers = list(dict.fromkeys([*script.speakers, *(s.speaker for s in script.segments)]))
    for speaker in speakers:
        agent = etree.SubElement(meta, f"{{{TTM}}}agent", type="person")
        agent.set(XML_ID, _agent_id(speaker))
        etree.SubElement(agent, f"{{{TTM}}}name", type="alias").text = speaker
    body = etree.SubElement(root, f"{{{TT}}}body")
    for i, seg in enumerate(script.segments):
        div = etree.SubElement(body, f"{{{TT}}}div", begin=_stamp(seg.start), end=_stamp(seg.end))
        div.set(XML_ID, seg.id)
        div.set(f"{{{TTM}}}agent", _agent_id(seg.speaker))
        etree.SubElement(div, f"{{{TT}}}p").text = _line_text(script, language, i)
        if language is not None:  # the original, for the reviewer; not read back
            original = etree.SubElement(div, f"{{{TT}}}p")
            original.set(XML_LANG, source_lang)
            original.text = seg.text
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True))


def _agent_id(speaker: str) -> str:
    return "agent_" + _NCNAME.sub("_", speaker)


# --- reading ---------------------------------------------------------------------------------------------


def read_edit(script: Script, language: str | None, path: Path, rules: Profile = PROFILES["broadcast"]) -> ScriptEdit:
    """The lines of the reviewed file `path` that differ from `script` (as exported with `rules`)."""
    name = path.name
    fmt = format_of(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"{name}: cannot read the file ({exc.strerror})", "give the path of the edited script"
        ) from exc
    text = decode_text(data, name)
    expected_lang = _lang_of(script, language)
    kind = "transcript" if language is None else "translation"
    cues, file_lang = read_cues(fmt, text, name, kind)
    if primary_language(file_lang) and primary_language(expected_lang):
        if primary_language(file_lang) != primary_language(expected_lang):
            raise InputError(
                f"{name}: the file is in {file_lang!r}, not {expected_lang!r} as expected",
                f"give the {kind} in {expected_lang!r} exported for this job",
            )
    lines = _diff(script, language, fmt, rules, cues, name)
    sha = hashlib.sha256(data).hexdigest()
    return ScriptEdit(language=expected_lang, kind=kind, name=name, sha256=sha, format=fmt, lines=lines)


def _diff(
    script: Script, language: str | None, fmt: str, rules: Profile, cues: list[FileCue], name: str
) -> list[LineEdit]:
    """Map the file's cues to lines and return the lines that differ from the export."""
    if fmt in ("srt", "vtt"):
        expected: dict[str, list[_Out]] = {seg.id: [] for seg in script.segments}
        for c in _exported(script, language, rules):
            expected[c.seg_id].append(c)
        texts = {k: normalise(" ".join(_unpayload(fmt, _payload(fmt, c.text)) for c in v)) for k, v in expected.items()}
    else:
        expected = {
            seg.id: [_Out(seg.id, seg.id, round(seg.start, 3), round(seg.end, 3), "")] for seg in script.segments
        }
        texts = {seg.id: normalise(_line_text(script, language, i)) for i, seg in enumerate(script.segments)}
    mapped: dict[str, list[FileCue]] = {seg.id: [] for seg in script.segments}
    for cue in cues:
        mapped[_line_of(cue, expected, script, fmt, name)].append(cue)
    edits = []
    for seg in script.segments:
        got, exp = sorted(mapped[seg.id], key=lambda c: c.start), expected[seg.id]
        if exp and not got:
            raise InputError(
                f"{name}: line {seg.id} ({_stamp(exp[0].start)} --> {_stamp(exp[-1].end)}) has no cue in the file",
                "deleting lines is not supported: "
                + ("to leave a line unspoken, keep its cue and empty its text" if language else "keep its cue"),
            )
        if not got:
            continue
        if len(got) > 1 and fmt in ("json", "dapt"):
            raise InputError(f"{name}: {got[1].where}: line {seg.id} appears twice", "keep one entry per line id")
        edit = LineEdit(id=seg.id)
        text = normalise(" ".join(c.text for c in got))
        if text != texts[seg.id]:
            if not text and language is None:
                raise InputError(
                    f"{name}: {got[0].where}: the transcript of line {seg.id} is empty",
                    "a transcript line cannot be emptied: keep its words (only a translation may be left empty)",
                )
            edit.text = text
        if len(got) == 1 and len(exp) == 1:
            if abs(got[0].start - exp[0].start) > TIME_TOLERANCE_S:
                edit.start = round(got[0].start, 3)
            if abs(got[0].end - exp[0].end) > TIME_TOLERANCE_S:
                edit.end = round(got[0].end, 3)
        if edit.text is not None or edit.start is not None or edit.end is not None:
            edits.append(edit)
    return edits


def _line_of(cue: FileCue, expected: dict[str, list[_Out]], script: Script, fmt: str, name: str) -> str:
    """The id of the line a cue belongs to: by its id, else by the largest overlap with a line's span (as
    exported; a line with no cue by its segment's times), ties to the nearest midpoint."""
    if cue.ident is not None:
        base = cue.ident
        if base not in expected and fmt == "vtt" and re.fullmatch(r".+\.\d+", base):
            base = base.rsplit(".", 1)[0]
        if base not in expected:
            raise InputError(
                f"{name}: {cue.where}: unknown line id {cue.ident!r}",
                "keep the ids of the exported file (adding lines is not supported; put the text into the cue of "
                "the line it belongs to)",
            )
        return base
    best: tuple[float, float, str] | None = None
    end = max(cue.end, cue.start + 1e-3)
    for seg in script.segments:
        exp = expected[seg.id]
        lo, hi = (exp[0].start, exp[-1].end) if exp else (seg.start, seg.end)
        overlap = min(end, hi) - max(cue.start, lo)
        if overlap > 0:
            key = (-round(overlap, 6), abs((cue.start + end) / 2 - (lo + hi) / 2), seg.id)
            best = key if best is None or key < best else best
    if best is None:
        raise InputError(f"{name}: {cue.where}: the cue is over no line of the script", _ADD_HINT)
    return best[2]
