"""Description scripts as a table: CSV (read with the csv module) or JSON.

CSV: a header row naming the columns `start` (or `begin`), `text` (or `description`), and optionally `end`,
`id` and `desc_type`; other columns are ignored. JSON: a list of objects, or an object
`{"language": "en", "title": "...", "cues": [...]}`, with the same fields (JSON may also say
`"draft": true`). Times are seconds (`12.5`), `mm:ss(.fff)` or `hh:mm:ss(.fff)`; an empty or missing end
means the system places the description from its start. Errors name the CSV row (the header is row 1) or
the JSON cue (1-based) and say how to write the value.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from pipeline.core.errors import InputError
from pipeline.text.descriptions.cues import Cue, DescriptionScript
from pipeline.text.descriptions.scripts import decode_text, make_cue, make_script, primary_language

_SECONDS = re.compile(r"^\d+(?:\.\d+)?$")
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:[.,]\d+)?)$")
_TIME_HINT = "write seconds (12.5) or hh:mm:ss.fff"
_ALIASES = {"begin": "start", "description": "text"}


def parse_time(value: object) -> float:
    """Seconds from `12.5`, `"12.5"`, `"01:02.5"` or `"00:01:02.500"`; ValueError for anything else."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(value)
        return float(value)
    text = str(value).strip()
    if _SECONDS.match(text):
        return float(text)
    m = _CLOCK.match(text)
    if m is None:
        raise ValueError(text)
    hours, minutes, seconds = int(m.group(1) or 0), int(m.group(2)), float(m.group(3).replace(",", "."))
    if minutes >= 60 or seconds >= 60:
        raise ValueError(text)
    return hours * 3600 + minutes * 60 + seconds


def read_csv(data: bytes, name: str, language: str = "") -> DescriptionScript:
    """The description script in CSV `data` (UTF-8, a byte-order mark allowed)."""
    reader = csv.reader(io.StringIO(decode_text(data, name), newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise InputError(f"{name}: the description script has no cues", "write a header row and one row per cue")
        columns = [_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
        missing = [c for c in ("start", "text") if c not in columns]
        if missing:
            raise InputError(
                f"{name}: row 1: the header has no {' or '.join(missing)} column (found: {', '.join(header)})",
                "start the file with a header row such as: id,start,end,text",
            )
        cues: list[Cue] = []
        for row_no, row in enumerate(reader, start=2):
            if not any(v.strip() for v in row):
                continue
            fields = {c: (row[i].strip() if i < len(row) else "") for i, c in enumerate(columns)}
            cues.append(_cue(fields, f"row {row_no}", len(cues) + 1, name))
    except csv.Error as exc:
        raise InputError(f"{name}: line {reader.line_num}: not valid CSV ({exc})", "check the quotes") from exc
    return make_script(name, "csv", cues, language=primary_language(language))


def read_json(data: bytes, name: str, language: str = "") -> DescriptionScript:
    """The description script in JSON `data`: a list of cue objects, or {"language", "title", "cues"}."""
    try:
        doc = json.loads(decode_text(data, name))
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{name}: line {exc.lineno}: not valid JSON ({exc.msg})", "check the commas, quotes and brackets there"
        ) from exc
    title = ""
    if isinstance(doc, dict):
        language = str(doc.get("language") or language)
        title = str(doc.get("title") or "")
        doc = doc.get("cues")
    if not isinstance(doc, list):
        raise InputError(
            f"{name}: the JSON is not a list of cues",
            'write [{"start": 12.5, "text": "..."}, ...] or {"language": "en", "cues": [...]}',
        )
    cues: list[Cue] = []
    for n, item in enumerate(doc, start=1):
        where = f"cue {n}"
        if not isinstance(item, dict):
            raise InputError(f"{name}: {where}: not an object", 'write each cue as {"start": 12.5, "text": "..."}')
        fields = {_ALIASES.get(str(k).lower(), str(k).lower()): v for k, v in item.items()}
        cues.append(_cue(fields, where, n, name))
    return make_script(name, "json", cues, language=primary_language(language), title=title)


def _cue(fields: dict[str, Any], where: str, index: int, name: str) -> Cue:
    start = _time(fields.get("start"), "start", where, name)
    if start is None:
        raise InputError(f"{name}: {where}: the cue has no start", "give every cue a start time, " + _TIME_HINT)
    text = " ".join(str(fields.get("text") or "").split())
    if not text:
        raise InputError(f"{name}: {where}: the cue has no text", "write the description to speak")
    return make_cue(
        name,
        where,
        id=str(fields.get("id") or "").strip() or f"d{index}",
        start=start,
        end=_time(fields.get("end"), "end", where, name),
        text=text,
        desc_type=str(fields.get("desc_type") or ""),
        draft=fields.get("draft") is True,
    )


def _time(value: object, what: str, where: str, name: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise InputError(f"{name}: {where}: {what} {str(value)!r} is not a time", _TIME_HINT) from None
