"""Subtitle cues from a Script, written as SRT and WebVTT with pysubs2.

Cues keep within common broadcast limits: at most 2 lines of 42 characters and 7 s. Source cues take
their times from word timestamps; translated cues share their segment's span in proportion to length.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pysubs2

from pipeline.script import Script, Segment

MAX_LINE = 42
MAX_LINES = 2
MAX_CUE_S = 7.0
MIN_CUE_S = 5 / 6


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str  # may hold one "\n"


def wrap(text: str, width: int = MAX_LINE) -> list[str]:
    lines: list[str] = []
    cur = ""
    for word in text.split():
        if cur and len(cur) + 1 + len(word) > width:
            lines.append(cur)
            cur = word
        else:
            cur = f"{cur} {word}" if cur else word
    if cur:
        lines.append(cur)
    return lines


def _balanced(text: str) -> str:
    """Break a cue of up to 2 lines at the space nearest the middle (both halves within MAX_LINE)."""
    if len(text) <= MAX_LINE:
        return text
    words = text.split()
    best, best_cost = text, 10**9
    for i in range(1, len(words)):
        a, b = " ".join(words[:i]), " ".join(words[i:])
        if len(a) <= MAX_LINE and len(b) <= MAX_LINE:
            cost = abs(len(a) - len(b)) - (6 if a.endswith((",", ".", ";", ":", "?", "!")) else 0)
            if cost < best_cost:
                best, best_cost = f"{a}\n{b}", cost
    return best


def _chunks(words: list[str], limit: int = MAX_LINE * MAX_LINES) -> list[list[int]]:
    """Group word indices into chunks whose text fits `limit`, preferring to break after punctuation."""
    groups: list[list[int]] = []
    cur: list[int] = []
    length = 0
    for i, w in enumerate(words):
        add = len(w) + (1 if cur else 0)
        if cur and length + add > limit:
            # move back to the last punctuation in the second half of the chunk, if any
            cut = len(cur)
            for j in range(len(cur) - 1, len(cur) // 2, -1):
                if words[cur[j]].endswith((",", ".", ";", ":", "?", "!")):
                    cut = j + 1
                    break
            groups.append(cur[:cut])
            cur = cur[cut:]
            length = len(" ".join(words[k] for k in cur))
            add = len(w) + (1 if cur else 0)
        cur.append(i)
        length += add
    if cur:
        groups.append(cur)
    return groups


def segment_cues(seg: Segment, language: str | None) -> list[Cue]:
    """Cues of one segment in the source language (language=None) or a translation."""
    if language is None:
        text = seg.text
        words = [w.text for w in seg.words] if seg.words else text.split()
        timed = bool(seg.words)
    else:
        tr = seg.translations.get(language)
        if tr is None or not tr.text.strip():
            return []
        words = tr.text.split()
        timed = False
    if not words:
        return []
    groups = _chunks(words)
    cues: list[Cue] = []
    total_chars = sum(len(w) + 1 for w in words)
    pos = 0
    for g in groups:
        text = " ".join(words[i] for i in g)
        if timed:
            start = max(seg.start, seg.words[g[0]].start)
            end = min(seg.end, max(seg.words[g[-1]].end, start + 0.1))
        else:
            span = seg.end - seg.start
            chars = sum(len(words[i]) + 1 for i in g)
            start = seg.start + span * pos / total_chars
            end = seg.start + span * (pos + chars) / total_chars
            pos += chars
        cues.append(Cue(start, end, _balanced(text)))
    # split cues longer than MAX_CUE_S evenly is not possible without cutting words; such cues are rare
    # for ASR segments (Whisper keeps segments under ~30 s and we group by characters first).
    return cues


def script_cues(script: Script, language: str | None) -> list[Cue]:
    cues: list[Cue] = []
    for seg in script.segments:
        cues.extend(segment_cues(seg, language))
    cues.sort(key=lambda c: c.start)
    # keep a 2-frame gap between cues and a minimum duration where the next cue allows
    out: list[Cue] = []
    for i, c in enumerate(cues):
        nxt = cues[i + 1].start if i + 1 < len(cues) else None
        end = max(c.end, c.start + MIN_CUE_S)
        if nxt is not None:
            end = min(end, nxt - 0.08)
        end = max(end, c.start + 0.1)
        out.append(Cue(round(c.start, 3), round(end, 3), c.text))
    return out


def write_subtitles(cues: list[Cue], path: Path) -> Path:
    """Write SRT or WebVTT, by the file's suffix."""
    subs = pysubs2.SSAFile()
    for c in cues:
        subs.append(pysubs2.SSAEvent(start=int(c.start * 1000), end=int(c.end * 1000), text=c.text.replace("\n", r"\N")))
    fmt = {".srt": "srt", ".vtt": "vtt"}[path.suffix.lower()]
    subs.save(str(path), format_=fmt)
    return path


def read_subtitles(path: Path) -> list[Cue]:
    subs = pysubs2.load(str(path))
    return [Cue(e.start / 1000, e.end / 1000, e.plaintext) for e in subs]
