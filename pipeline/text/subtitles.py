"""Subtitle cues from a Script, written as SRT and WebVTT with pysubs2.

Cues keep within common broadcast limits: at most 2 lines of 42 characters and 7 s. Source cues take
their times from word timestamps; translated cues share their segment's span in proportion to length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pysubs2

from pipeline.core.script import Script, Segment

MAX_LINE = 42
MAX_LINES = 2
MAX_CUE_S = 7.0
MIN_CUE_S = 5 / 6


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str  # may hold one "\n"
    # the span of the speech the cue belongs to (its segment): timing may reach LEAD_S before, LAG_S after
    span: tuple[float, float] | None = field(default=None, compare=False)


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


# words after which a line should not break (articles, prepositions, conjunctions, possessives...)
_WEAK_END = {
    "a",
    "an",
    "the",
    "of",
    "to",
    "in",
    "on",
    "at",
    "for",
    "with",
    "by",
    "from",
    "and",
    "or",
    "but",
    "that",
    "my",
    "your",
    "his",
    "her",
    "its",
    "our",
    "their",
    "this",
    "these",
    "is",
    "are",
    "was",
    "be",
    "not",
    "el",
    "la",
    "los",
    "las",
    "un",
    "una",
    "unos",
    "unas",
    "de",
    "del",
    "al",
    "en",
    "con",
    "por",
    "para",
    "y",
    "o",
    "que",
    "su",
    "sus",
    "mi",
    "lo",
    "es",
    "no",
    "le",
    "les",
    "du",
    "des",
    "et",
    "ou",
    "à",
    "au",
    "aux",
    "ce",
    "cette",
    "ma",
    "mon",
    "sa",
    "son",
    "ses",
    "els",
    "amb",
    "per",
    "i",
    "der",
    "die",
    "das",
    "und",
    "mit",
    "il",
    "gli",
    "di",
    "da",
    "e",
}
# words before which a break reads naturally (a new clause or phrase starts)
_STRONG_START = {
    "and",
    "but",
    "or",
    "because",
    "which",
    "who",
    "when",
    "where",
    "while",
    "so",
    "y",
    "pero",
    "porque",
    "que",
    "cuando",
    "donde",
    "et",
    "mais",
    "parce",
    "qui",
    "quand",
    "où",
    "i",
    "però",
}


def _break_cost(a: str, b: str) -> float:
    """Lower is better: balanced lines, broken after punctuation or before a new clause, never after a
    word that binds to the next (an article, a preposition)."""
    cost = abs(len(a) - len(b)) / 4
    last = a.split()[-1]
    first = b.split()[0].lower().strip(",.;:")
    if last.endswith((",", ".", ";", ":", "?", "!")):
        cost -= 12
    elif first in _STRONG_START:
        cost -= 6
    if last.lower().strip(",.;:") in _WEAK_END:
        cost += 12
    return cost


def _balanced(text: str, width: int = MAX_LINE) -> str:
    """Break a cue of up to 2 lines at the best phrase boundary (both lines within `width`)."""
    if len(text) <= width:
        return text
    words = text.split()
    best, best_cost = text, float("inf")
    for i in range(1, len(words)):
        a, b = " ".join(words[:i]), " ".join(words[i:])
        if len(a) <= width and len(b) <= width:
            cost = _break_cost(a, b)
            if cost < best_cost:
                best, best_cost = f"{a}\n{b}", cost
    return best


def _chunks(
    words: list[str],
    times: list[tuple[float, float]] | None = None,
    width: int = MAX_LINE,
    lines: int = MAX_LINES,
    max_s: float = MAX_CUE_S,
) -> list[list[int]]:
    """Group word indices into cues of at most `lines` lines of `width` characters (greedy wrapping) and,
    given word times, at most `max_s` seconds; a cue closes early after a sentence end when it is at least
    half full."""
    groups: list[list[int]] = []
    cur: list[int] = []
    line_len, n_lines = 0, 1
    for i, w in enumerate(words):
        if cur and times is not None and times[i][1] - times[cur[0]][0] > max_s:
            groups.append(cur)
            cur, line_len, n_lines = [], 0, 1
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
    if times is not None:
        _rebalance_tail(groups, words, times, width, lines, max_s)
    return groups


def _fits(words: list[str], width: int, lines: int) -> bool:
    return len(wrap(" ".join(words), width)) <= lines


def _rebalance_tail(
    groups: list[list[int]],
    words: list[str],
    times: list[tuple[float, float]],
    width: int,
    lines: int,
    max_s: float,
    min_s: float = MIN_CUE_S,
) -> None:
    """Move words from the next-to-last cue into a last cue too short to read, while both still fit."""
    while len(groups) >= 2 and len(groups[-2]) > 1:
        last, prev = groups[-1], groups[-2]
        if times[last[-1]][1] - times[last[0]][0] >= min_s:
            return
        moved = [prev[-1], *last]
        if not _fits([words[i] for i in moved], width, lines) or times[moved[-1]][1] - times[moved[0]][0] > max_s:
            return
        groups[-2], groups[-1] = prev[:-1], moved


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
    for g in _chunks(words, times):
        start = times[g[0]][0]
        end = max(times[g[-1]][1], min(start + 0.1, seg.end))
        cues.append(Cue(start, end, _balanced(" ".join(words[i] for i in g)), (seg.start, seg.end)))
    return cues


@dataclass(frozen=True)
class Profile:
    """Subtitle rules: reading speed and cue timing."""

    name: str = "broadcast"
    max_cps: float = 17.0
    min_s: float = MIN_CUE_S
    max_s: float = MAX_CUE_S
    gap_s: float = 0.08  # 2 frames at 25 fps


PROFILES = {"broadcast": Profile(), "children": Profile(name="children", max_cps=13.0)}


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        from pipeline.core.errors import ConfigError

        raise ConfigError(f"unknown subtitle profile {name!r}", f"use one of {', '.join(PROFILES)}") from None


def cps(cue: Cue) -> float:
    chars = len(cue.text.replace("\n", " "))
    return chars / max(cue.end - cue.start, 1e-6)


# how far a cue may start before / end after the speech it belongs to (Whisper's word times are off by a
# tenth of a second or two, and a dub's cues must stay within half a second of the speech)
LEAD_S = 0.0
LAG_S = 0.35


def script_cues(script: Script, language: str | None, rules: Profile = PROFILES["broadcast"]) -> list[Cue]:
    """All cues of one language, timed to the rules: at least `min_s` and long enough for `max_cps`, never
    longer than `max_s`, `gap_s` apart, never more than LEAD_S before or LAG_S after the speech they belong
    to, nor past the end of the programme. A cue needing more time first runs on after its speech, then
    starts a little earlier. A cue whose speech is faster than the rules allow keeps its words (a dub's
    subtitles are verbatim); `violations()` reports it."""
    cues: list[Cue] = []
    for seg in script.segments:
        cues.extend(segment_cues(seg, language))
    cues.sort(key=lambda c: c.start)
    end_of_programme = script.source.duration
    out: list[Cue] = []
    for i, c in enumerate(cues):
        span = c.span or (c.start, c.end)
        nxt = cues[i + 1].start if i + 1 < len(cues) else None
        floor = out[-1].end + rules.gap_s if out else 0.0  # never into the previous cue
        hi = min(span[1] + LAG_S, end_of_programme)
        lo = max(span[0] - LEAD_S, floor)
        if nxt is not None:
            hi = min(hi, nxt - rules.gap_s)
        chars = len(c.text.replace("\n", " "))
        want = min(max(c.end - c.start, rules.min_s, chars / rules.max_cps), max(rules.max_s, c.end - c.start))
        start = max(c.start, floor)
        end = max(c.end, min(start + want, hi))
        if end - start < want:
            start = max(min(lo, start), end - want)
        end = min(end, end_of_programme)
        if nxt is not None:
            end = min(end, nxt - rules.gap_s)
        # cues that start closer than the rules allow: this one keeps 0.1 s, the next one starts after it
        end = max(end, start + 0.1)
        out.append(Cue(round(start, 3), round(end, 3), c.text))
    return out


def violations(cues: list[Cue], rules: Profile = PROFILES["broadcast"]) -> dict[str, int]:
    """How many cues break each rule (for the job report)."""
    v = {"too_fast": 0, "too_short": 0, "too_long": 0, "too_close": 0, "line_too_long": 0, "too_many_lines": 0}
    for i, c in enumerate(cues):
        lines = c.text.split("\n")
        v["too_fast"] += cps(c) > rules.max_cps + 1e-6
        v["too_short"] += c.end - c.start < rules.min_s - 1e-3
        v["too_long"] += c.end - c.start > rules.max_s + 1e-3
        v["line_too_long"] += any(len(ln) > MAX_LINE for ln in lines)
        v["too_many_lines"] += len(lines) > MAX_LINES
        if i + 1 < len(cues):
            v["too_close"] += cues[i + 1].start - c.end < rules.gap_s - 1e-3
    return v


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
