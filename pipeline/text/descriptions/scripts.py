"""Reading a description script, whatever its format: WebVTT, W3C DAPT (TTML2), CSV or JSON.

`read_script` finds the format from the file's extension, or from its content where the extension says
nothing (a first line `WEBVTT`, an XML root, a JSON document, a CSV header), and hands the file to that
format's reader (`webvtt_io`, `dapt`, `tabular`). Every reader builds its cues with `make_cue` and the
script with `make_script` below, so a bad value becomes an `InputError` naming the file and the line or
element rather than a pydantic traceback. `check_against_programme` then holds the cues against the
programme they describe.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.core.inputs import resolve_input
from pipeline.text.descriptions.cues import Cue, DescriptionScript

FORMATS_HINT = "give a WebVTT (.vtt), DAPT/TTML (.xml/.ttml), CSV or JSON file"
BY_EXTENSION = {
    ".vtt": "webvtt",
    ".webvtt": "webvtt",
    ".xml": "dapt",
    ".ttml": "dapt",
    ".dapt": "dapt",
    ".csv": "csv",
    ".json": "json",
}
_CSV_HEADER_FIELDS = {"start", "begin", "time"}


def read_script(path: Path, name: str | None = None, language: str = "") -> DescriptionScript:
    """The description script in `path`. `name` is how messages call the file (default: its name);
    `language` is the script's language where the file does not say one (an ISO 639-1 code or "")."""
    label = name or path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"{label}: cannot read the description script ({exc.strerror or exc})",
            "check the path and that the file is readable",
        ) from exc
    fmt = BY_EXTENSION.get(path.suffix.lower()) or sniff_format(data)
    if fmt is None:
        raise InputError(f"{label}: unknown description script format", FORMATS_HINT)
    return _reader(fmt)(data, label, language)


def sniff_format(data: bytes) -> str | None:
    """The format the content looks like, for a file whose extension does not say ("webvtt", "dapt",
    "json", "csv"), or None."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = ""
    head = text.lstrip()
    if head.startswith("WEBVTT"):
        return "webvtt"
    if data.lstrip().startswith(b"<") or head.startswith("<"):
        return "dapt"
    if head[:1] in ("[", "{"):
        try:
            json.loads(text)
        except ValueError:
            return None
        return "json"
    first = head.splitlines()[0] if head else ""
    try:
        fields = next(csv.reader([first]))
    except (csv.Error, StopIteration):
        return None
    if {f.strip().lower() for f in fields} & _CSV_HEADER_FIELDS:
        return "csv"
    return None


def _reader(fmt: str) -> Callable[[bytes, str, str], DescriptionScript]:
    # imported here: the readers import the helpers of this module
    from pipeline.text.descriptions import dapt, tabular, webvtt_io

    readers: dict[str, Callable[[bytes, str, str], DescriptionScript]] = {
        "webvtt": webvtt_io.read_webvtt,
        "dapt": dapt.read_dapt,
        "csv": tabular.read_csv,
        "json": tabular.read_json,
    }
    return readers[fmt]


def decode_text(data: bytes, name: str) -> str:
    """The file's text (UTF-8, a byte-order mark allowed), or an InputError saying it is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{name}: line {line} is not UTF-8 text (byte 0x{data[exc.start]:02x})",
            "save the script as UTF-8",
        ) from exc


def make_cue(name: str, where: str, **fields: Any) -> Cue:
    """A Cue from a reader's fields; a value the model refuses (an end before the start, an empty text,
    a negative time) becomes an InputError naming the file and `where`."""
    try:
        return Cue(where=where, **fields)
    except ValidationError as exc:
        raise InputError(f"{name}: {where}: {_first_error(exc)}", _cue_hint(exc)) from exc


def make_script(name: str, fmt: str, cues: list[Cue], language: str = "", title: str = "") -> DescriptionScript:
    """The script of a reader's cues; no cues, or an id used twice, is an InputError naming the file."""
    if not cues:
        raise InputError(
            f"{name}: the description script has no cues",
            "write at least one description with a start time",
        )
    try:
        return DescriptionScript(format=fmt, language=language, title=title, cues=cues)
    except ValidationError as exc:
        raise InputError(f"{name}: {_first_error(exc)}", "give every cue its own id") from exc


def primary_language(code: str | None) -> str:
    """The ISO 639-1 part of a language tag as dubline uses it: "en-GB" -> "en", "und"/None -> ""."""
    base = (code or "").strip().split("-")[0].split("_")[0].lower()
    return "" if base in ("und", "zxx", "mul") else base


def locate_script(settings: Settings, where: str) -> Path:
    """A local path for the script `where` names (a path, file:// or s3:// URI); InputError when it is not there."""
    scratch = settings.data_dir / "work" / "inputs"
    scratch.mkdir(parents=True, exist_ok=True)
    path = resolve_input(where, scratch, settings)
    if not path.is_file():
        raise InputError(
            f"description script {where} does not exist", "give the path of a WebVTT, DAPT, CSV or JSON script"
        )
    return path


def read_script_at(
    settings: Settings, where: str, duration: float | None = None, language: str = ""
) -> tuple[DescriptionScript, Path]:
    """The script `where` names, read; given the programme's `duration`, checked against it (a cue starting at
    or past the end refused, naming its line; an end past it clipped). With the local path it was read from."""
    path = locate_script(settings, where)
    script = read_script(path, name=path.name, language=language)
    if duration is not None:
        check_against_programme(script, duration, path.name)
        script = clip_to_programme(script, duration)
    return script, path


def check_against_programme(script: DescriptionScript, duration: float, name: str) -> None:
    """Raise an InputError naming the cue's place in `name` when a cue starts at or after the programme's
    end (`duration` seconds). A cue whose end runs past the end is not an error: `clip_to_programme`
    gives the script with such ends cut to the programme's end (placement may also clip)."""
    for cue in script.cues:
        if cue.start >= duration:
            where = f" ({cue.where})" if cue.where else ""
            raise InputError(
                f"{name}: cue {cue.id}{where} starts at {cue.start:.3f} s, at or after the end of the "
                f"programme ({duration:.3f} s)",
                "check the cue's time, or that the script belongs to this video",
            )


def clip_to_programme(script: DescriptionScript, duration: float) -> DescriptionScript:
    """The script with every cue end past `duration` cut to `duration` (cues starting at or after the end
    are left for `check_against_programme` to refuse)."""
    cues = [
        c.model_copy(update={"end": duration}) if c.end is not None and c.end > duration and c.start < duration else c
        for c in script.cues
    ]
    return script.model_copy(update={"cues": cues})


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg


def _cue_hint(exc: ValidationError) -> str:
    loc = exc.errors()[0].get("loc", ())
    if "text" in loc:
        return "give every cue the text to speak"
    if "id" in loc:
        return "give the cue a non-empty id"
    return "give a start at or after 0 and an end after the start"
