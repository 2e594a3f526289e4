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


def _chunks(words: list[str], width: int = MAX_LINE, lines: int = MAX_LINES) -> list[list[int]]:
    """Group word indices into cues of at most `lines` lines of `width` characters (greedy wrapping),
    closing a cue early after punctuation when that keeps it at least half full."""
    groups: list[list[int]] = []
    cur: list[int] = []
    line_len, n_lines = 0, 1
    for i, w in enumerate(words):
        if cur and line_len + 1 + len(w) > width:
            if n_lines == lines:
                groups.append(cur)
                cur, line_len, n_lines = [], 0, 1
            else:
                n_lines += 1
                line_len = 0
        line_len += len(w) + (1 if line_len else 0)
        cur.append(i)
        full = n_lines == lines and line_len > width // 2
        if full and w.endswith((".", "?", "!", ";")) and i + 1 < len(words):
            groups.append(cur)
            cur, line_len, n_lines = [], 0, 1
    if cur:
        groups.append(cur)
    return groups


def _split_long(group: list[int], times: list[tuple[float, float]], max_s: float = MAX_CUE_S) -> list[list[int]]:
    """Split a group of words whose span exceeds `max_s` at word boundaries."""
    out: list[list[int]] = []
    cur: list[int] = []
    for i in group:
        if cur and times[i][1] - times[cur[0]][0] > max_s:
            out.append(cur)
            cur = []
        cur.append(i)
    if cur:
        out.append(cur)
    return out


def segment_cues(seg: Segment, language: str | None) -> list[Cue]:
    """Cues of one segment in the source language (language=None) or a translation.

    Source cues take word timestamps; translated text shares its segment's span in proportion to
    character counts. A cue holds at most 2 lines of 42 characters and lasts at most 7 s."""
    if language is None:
        words = [w.text for w in seg.words] if seg.words else seg.text.split()
        timed = bool(seg.words)
    else:
        tr = seg.translations.get(language)
        if tr is None or not tr.text.strip():
            return []
        words = tr.text.split()
        timed = False
    if not words:
        return []
    if timed:
        times = [(max(seg.start, w.start), min(seg.end, max(w.end, w.start))) for w in seg.words]
    else:
        span = seg.end - seg.start
        total = sum(len(w) + 1 for w in words)
        times, pos = [], 0
        for w in words:
            times.append((seg.start + span * pos / total, seg.start + span * (pos + len(w) + 1) / total))
            pos += len(w) + 1
    cues: list[Cue] = []
    for g0 in _chunks(words):
        for g in _split_long(g0, times):
            start = times[g[0]][0]
            end = max(times[g[-1]][1], min(start + 0.1, seg.end))
            cues.append(Cue(start, end, _balanced(" ".join(words[i] for i in g))))
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
            # keep 2 frames before the next cue; when cues start closer than that, end at the next start
            end = max(min(end, nxt - 0.08), min(c.start + 0.1, nxt))
        out.append(Cue(round(c.start, 3), round(end, 3), c.text))
    return out


def write_subtitles(cues: list[Cue], path: Path) -> Path:
    """Write SRT or WebVTT, by the file's suffix."""
    subs = pysubs2.SSAFile()
    for c in cues:
        subs.append(
            pysubs2.SSAEvent(start=round(c.start * 1000), end=round(c.end * 1000), text=c.text.replace("\n", r"\N"))
        )
    fmt = {".srt": "srt", ".vtt": "vtt"}[path.suffix.lower()]
    subs.save(str(path), format_=fmt)
    return path


def read_subtitles(path: Path) -> list[Cue]:
    subs = pysubs2.load(str(path))
    return [Cue(e.start / 1000, e.end / 1000, e.plaintext) for e in subs]
