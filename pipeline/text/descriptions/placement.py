"""Placement of descriptions in the gaps of the dialogue map: pure functions, no I/O, no models.

The placement ladder, per description, in order of asked time, each rung bounded and recorded:
  fits / delay  the first gap (or the rest of the gap holding the asked time) within `lookahead_s` where the
                description fits at the base rate; 'delay' when it starts more than 50 ms after its cue;
  rate          the first such gap where it fits at a faster rate, at most `max_rate`;
  shorten       a shorter text: the largest candidate gap and a character budget that fits it at `max_rate`
                (the stage asks the shortener, then places again with `Ask.shortened` set);
  extend        with extended description: the picture freezes at the end of the largest candidate gap (the
                programme audio pauses) for as long as the description needs beyond the gap;
  overrun       otherwise: spoken at `max_rate` from the largest candidate gap, the seconds over the dialogue
                flagged for review.
In standard description nothing but a flagged overrun is ever spoken over dialogue, and two descriptions never
overlap: each starts at least `min_gap_between_s` after the previous one ends, so descriptions stay in script
order. Placing is deterministic and a decision depends only on the asks before it, so placing again after one
text was shortened changes nothing before it.

A cue with no candidate gap within its look-ahead (the dialogue runs on, or earlier descriptions took the room)
is anchored at its asked time, or at the end of the previous description plus the spacing when that is later,
and goes through the same ladder in the room from there to the next dialogue: none when the anchor is in
dialogue (`gap` None), so extended description holds the picture there for its whole length and standard
description flags an overrun. Only a queue of earlier descriptions can put a start past the look-ahead.

Extended time: each hold shifts everything after its freeze point; `to_extended_time` maps programme time to
the time of the extended video (and `to_programme_time` back).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipeline.text.timing import EPS

Span = tuple[float, float]
DELAY_S = 0.05  # a start later than the cue by more than this is a 'delay'


@dataclass(frozen=True)
class Limits:
    max_rate: float = 1.25  # fastest engine rate the ladder may ask for
    lookahead_s: float = 10.0  # how far after its cue a description may start
    lead_s: float = 0.0  # how far before its cue a description may start (0 = never before)
    min_gap_between_s: float = 0.3  # silence between two descriptions
    extended: bool = False  # extended description: the picture may be held
    min_rate: float = 1.0  # the base rate every description is spoken at

    def __post_init__(self) -> None:
        if not 0 < self.min_rate <= self.max_rate:
            raise ValueError(f"rates must satisfy 0 < min_rate ({self.min_rate}) <= max_rate ({self.max_rate})")
        if self.lookahead_s < 0 or self.lead_s < 0 or self.min_gap_between_s < 0:
            raise ValueError("lookahead_s, lead_s and min_gap_between_s must not be negative")


@dataclass(frozen=True)
class Ask:
    id: str
    asked: float  # the cue's start, programme seconds
    natural_s: float  # spoken seconds at rate 1.0
    chars: int  # characters of the text as it is now
    shortened: bool = False  # already shortened once: do not ask again

    def __post_init__(self) -> None:
        if self.natural_s <= 0 or self.chars < 0 or self.asked < 0:
            raise ValueError(f"ask {self.id}: natural_s must be positive, chars and asked not negative")


@dataclass(frozen=True)
class Decision:
    id: str
    start: float  # programme time the description starts
    end: float  # programme time its speech ends (start + spoken_s); the freeze point for 'extend';
    # the end of the offered room for 'shorten'
    gap: Span | None  # the dialogue gap it went in; None when no gap was in reach
    rate: float
    spoken_s: float  # seconds spoken at `rate` (the current text)
    steps: tuple[str, ...]  # fits | delay | rate | shorten | extend | overrun
    budget_chars: int | None = None  # set with 'shorten': shorten the text to this and place again
    extend_s: float = 0.0  # seconds the picture is held at `end` (extended description)
    overrun_s: float = 0.0  # seconds spoken over dialogue, flagged for review


@dataclass(frozen=True)
class _Room:
    """The part of a gap one description may use: from `lo` (its earliest start) to `hi`."""

    lo: float
    hi: float
    gap: Span | None

    @property
    def available(self) -> float:
        return max(0.0, self.hi - self.lo)


def _candidates(ask: Ask, gaps: list[Span], free_from: float, limits: Limits) -> list[_Room]:
    """The rooms a description may start in: gaps after its earliest start (its cue less the lead, and the
    previous description's end plus the spacing), starting no later than its cue plus the look-ahead."""
    earliest = max(ask.asked - limits.lead_s, free_from)
    latest = ask.asked + limits.lookahead_s
    out: list[_Room] = []
    for gs, ge in gaps:
        lo = max(gs, earliest)
        if lo > latest + EPS:
            break
        if ge - lo > EPS:
            out.append(_Room(lo, ge, (gs, ge)))
    return out


def _steps(start: float, ask: Ask, *rest: str) -> tuple[str, ...]:
    return ("delay", *rest) if start > ask.asked + DELAY_S else rest


def _fit(ask: Ask, rooms: list[_Room], limits: Limits) -> Decision | None:
    """Rungs fits/delay and rate: the first room the description fits at the base rate, else at max_rate."""
    need = ask.natural_s / limits.min_rate
    for room in rooms:
        if need <= room.available + EPS:
            start = max(room.lo, min(ask.asked, room.hi - need))  # as near the cue as the room allows
            steps = _steps(start, ask) or ("fits",)
            return Decision(ask.id, start, start + need, room.gap, limits.min_rate, need, steps)
    for room in rooms:
        if ask.natural_s / limits.max_rate <= room.available + EPS:
            rate = min(limits.max_rate, math.ceil(ask.natural_s / room.available * 1000 - 1e-9) / 1000)
            spoken = ask.natural_s / rate
            return Decision(ask.id, room.lo, room.lo + spoken, room.gap, rate, spoken,
                            _steps(room.lo, ask, "rate"))
    return None


def _unfit(ask: Ask, room: _Room, limits: Limits) -> Decision:
    """Rungs shorten, extend and overrun, in the room with the most space (or none)."""
    fast = ask.natural_s / limits.max_rate
    budget = math.floor(ask.chars * room.available * limits.max_rate / ask.natural_s + 1e-9)
    if not ask.shortened and room.gap is not None and budget >= 1:
        return Decision(ask.id, room.lo, room.hi, room.gap, limits.max_rate, fast,
                        _steps(room.lo, ask, "shorten"), budget_chars=budget)
    if limits.extended:
        spoken = ask.natural_s / limits.min_rate
        return Decision(ask.id, room.lo, room.hi, room.gap, limits.min_rate, spoken,
                        _steps(room.lo, ask, "extend"), extend_s=spoken - room.available)
    return Decision(ask.id, room.lo, room.lo + fast, room.gap, limits.max_rate, fast,
                    _steps(room.lo, ask, "overrun"), overrun_s=fast - room.available)


def place_one(ask: Ask, gaps: list[Span], free_from: float, limits: Limits) -> Decision:
    """One description, given where the previous one leaves room (`free_from`)."""
    rooms = _candidates(ask, gaps, free_from, limits) or [_anchor_room(ask, gaps, free_from)]
    fitted = _fit(ask, rooms, limits)
    if fitted is not None:
        return fitted
    best = max(rooms, key=lambda r: (r.available, -r.lo))  # the largest; the earliest of equals
    return _unfit(ask, best, limits)


def _anchor_room(ask: Ask, gaps: list[Span], free_from: float) -> _Room:
    """No gap in reach: the room from the cue (or the end of the previous description, when earlier
    descriptions took the look-ahead) to the next dialogue; empty, with no gap, when that is dialogue."""
    anchor = max(ask.asked, free_from)
    for gs, ge in gaps:
        if gs <= anchor < ge:
            return _Room(anchor, ge, (gs, ge))
    return _Room(anchor, anchor, None)


def place(asks: list[Ask], gaps: list[Span], limits: Limits) -> list[Decision]:
    """Decisions for all descriptions, in order of asked time (then id); `gaps` ordered and disjoint."""
    ordered_gaps = sorted((s, e) for s, e in gaps if e > s)
    out: list[Decision] = []
    free_from = 0.0
    for ask in sorted(asks, key=lambda a: (a.asked, a.id)):
        decision = place_one(ask, ordered_gaps, free_from, limits)
        out.append(decision)
        free_from = decision.end + limits.min_gap_between_s
    return out


def freeze_points(decisions: list[Decision]) -> list[tuple[float, float]]:
    """(programme time, seconds held) of every hold of the picture, in order; holds at one time summed."""
    holds: dict[float, float] = {}
    for d in decisions:
        if d.extend_s > EPS:
            holds[d.end] = holds.get(d.end, 0.0) + d.extend_s
    return sorted(holds.items())


def to_extended_time(t: float, freezes: list[tuple[float, float]]) -> float:
    """Programme time -> time in the extended video; a freeze point itself maps to the start of its hold."""
    return t + sum(hold for at, hold in freezes if at < t)


def to_programme_time(x: float, freezes: list[tuple[float, float]]) -> float:
    """Extended time -> programme time; a time inside a hold maps to the freeze point."""
    shift = 0.0
    for at, hold in sorted(freezes):
        if x < at + shift:
            break
        if x <= at + shift + hold:
            return at
        shift += hold
    return x - shift


def extended_duration(programme_end: float, freezes: list[tuple[float, float]]) -> float:
    """Length of the extended programme."""
    return programme_end + sum(hold for at, hold in freezes if at <= programme_end)
