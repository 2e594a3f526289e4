"""The dialogue map: where in the programme people speak, and the gaps between, where a description may go.

Speech is the union of two witnesses, each widened by a small guard margin on both sides: the voice activity
regions of the programme audio (Silero VAD) and the word spans of its transcript (ASR word timestamps; a
segment without words gives its own span). Either witness alone misses things (VAD drops quiet or overlapped
speech, ASR drops words it could not read), so a description must avoid both. Spans closer than `merge_s` are
one span: a pause of a breath is not a gap anyone can describe in. Music and effects without speech are gaps.

Everything but `programme_dialogue` (which runs the VAD model) is a pure function on lists of (start, end)
seconds; spans are ordered and disjoint on the way out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field, model_validator

if TYPE_CHECKING:
    from pipeline.core.script import Script

Span = tuple[float, float]
GUARD_S = 0.25  # kept clear on each side of speech
MERGE_S = 0.4  # speech closer than this is one span (a breath is not a gap)
MIN_GAP_S = 0.6  # a shorter silence is no gap for a description
DIGITS = 6  # spans are rounded to the microsecond, so guards do not leave float noise in reports


def _merge(spans: list[Span], merge_s: float) -> list[Span]:
    """Ordered, disjoint spans; spans separated by less than `merge_s` (or touching) become one."""
    out: list[list[float]] = []
    for s, e in sorted(spans):
        if e <= s:
            continue
        if out and (s <= out[-1][1] or s - out[-1][1] < merge_s):
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(a, b) for a, b in out]


def dialogue_spans(
    vad: list[Span],
    words: list[Span],
    *,
    guard_s: float = 0.2,
    merge_s: float = 0.3,
    programme_end: float,
) -> list[Span]:
    """Where people speak: VAD regions and word spans, each widened by `guard_s` on both sides and clipped
    to [0, programme_end], then merged where closer than `merge_s`. Ordered and disjoint."""
    if guard_s < 0 or merge_s < 0:
        raise ValueError(f"guard_s ({guard_s}) and merge_s ({merge_s}) must not be negative")
    widened: list[Span] = []
    for s, e in [*vad, *words]:
        if e < s:
            s, e = e, s
        lo, hi = round(max(0.0, s - guard_s), DIGITS), round(min(programme_end, e + guard_s), DIGITS)
        if hi > lo:
            widened.append((lo, hi))
    return _merge(widened, merge_s)


def gaps(dialogue: list[Span], programme_end: float, min_gap_s: float = 0.5) -> list[Span]:
    """The complement of `dialogue` within [0, programme_end], without gaps shorter than `min_gap_s`."""
    out: list[Span] = []
    pos = 0.0
    for s, e in _merge(dialogue, 0.0):
        s, e = max(0.0, s), min(programme_end, e)
        if s - pos >= min_gap_s and s > pos:
            out.append((pos, s))
        pos = max(pos, e)
    if programme_end - pos >= min_gap_s and programme_end > pos:
        out.append((pos, programme_end))
    return out


def overlap_s(spans_a: list[Span], spans_b: list[Span]) -> float:
    """Total seconds in which both span lists cover the programme (each list's own overlaps counted once)."""
    a, b = _merge(spans_a, 0.0), _merge(spans_b, 0.0)
    total, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            total += hi - lo
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def _total(spans: list[Span]) -> float:
    return sum(e - s for s, e in spans)


def words_of_script(script: Script) -> list[Span]:
    """The spoken word spans of a transcript: each segment's words, or the segment itself when it has none."""
    out: list[Span] = []
    for seg in script.segments:
        if seg.words:
            out.extend((w.start, w.end) for w in seg.words)
        else:
            out.append((seg.start, seg.end))
    return out


def programme_dialogue(
    audio_16k: np.ndarray, script: Script, programme_end: float, guard_s: float = 0.2, merge_s: float = 0.3
) -> list[Span]:
    """The dialogue spans of a programme: Silero VAD on its 16 kHz mono audio joined with the transcript."""
    from models.vad import speech_regions  # loads the model on first use, not at import

    return dialogue_spans(
        speech_regions(audio_16k), words_of_script(script), guard_s=guard_s, merge_s=merge_s,
        programme_end=programme_end,
    )


class DialogueMap(BaseModel):
    """The dialogue map of one programme, as the report and the placement stage read it."""

    programme_end: float = Field(ge=0)
    guard_s: float = Field(ge=0)
    merge_s: float = Field(default=0.3, ge=0)
    min_gap_s: float = Field(default=0.5, ge=0)
    spans: list[Span]  # where people speak, guards included
    gaps: list[Span]  # where a description may go
    speech_s: float = Field(ge=0)
    gap_s: float = Field(ge=0)

    @model_validator(mode="after")
    def _inside(self) -> DialogueMap:
        for s, e in [*self.spans, *self.gaps]:
            if not 0 <= s < e <= self.programme_end + 1e-6:
                raise ValueError(f"span ({s}, {e}) lies outside [0, {self.programme_end}] or is empty")
        return self

    @classmethod
    def build(
        cls,
        vad: list[Span],
        words: list[Span],
        programme_end: float,
        *,
        guard_s: float = 0.2,
        merge_s: float = 0.3,
        min_gap_s: float = 0.5,
    ) -> DialogueMap:
        spans = dialogue_spans(vad, words, guard_s=guard_s, merge_s=merge_s, programme_end=programme_end)
        free = gaps(spans, programme_end, min_gap_s)
        return cls(
            programme_end=programme_end, guard_s=guard_s, merge_s=merge_s, min_gap_s=min_gap_s,
            spans=spans, gaps=free, speech_s=round(_total(spans), 6), gap_s=round(_total(free), 6),
        )
