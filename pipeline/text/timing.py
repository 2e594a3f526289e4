"""Timing math: pure functions, no I/O. The fit stage and the synthesis ladder call these.

Placement: every dubbed line starts at its source segment's absolute start, always; nothing moves a
later line, so the drift at the end of the programme is zero by construction.

The fitting ladder, per line, each rung bounded and recorded:
  a. use the silence up to the next line's start, keeping a minimum gap;
  b. speak faster with the engine's own rate control (synthesis, within `max_rate`);
  c. pitch-preserving time-stretch within [stretch_min, stretch_max];
  d. a shorter translation within a character budget (synthesis asks the translator);
  e. what still does not fit is an overrun, marked for review; speech is never cut.
Neighbour smoothing then evens the speed-up of consecutive lines of one speaker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EPS = 1e-6


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
    """Rung b: how much faster to ask the engine to speak."""
    if natural <= available:
        return FitPlan(1.0, ("fits",))
    return FitPlan(min(natural / available, max_rate), ("rate",))


def plan_stretch(duration: float, available: float, stretch_max: float) -> float:
    """Rung c alone: the tempo factor (>= 1) for a clip of `duration` seconds, within the bound."""
    if duration <= available:
        return 1.0
    return min(duration / available, stretch_max)


def char_budget(text: str, duration: float, available: float, stretch_max: float) -> int | None:
    """Rung d: the characters a rendering may have to fit `available` at the largest stretch, or None
    when the line fits without shortening."""
    if duration <= available * stretch_max + EPS or duration <= 0:
        return None
    return max(1, int(len(text) * available * stretch_max / duration))


def overrun(duration: float, available: float) -> float:
    return max(0.0, duration - available)


@dataclass(frozen=True)
class Line:
    """What the planner knows of one dubbed line."""

    start: float  # source segment start = placement
    end: float  # source segment end
    slot_end: float
    speaker: str
    natural: float  # clip duration as first synthesized, at rate 1.0 and the first translation
    duration: float  # duration of the clip to place (after native rate and shortening)
    steps: tuple[str, ...] = ()

    @property
    def available(self) -> float:
        return max(self.slot_end - self.start, 0.01)


@dataclass(frozen=True)
class Placement:
    start: float
    stretch: float  # tempo applied to `duration` (> 1 = faster)
    final: float  # seconds after stretching
    factor: float  # overall speed-up against the natural clip: natural / final
    overrun: float
    steps: tuple[str, ...] = field(default_factory=tuple)


def plan_fit(lines: list[Line], stretch_min: float = 0.85, stretch_max: float = 1.25,
             max_jump: float = 0.15) -> list[Placement]:
    """Stretch factors for every line: the least that fits its slot, within bounds, then raised so that
    consecutive lines of one speaker differ by at most `max_jump` in overall speed-up (only raised: a
    raise shortens a line, so it can never make one overrun). Lines are never moved."""
    need = [min(max(ln.duration / ln.available, 1.0), stretch_max) if ln.duration > ln.available else 1.0
            for ln in lines]
    need = [max(stretch_min, n) for n in need]
    base = [ln.natural / ln.duration if ln.duration > 0 else 1.0 for ln in lines]  # speed-up already applied
    factors = [b * s for b, s in zip(base, need, strict=True)]
    # raise factors until no neighbour of the same speaker is more than max_jump faster (bounded passes)
    for _ in range(len(lines) + 1):
        changed = False
        for i in range(len(lines)):
            for j in (i - 1, i + 1):
                if 0 <= j < len(lines) and lines[j].speaker == lines[i].speaker:
                    want = factors[j] - max_jump
                    if factors[i] < want - EPS:
                        s = min(want / base[i], stretch_max)
                        if s > need[i] + EPS:
                            need[i], factors[i] = s, base[i] * s
                            changed = True
        if not changed:
            break
    out: list[Placement] = []
    for ln, s, b in zip(lines, need, base, strict=True):
        final = ln.duration / s
        steps = list(ln.steps)
        if s > 1.0 + EPS and "stretch" not in steps:
            steps.append("stretch" if ln.duration > ln.available + EPS else "smooth")
        over = overrun(final, ln.available)
        if over > 0.01 and "overrun" not in steps:
            steps.append("overrun")
        out.append(Placement(start=ln.start, stretch=s, final=final, factor=b * s,
                             overrun=over, steps=tuple(steps)))
    return out


def union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for s, e in sorted(spans):
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(a, b) for a, b in merged]


def _covered(spans: list[tuple[float, float]], lo: float, hi: float) -> float:
    return sum(max(0.0, min(e, hi) - max(s, lo)) for s, e in spans)


def isochrony(source: list[tuple[float, float]], dub: list[tuple[float, float]], duration: float) -> float:
    """Share of the programme in which source and dub agree on speech versus silence (1.0 = identical)."""
    if duration <= 0:
        return 1.0
    a, b = union(source), union(dub)
    both = sum(_covered(b, s, e) for s, e in a)
    speech_a, speech_b = _covered(a, 0, duration), _covered(b, 0, duration)
    silence_both = duration - (speech_a + speech_b - both)
    return max(0.0, min(1.0, (both + silence_both) / duration))


def summary(lines: list[Line], placements: list[Placement], duration: float) -> dict[str, float | int]:
    """Per-job timing figures for the report."""
    n = len(placements)
    factors = [p.factor for p in placements]
    src = [(ln.start, ln.end) for ln in lines]
    dub = [(p.start, p.start + p.final) for p in placements]
    return {
        "lines": n,
        "share_above_1_15": round(sum(f > 1.15 + EPS for f in factors) / n, 4) if n else 0.0,
        "share_above_1_25": round(sum(f > 1.25 + EPS for f in factors) / n, 4) if n else 0.0,
        "largest_factor": round(max(factors, default=1.0), 4),
        "mean_abs_duration_error_s": round(
            sum(abs(p.final - (ln.end - ln.start)) for ln, p in zip(lines, placements, strict=True)) / n, 4)
        if n else 0.0,
        "isochrony": round(isochrony(src, dub, duration), 4),
        "overruns": sum(p.overrun > 0.01 for p in placements),
        "end_drift_s": round(max((abs(p.start - ln.start) for ln, p in zip(lines, placements, strict=True)),
                                 default=0.0), 6),
    }


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
