"""Timing math for the fit stage: pure functions, no I/O.

Every dubbed line starts at its source segment's start, always. A line may use the silence up to the
next line's start (less a minimum gap); if it is still too long it is spoken faster (the engine's own
rate, within a bound) and then time-stretched with pitch preserved (within a bound). What still does
not fit is reported as an overrun; nothing ever moves a later line, so the dub cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Slot:
    start: float  # = the source segment's start
    end: float  # latest end: next segment's start minus the gap, or the programme's end


def slots(spans: list[tuple[float, float]], programme_end: float, min_gap: float) -> list[Slot]:
    """The slot of each line, given the source speech spans in order of start."""
    out: list[Slot] = []
    for i, (start, end) in enumerate(spans):
        if i + 1 < len(spans):
            hard = min(spans[i + 1][0], programme_end)  # never into the next line
            soft = min(spans[i + 1][0] - min_gap, programme_end)  # keep the gap where there is room
        else:
            hard = soft = programme_end
        limit = max(soft, min(end, hard), min(start + 0.05, hard))
        out.append(Slot(start=start, end=max(start, min(limit, hard))))
    return out


@dataclass(frozen=True)
class FitPlan:
    rate: float  # native engine rate to ask for (1.0 = as synthesized)
    steps: tuple[str, ...]


def plan_rate(natural: float, available: float, max_rate: float) -> FitPlan:
    """First rung: how much faster to ask the engine to speak."""
    if natural <= available:
        return FitPlan(1.0, ("fits",))
    return FitPlan(min(natural / available, max_rate), ("rate",))


def plan_stretch(duration: float, available: float, stretch_max: float) -> float:
    """Second rung: the tempo factor (>= 1) for a clip of `duration` seconds, within the bound."""
    if duration <= available:
        return 1.0
    return min(duration / available, stretch_max)


def overrun(duration: float, available: float) -> float:
    return max(0.0, duration - available)


def speech_envelope(
    spans: list[tuple[float, float]], n: int, rate: int, low_db: float, attack_s: float, release_s: float
) -> list[tuple[int, int, float, float]]:
    """Ducking breakpoints: (sample from, sample to, gain from, gain to) covering [0, n).

    The gain ramps down over `attack_s` before each merged speech span and back up over `release_s`
    after it; spans closer than attack + release are merged so the bed does not pump between words.
    """
    low = 10 ** (low_db / 20)
    merged: list[list[float]] = []
    for s, e in sorted(spans):
        if merged and s - merged[-1][1] < attack_s + release_s:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    points: list[tuple[int, int, float, float]] = []
    pos = 0
    for s, e in merged:
        a0 = max(pos, int((s - attack_s) * rate))
        a1 = max(a0, int(s * rate))
        r0 = max(a1, int(e * rate))
        r1 = min(n, max(r0, int((e + release_s) * rate)))
        a0, a1, r0 = min(a0, n), min(a1, n), min(r0, n)
        if a0 > pos:
            points.append((pos, a0, 1.0, 1.0))
        points.append((a0, a1, 1.0, low))
        points.append((a1, r0, low, low))
        points.append((r0, r1, low, 1.0))
        pos = r1
    if pos < n:
        points.append((pos, n, 1.0, 1.0))
    return [p for p in points if p[1] > p[0]]
