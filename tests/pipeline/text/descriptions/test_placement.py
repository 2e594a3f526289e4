"""Placement of descriptions: every rung by example, and the invariants as properties."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.text.descriptions.dialogue import gaps as gaps_of
from pipeline.text.descriptions.dialogue import overlap_s
from pipeline.text.descriptions.placement import (
    Ask,
    Decision,
    Limits,
    extended_duration,
    freeze_points,
    place,
    to_extended_time,
    to_programme_time,
)

TOL = 1e-6
END = 60.0


def one(ask: Ask, gaps: list[tuple[float, float]], **limits: object) -> Decision:
    [d] = place([ask], gaps, Limits(**limits))  # type: ignore[arg-type]
    return d


# --- each rung, by example ----------------------------------------------------------------------------------


def test_fits_at_the_cue() -> None:
    d = one(Ask("a", 2.0, 3.0, 40), [(1.0, 6.0)])
    assert (d.start, d.end, d.gap, d.rate, d.steps) == (2.0, 5.0, (1.0, 6.0), 1.0, ("fits",))


def test_delay_to_the_next_gap_that_fits() -> None:
    d = one(Ask("a", 2.0, 3.0, 40), [(1.0, 3.0), (4.0, 8.0)])
    assert (d.start, d.gap, d.steps) == (4.0, (4.0, 8.0), ("delay",))


def test_lead_lets_it_start_just_before_the_cue_only_when_needed() -> None:
    d = one(Ask("a", 2.0, 3.0, 40), [(1.0, 4.5)], lead_s=0.5)
    assert d.start == pytest.approx(1.5) and d.end == pytest.approx(4.5)
    d = one(Ask("a", 2.0, 1.0, 40), [(1.0, 4.5)], lead_s=0.5)
    assert d.start == 2.0  # fits at the cue: not moved earlier


def test_rate_when_no_gap_fits_at_base_rate() -> None:
    d = one(Ask("a", 2.0, 3.3, 40), [(2.0, 5.0)])
    assert d.steps == ("rate",) and d.rate == pytest.approx(1.1) and d.rate >= 1.1
    assert d.end <= 5.0 + TOL and d.spoken_s * d.rate == pytest.approx(3.3)


def test_rate_is_preferred_over_leaving_the_look_ahead() -> None:
    d = one(Ask("a", 2.0, 3.3, 40), [(2.0, 5.0), (20.0, 30.0)], lookahead_s=10.0)
    assert d.steps == ("rate",) and d.start == 2.0


def test_a_delay_within_look_ahead_is_preferred_over_rate() -> None:
    d = one(Ask("a", 2.0, 3.3, 40), [(2.0, 5.0), (9.0, 14.0)], lookahead_s=10.0)
    assert d.steps == ("delay",) and d.start == 9.0 and d.rate == 1.0


def test_shorten_with_a_budget_in_the_largest_gap() -> None:
    d = one(Ask("a", 2.0, 10.0, 100), [(2.0, 4.0), (5.0, 9.0)], max_rate=1.25)
    assert d.steps == ("delay", "shorten") and d.gap == (5.0, 9.0) and d.start == 5.0
    assert d.budget_chars == 50  # 100 chars * 4 s * 1.25 / 10 s


def test_extend_after_shortening() -> None:
    d = one(Ask("a", 2.0, 10.0, 50, shortened=True), [(2.0, 4.0), (5.0, 9.0)], extended=True)
    assert d.steps == ("delay", "extend") and d.rate == 1.0 and d.start == 5.0
    assert d.end == 9.0 and d.extend_s == pytest.approx(6.0) and d.overrun_s == 0.0


def test_overrun_when_shortened_and_not_extended() -> None:
    d = one(Ask("a", 2.0, 10.0, 50, shortened=True), [(2.0, 4.0), (5.0, 9.0)])
    assert d.steps == ("delay", "overrun") and d.rate == 1.25 and d.start == 5.0
    assert d.overrun_s == pytest.approx(10.0 / 1.25 - 4.0) and d.end == pytest.approx(13.0)


def test_no_gap_in_reach_anchors_at_the_cue() -> None:
    d = one(Ask("a", 2.0, 3.0, 40), [(20.0, 30.0)], lookahead_s=5.0)
    assert d.gap is None and d.start == 2.0 and d.steps == ("overrun",)
    assert d.overrun_s == pytest.approx(3.0 / 1.25)
    d = one(Ask("a", 2.0, 3.0, 40), [(20.0, 30.0)], lookahead_s=5.0, extended=True)
    assert (d.start, d.end, d.extend_s, d.steps) == (2.0, 2.0, 3.0, ("extend",))


def test_descriptions_queue_inside_a_gap() -> None:
    ds = place([Ask("b", 1.0, 2.0, 20), Ask("a", 0.5, 2.0, 20)], [(0.0, 10.0)], Limits(min_gap_between_s=0.5))
    assert [d.id for d in ds] == ["a", "b"]
    assert ds[0].start == 0.5 and ds[1].start == pytest.approx(3.0) and ds[1].steps == ("delay",)


def test_shorten_then_place_again_fits() -> None:
    asks = [Ask("a", 0.0, 2.0, 20), Ask("b", 3.0, 12.0, 120), Ask("c", 9.0, 1.0, 10)]
    gap_list = [(0.0, 2.5), (3.0, 7.0), (8.0, 12.0)]
    first = place(asks, gap_list, Limits())
    assert first[1].steps == ("shorten",)
    budget = first[1].budget_chars
    assert budget is not None
    asks[1] = Ask("b", 3.0, 12.0 * budget / 120, budget, shortened=True)
    second = place(asks, gap_list, Limits())
    assert second[0] == first[0] and second[1].steps == ("rate",) and second[1].end <= 7.0 + TOL


def test_freeze_points_and_extended_time() -> None:
    ds = [
        Decision("a", 1.0, 3.0, (1.0, 3.0), 1.0, 4.0, ("extend",), extend_s=2.0),
        Decision("b", 5.0, 6.0, (5.0, 7.0), 1.0, 1.0, ("fits",)),
        Decision("c", 8.0, 8.0, None, 1.0, 1.5, ("extend",), extend_s=1.5),
    ]
    fz = freeze_points(ds)
    assert fz == [(3.0, 2.0), (8.0, 1.5)]
    assert to_extended_time(3.0, fz) == 3.0 and to_extended_time(3.5, fz) == 5.5
    assert to_extended_time(9.0, fz) == pytest.approx(12.5)
    assert to_programme_time(4.0, fz) == 3.0 and to_programme_time(5.5, fz) == 3.5
    assert extended_duration(10.0, fz) == pytest.approx(13.5)


def test_bad_limits_and_asks_are_refused() -> None:
    with pytest.raises(ValueError):
        Limits(max_rate=0.9)
    with pytest.raises(ValueError):
        Ask("a", 1.0, 0.0, 10)


# --- properties -------------------------------------------------------------------------------------------


@st.composite
def programmes(draw: st.DrawFn) -> tuple[list[tuple[float, float]], list[tuple[float, float]], list[Ask], Limits]:
    dialogue = sorted(draw(st.lists(
        st.tuples(st.floats(0, END - 0.5), st.floats(0.2, 6.0)).map(lambda p: (p[0], min(END, p[0] + p[1]))),
        max_size=15)))
    gap_list = gaps_of(dialogue, END, draw(st.sampled_from([0.0, 0.5, 1.0])))
    asks = [Ask(f"c{i}", draw(st.floats(0, END)), draw(st.floats(0.1, 12.0)), draw(st.integers(1, 200)),
                draw(st.booleans())) for i in range(draw(st.integers(0, 12)))]
    limits = Limits(
        max_rate=draw(st.floats(1.0, 1.6)), lookahead_s=draw(st.floats(0.0, 15.0)),
        lead_s=draw(st.sampled_from([0.0, 0.0, 0.3, 1.0])), min_gap_between_s=draw(st.floats(0.0, 0.5)),
        extended=draw(st.booleans()),
    )
    return dialogue, gap_list, asks, limits


def _dialogue(gap_list: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The complement of the gaps: what a description must not be spoken over."""
    out, pos = [], 0.0
    for s, e in gap_list:
        if s > pos:
            out.append((pos, s))
        pos = e
    return [*out, (pos, END)] if pos < END else out


@settings(max_examples=300, deadline=None)
@given(programmes())
def test_placement_invariants(case: tuple[list[tuple[float, float]], list[tuple[float, float]], list[Ask],
                                          Limits]) -> None:
    _, gap_list, asks, limits = case
    decisions = place(asks, gap_list, limits)
    by_id = {a.id: a for a in asks}
    speech = _dialogue(gap_list)
    prev_end = -1e9
    assert sorted(d.id for d in decisions) == sorted(by_id)
    for d in decisions:
        ask = by_id[d.id]
        clean = not {"overrun", "shorten"} & set(d.steps)
        # (1) never over dialogue unless flagged: inside its gap, no overlap with speech
        if clean and "extend" not in d.steps:
            assert d.gap is not None and d.gap[0] - TOL <= d.start and d.end <= d.gap[1] + TOL
        if clean:
            assert overlap_s([(d.start, d.end)], speech) <= TOL
        # (3) not before the cue less the lead; (4) rate within bounds
        assert d.start >= ask.asked - limits.lead_s - TOL
        assert limits.min_rate - TOL <= d.rate <= limits.max_rate + TOL
        assert d.spoken_s * d.rate == pytest.approx(ask.natural_s)
        # (5) within the look-ahead, unless no gap was in reach or earlier descriptions took the room
        anchor = max(ask.asked, prev_end + limits.min_gap_between_s)
        assert d.start <= ask.asked + limits.lookahead_s + TOL or d.start == pytest.approx(anchor)
        if d.gap is None:
            assert d.start == pytest.approx(anchor) and {"extend", "overrun"} & set(d.steps)
        prev_end = d.end
        # (6) extended: the hold covers what the gap cannot
        assert d.extend_s >= 0 and d.overrun_s >= 0
        if limits.extended:
            assert "overrun" not in d.steps
        if "extend" in d.steps:
            assert limits.extended and d.extend_s > 0
            assert d.spoken_s <= (d.end - d.start) + d.extend_s + TOL
        if "overrun" in d.steps:
            assert not limits.extended and d.overrun_s > 0
            room = d.spoken_s - d.overrun_s  # shortening was asked already, or there was nothing to shorten to
            assert ask.shortened or d.gap is None or ask.chars * room * limits.max_rate / ask.natural_s < 1 + TOL
        if "shorten" in d.steps:
            assert not ask.shortened and d.budget_chars is not None and 1 <= d.budget_chars < ask.chars
        else:
            assert d.budget_chars is None
        assert ("delay" in d.steps) == (d.start > ask.asked + 0.05)
    # (2) no two descriptions overlap, and they keep the spacing
    for a, b in zip(decisions, decisions[1:], strict=False):
        assert b.start >= a.end + limits.min_gap_between_s - TOL
    # standard mode: what is spoken over dialogue is exactly what was flagged
    if not limits.extended:
        over = sum(overlap_s([(d.start, d.end)], speech) for d in decisions if "shorten" not in d.steps)
        assert over <= sum(d.overrun_s for d in decisions) + 1e-5


@settings(max_examples=150, deadline=None)
@given(programmes())
def test_shortening_as_budgeted_always_fits(case: tuple[list[tuple[float, float]], list[tuple[float, float]],
                                                        list[Ask], Limits]) -> None:
    _, gap_list, asks, limits = case
    asks = [dataclasses.replace(a, shortened=False) for a in asks]
    decisions = place(asks, gap_list, limits)
    for _ in range(len(asks) + 1):  # the stage's loop: shorten the first asked, place again
        todo = next((d for d in decisions if d.budget_chars is not None), None)
        if todo is None:
            break
        i = next(i for i, a in enumerate(asks) if a.id == todo.id)
        a = asks[i]
        assert todo.budget_chars is not None
        asks[i] = dataclasses.replace(a, natural_s=a.natural_s * todo.budget_chars / a.chars,
                                      chars=todo.budget_chars, shortened=True)
        again = place(asks, gap_list, limits)
        k = next(k for k, d in enumerate(again) if d.id == todo.id)
        assert again[:k] == decisions[:k]  # earlier ones unchanged
        assert not {"overrun", "extend", "shorten"} & set(again[k].steps)
        decisions = again
    assert all(d.budget_chars is None for d in decisions)


@given(st.lists(st.tuples(st.floats(0, END), st.floats(0.01, 5)), max_size=6),
       st.lists(st.floats(0, END), min_size=2, max_size=20))
def test_extended_time_is_monotonic(holds: list[tuple[float, float]], times: list[float]) -> None:
    decisions = [Decision(f"d{i}", at, at, None, 1.0, h, ("extend",), extend_s=h) for i, (at, h) in enumerate(holds)]
    fz = freeze_points(decisions)
    assert [at for at, _ in fz] == sorted({at for at, _ in holds})
    mapped = [to_extended_time(t, fz) for t in sorted(times)]
    assert all(b >= a for a, b in zip(mapped, mapped[1:], strict=False))
    for t in times:
        x = to_extended_time(t, fz)
        assert x == pytest.approx(t + sum(h for at, h in holds if at < t))
        assert to_programme_time(x, fz) == pytest.approx(t)
