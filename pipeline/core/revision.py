"""Revisions of a Script under review: per-field hashes, an edit (what a reviewer changed, mapped to
segment ids), applying it, and the lines each edit makes stale.

A source edit makes its translations stale; a translation edit makes its clip stale; a timing edit
re-fits its neighbours.

Texts are compared whitespace-normalised (`" ".join(text.split())`): a difference in spaces or line breaks
only is no change. An edit equal to the current value is no change either and is not listed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, Field

from pipeline.core.errors import InputError
from pipeline.core.script import Script, Segment, Translation


class LineEdit(BaseModel):
    """One line as the reviewer left it, where it differs from the Script."""

    id: str
    text: str | None = None  # the new source text (transcript) or translation; None = unchanged
    start: float | None = None  # new times; None = unchanged
    end: float | None = None


class ScriptEdit(BaseModel):
    """An edited script file read against the Script it was exported from."""

    language: str  # the language of the file's text
    kind: Literal["transcript", "translation"]
    name: str  # the file's name (for messages and the revision history)
    sha256: str  # of the file's bytes
    format: str  # srt | vtt | dapt | json
    lines: list[LineEdit] = Field(default_factory=list)  # only the lines that changed


class Change(BaseModel):
    """One field of one line changed by an edit."""

    id: str
    field: Literal["text", "translation", "timing"]
    language: str | None = None
    before: str
    after: str


def normalise(text: str) -> str:
    """The text as compared: runs of whitespace as one space, none at the ends."""
    return " ".join(text.split())


def _hash(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def field_hashes(seg: Segment) -> dict[str, str]:
    """A short sha256 per field of one line: "text", "timing" (start, end), "speaker", and for each language
    present on the segment "tr:<lang>" (the translation's text) and "clip:<lang>" (the clip's URI)."""
    out = {
        "text": _hash(seg.text),
        "timing": _hash([round(seg.start, 3), round(seg.end, 3)]),
        "speaker": _hash(seg.speaker),
    }
    for lang, tr in sorted(seg.translations.items()):
        out[f"tr:{lang}"] = _hash(tr.text)
    for lang, clip in sorted(seg.clips.items()):
        out[f"clip:{lang}"] = _hash(clip.uri)
    return out


def script_hash(script: Script, language: str | None) -> str:
    """Hash of what a reviewer edits in one view: each line's id, times and text (the source text for
    `language` None, else that language's translation, "" where there is none). An export and re-import
    that changes nothing leaves it equal."""
    rows: list[list[object]] = []
    for seg in script.segments:
        if language is None:
            text = seg.text
        else:
            tr = seg.translations.get(language)
            text = tr.text if tr else ""
        rows.append([seg.id, round(seg.start, 3), round(seg.end, 3), text])
    return hashlib.sha256(json.dumps([language, rows], ensure_ascii=False).encode()).hexdigest()


def _span(start: float, end: float) -> str:
    return f"{start:.3f}-{end:.3f}"


def apply_edit(script: Script, edit: ScriptEdit) -> tuple[Script, list[Change]]:
    """A new revision ("revise:<language|source>") with `edit` applied, and the changes it made.

    A transcript text edit replaces the source text and drops the word timestamps (they no longer match);
    a translation edit replaces the translation (engine "edit", flag "edited", no full_text or budget),
    creating it where the line had none. Times (either kind) are checked: 0 <= start < end <= the
    programme's duration, not overlapping the previous or next line. An unknown line id or a bad time is
    an InputError naming the file and the line."""
    lang = None if edit.kind == "transcript" else edit.language
    new = script.revised(f"revise:{lang or 'source'}")
    index = {seg.id: i for i, seg in enumerate(new.segments)}
    changes: list[Change] = []
    timed: list[int] = []
    for line in edit.lines:
        if line.id not in index:
            raise InputError(
                f"{edit.name}: line {line.id!r} is not in the script",
                "keep the ids of the exported file; export the script again if it was re-transcribed",
            )
        i = index[line.id]
        seg = new.segments[i]
        if line.text is not None:
            change = _apply_text(edit.name, seg, line.text, lang)
            if change is not None:
                changes.append(change)
        start = seg.start if line.start is None else round(line.start, 3)
        end = seg.end if line.end is None else round(line.end, 3)
        if abs(start - seg.start) > 5e-4 or abs(end - seg.end) > 5e-4:
            _check_range(edit.name, seg.id, start, end, script.source.duration)
            changes.append(Change(id=seg.id, field="timing", before=_span(seg.start, seg.end), after=_span(start, end)))
            seg.start, seg.end = start, end
            timed.append(i)
    for i in timed:
        _check_neighbours(new, i, edit.name)
    return new, changes


def _apply_text(name: str, seg: Segment, text: str, lang: str | None) -> Change | None:
    after = normalise(text)
    if lang is None:
        if after == normalise(seg.text):
            return None
        if not after:
            raise InputError(
                f"{name}: line {seg.id}: the source text is empty",
                "a transcript line cannot be emptied: keep its words (only a translation may be left empty)",
            )
        before, seg.text, seg.words = seg.text, after, []
        return Change(id=seg.id, field="text", before=before, after=after)
    tr = seg.translations.get(lang)
    before = tr.text if tr else ""
    if tr is not None and after == normalise(before):
        return None
    if tr is None:
        if not after:
            return None  # no translation and none written
        seg.translations[lang] = Translation(text=after, engine="edit", flags=["edited"])
    else:
        flags = tr.flags if "edited" in tr.flags else [*tr.flags, "edited"]
        seg.translations[lang] = tr.model_copy(
            update={"text": after, "engine": "edit", "flags": flags, "full_text": None, "budget_chars": None}
        )
    return Change(id=seg.id, field="translation", language=lang, before=before, after=after)


def _check_range(name: str, seg_id: str, start: float, end: float, duration: float) -> None:
    if start < 0 or end <= start or end > duration + 5e-4:
        raise InputError(
            f"{name}: line {seg_id}: the times {_span(start, end)} are not within the programme "
            f"(0.000-{duration:.3f}) or end before they start",
            "give the line a start before its end, both within the programme",
        )


def _check_neighbours(script: Script, i: int, name: str) -> None:
    seg = script.segments[i]
    if i > 0 and seg.start < script.segments[i - 1].end - 5e-4:
        prev = script.segments[i - 1]
        raise InputError(
            f"{name}: line {seg.id}: the new times {_span(seg.start, seg.end)} overlap the previous line "
            f"{prev.id} ({_span(prev.start, prev.end)})",
            f"start {seg.id} at or after {prev.end:.3f}, or move {prev.id} first",
        )
    if i + 1 < len(script.segments) and seg.end > script.segments[i + 1].start + 5e-4:
        nxt = script.segments[i + 1]
        raise InputError(
            f"{name}: line {seg.id}: the new times {_span(seg.start, seg.end)} overlap the next line "
            f"{nxt.id} ({_span(nxt.start, nxt.end)})",
            f"end {seg.id} at or before {nxt.start:.3f}, or move {nxt.id} first",
        )


# the reason a line is stale, strongest first: a line stale for two reasons is reported with the first
_REASONS = ("source edited", "translation edited", "re-timed")


def stale_lines(script: Script, changes: list[Change], languages: list[str]) -> dict[str, dict[str, str]]:
    """The lines `changes` make stale, per language: {language: {segment id: why}}. Pure.

    - a source text change: that line in every language ("source edited");
    - a translation change: that line in its language ("translation edited");
    - a timing change: that line in every language ("re-timed"), and its previous and next lines in
      `script`'s order ("neighbour s0006 re-timed"), since the slots they may fill change.

    Every language of `languages` is a key (with an empty dict where nothing is stale), plus the language
    of any translation change. Where a line is stale for several reasons, its own change wins over a
    neighbour's, and "source edited" over "translation edited" over "re-timed"."""
    out: dict[str, dict[str, str]] = {lang: {} for lang in languages}
    order = {seg.id: i for i, seg in enumerate(script.segments)}

    def mark(lang: str, seg_id: str, why: str) -> None:
        lines = out.setdefault(lang, {})
        old = lines.get(seg_id)
        if old is None or _rank(why) < _rank(old):
            lines[seg_id] = why

    for ch in changes:
        if ch.field == "translation":
            if ch.language:
                mark(ch.language, ch.id, "translation edited")
            continue
        for lang in languages:
            if ch.field == "text":
                mark(lang, ch.id, "source edited")
                continue
            mark(lang, ch.id, "re-timed")
            i = order.get(ch.id)
            if i is None:
                continue
            for j in (i - 1, i + 1):
                if 0 <= j < len(script.segments):
                    mark(lang, script.segments[j].id, f"neighbour {ch.id} re-timed")
    return out


def _rank(why: str) -> int:
    return _REASONS.index(why) if why in _REASONS else len(_REASONS)
