"""WebVTT description tracks (`<track kind="descriptions">`), read and written with webvtt-py.

Reading: the header block after `WEBVTT` may hold `Kind: descriptions` and `Language: en` lines (some
tools write them); they are taken out before webvtt-py parses the file and the language is kept. webvtt-py
silently drops a block it cannot parse, so each block is first checked here with its line number: a bad
timing line, a cue without text, or text outside any cue is an InputError naming the file, the line and
the text. Cue identifiers become `Cue.id` (else "d1", "d2"... by position); cue tags are stripped and
lines joined by a space.

Writing: the as-placed script (placed start/end, the text as spoken), `WEBVTT` with `Kind:` and
`Language:` header lines, which webvtt-py (and this reader) read back (see the round-trip test).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError
from webvtt.models import Timestamp

from pipeline.core.errors import InputError
from pipeline.text.descriptions.cues import Cue, DescriptionScript, PlacedCue
from pipeline.text.descriptions.scripts import decode_text, make_cue, make_script, primary_language

_TIMING = re.compile(r"^\s*(\S+)\s+-->\s+(\S+)(?:\s+.*)?$")
_TIMESTAMP = re.compile(r"^(?:(\d{1,2}):)?(\d{2}):(\d{2})\.(\d{3})$")
_HEADER_FIELD = re.compile(r"^([A-Za-z][\w-]*)\s*:\s*(.*)$")
_TIME_HINT = "write cue times as hh:mm:ss.ttt --> hh:mm:ss.ttt (or mm:ss.ttt), e.g. 00:01:02.500 --> 00:01:05.000"


@dataclass(frozen=True)
class _Block:
    line: int  # 1-based line of the block's first line
    lines: list[str]


def read_webvtt(data: bytes, name: str, language: str = "") -> DescriptionScript:
    """The description script in WebVTT `data`; `name` is how messages call the file; `language` is used
    where the file has no `Language:` header line."""
    lines = decode_text(data, name).splitlines()
    if not lines or not lines[0].startswith("WEBVTT"):
        raise InputError(f"{name}: line 1: a WebVTT file starts with 'WEBVTT'", "put WEBVTT on the first line")
    header_end = _header_end(lines)
    timing_in_header = next((i for i in range(1, header_end) if "-->" in lines[i]), None)
    if timing_in_header is not None:
        raise InputError(
            f"{name}: line {timing_in_header + 1}: a cue in the header ({_quote(lines[timing_in_header])})",
            "leave a blank line after the WEBVTT header lines, before the first cue",
        )
    fields = _header_fields(lines[1:header_end])
    cue_blocks = [b for b in _blocks(lines, header_end) if _is_cue(b, name)]
    cleaned = "\n".join(["WEBVTT", "", *lines[header_end:]])
    try:
        captions = webvtt.from_string(cleaned).captions
    except (MalformedCaptionError, MalformedFileError) as exc:  # checked above; kept as a safety net
        raise InputError(f"{name}: not a readable WebVTT file ({exc})", _TIME_HINT) from exc
    if len(captions) != len(cue_blocks):
        raise InputError(f"{name}: some WebVTT cues could not be read", _TIME_HINT)
    cues = [_cue(cap, block, i, name) for i, (cap, block) in enumerate(zip(captions, cue_blocks, strict=True), 1)]
    lang = primary_language(fields.get("language")) or primary_language(language)
    return make_script(name, "webvtt", cues, language=lang)


def write_webvtt(cues: list[PlacedCue], path: Path, language: str) -> Path:
    """Write the as-placed description track: each cue at its placed start/end, with its id and the text
    as spoken; header `WEBVTT`, `Kind: descriptions` and (when given) `Language:`. Returns `path`."""
    captions = [
        webvtt.Caption(start=_timestamp(c.start), end=_timestamp(c.end), text=_escape(c.spoken_text), identifier=c.id)
        for c in sorted(cues, key=lambda c: (c.start, c.id))
    ]
    body = webvtt.WebVTT(captions=captions).content
    header = ["WEBVTT", "Kind: descriptions"] + ([f"Language: {language}"] if language else [])
    first, _, rest = body.partition("\n")
    assert first == "WEBVTT", "webvtt-py writes WEBVTT first"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(header) + "\n" + rest, encoding="utf-8")
    return path


def _header_end(lines: list[str]) -> int:
    """Index of the first blank line after `WEBVTT` (the header block is lines[0:end])."""
    for i, line in enumerate(lines):
        if not line.strip():
            return i
    return len(lines)


def _header_fields(lines: list[str]) -> dict[str, str]:
    """`Kind: descriptions`, `Language: en`... of the header block, by lower-case key."""
    out: dict[str, str] = {}
    for line in lines:
        m = _HEADER_FIELD.match(line.strip())
        if m:
            out[m.group(1).lower()] = m.group(2).strip()
    return out


def _blocks(lines: list[str], start: int) -> list[_Block]:
    """The blocks of non-blank lines from `start`, each with its first line's number."""
    blocks: list[_Block] = []
    current: list[str] = []
    first = 0
    for i in range(start, len(lines)):
        if lines[i].strip():
            if not current:
                first = i + 1
            current.append(lines[i])
        elif current:
            blocks.append(_Block(first, current))
            current = []
    if current:
        blocks.append(_Block(first, current))
    return blocks


def _is_cue(block: _Block, name: str) -> bool:
    """True for a cue block that webvtt-py will read; False for NOTE/STYLE/REGION; an InputError naming the
    line for anything else."""
    head = block.lines[0].strip()
    if head.startswith(("NOTE", "STYLE", "REGION")) and "-->" not in head:
        return False
    at = next((i for i, line in enumerate(block.lines) if "-->" in line), None)
    if at is None:
        if re.match(r"^\d+:\d", head):
            _check_timing(head, block.line, name)  # a timing line without a proper "-->"
        raise InputError(
            f"{name}: line {block.line}: text outside a cue ({_quote(head)})",
            "a blank line ends a cue: remove blank lines inside a description, or add a timing line before it",
        )
    line_no = block.line + at
    if at > 1:
        raise InputError(
            f"{name}: line {line_no}: a cue has at most one identifier line before its times",
            "start each cue with an optional id line, then the timing line",
        )
    _check_timing(block.lines[at], line_no, name)
    payload = block.lines[at + 1 :]
    if not payload:
        raise InputError(f"{name}: line {line_no}: the cue has no text", "write the description under its times")
    bad = next((i for i, line in enumerate(payload) if "-->" in line), None)
    if bad is not None:
        raise InputError(
            f"{name}: line {line_no + 1 + bad}: a second timing line in one cue ({_quote(payload[bad])})",
            "separate cues with a blank line",
        )
    return True


def _check_timing(line: str, line_no: int, name: str) -> None:
    m = _TIMING.match(line)
    stamps = [m.group(1), m.group(2)] if m else []
    bad = [s for s in stamps if not _valid_timestamp(s)]
    if not m or bad:
        what = f"time {_quote(bad[0])}" if bad else f"timing line {_quote(line.strip())}"
        raise InputError(f"{name}: line {line_no}: malformed {what}", _TIME_HINT)


def _valid_timestamp(text: str) -> bool:
    m = _TIMESTAMP.match(text)
    if m is None:
        return False
    return int(m.group(2)) < 60 and int(m.group(3)) < 60


def _cue(caption: webvtt.Caption, block: _Block, index: int, name: str) -> Cue:
    text = " ".join(html.unescape(caption.text).split())
    return make_cue(
        name,
        f"line {block.line}",
        id=(caption.identifier or "").strip() or f"d{index}",
        start=_seconds(caption.start_time),
        end=_seconds(caption.end_time),
        text=text,
    )


def _seconds(stamp: Timestamp) -> float:
    h, m, s, ms = stamp.to_tuple()
    return h * 3600 + m * 60 + s + ms / 1000


def _timestamp(seconds: float) -> str:
    total = max(0, round(seconds * 1000))
    h, rest = divmod(total, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _escape(text: str) -> str:
    """Cue text safe in WebVTT: one line, no `-->`, `&` and `<` as entities."""
    one_line = " ".join(text.split()).replace("-->", "->")
    return html.escape(one_line, quote=False)


def _quote(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
