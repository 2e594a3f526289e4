"""Invariants of the fit stage's timing math (pipeline/text/timing.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.text.timing import FitPlan, Slot, overrun, plan_rate, plan_stretch, slots, speech_envelope

EPS = 1e-9
FAST = settings(max_examples=80, deadline=None)


@st.composite
def span_lists(draw, min_dur_ms: int = 50, min_gap_ms: int = 0, max_len: int = 12):
    """Sorted, non-overlapping speech spans in seconds (millisecond grid, like real timestamps)."""
    n = draw(st.integers(0, max_len))
    t = draw(st.integers(0, 5000))
    out: list[tuple[float, float]] = []
    for _ in range(n):
        dur = draw(st.integers(min_dur_ms, 8000))
        out.append((t / 1000, (t + dur) / 1000))
        t += dur + draw(st.integers(min_gap_ms, 4000))
    return out


def _programme_end(draw, spans: list[tuple[float, float]]) -> float:
    last = spans[-1][1] if spans else 0.0
    return last + draw(st.integers(0, 5000)) / 1000


# --- slots ----------------------------------------------------------------------------------------


@FAST
@given(st.data(), st.sampled_from([0.0, 0.04, 0.08, 0.25]))
def test_slots_start_at_span_start_and_never_overlap(data, min_gap):
    spans = data.draw(span_lists())
    end = _programme_end(data.draw, spans)
    out = slots(spans, end, min_gap)
    assert len(out) == len(spans)
    for (s, e), slot in zip(spans, out, strict=True):
        assert slot.start == s
        assert slot.end >= e - EPS  # a line may always use its own source span
        assert slot.end <= end + EPS  # never past the programme's end
    for a, b in zip(out, out[1:], strict=False):
        assert a.start < b.start  # monotonic
        assert a.end <= b.start + EPS  # non-overlapping


@FAST
@given(st.data(), st.sampled_from([0.04, 0.08, 0.25]))
def test_slots_use_the_silence_up_to_next_start_minus_gap(data, min_gap):
    gap_ms = int(min_gap * 1000)
    spans = data.draw(span_lists(min_gap_ms=gap_ms))
    end = _programme_end(data.draw, spans)
    out = slots(spans, end, min_gap)
    for slot, nxt in zip(out, spans[1:], strict=False):
        assert slot.end <= nxt[0] - min_gap + EPS
        assert slot.end == pytest.approx(nxt[0] - min_gap)  # uses all of the silence
    if out:
        assert out[-1].end == pytest.approx(end)


def test_slots_example():
    spans = [(0.0, 1.0), (2.0, 3.5), (3.55, 4.0)]
    assert slots(spans, 10.0, 0.08) == [
        Slot(0.0, pytest.approx(1.92)),
        Slot(2.0, 3.5),  # next line starts 0.05 s later (< the gap): the slot keeps its own span
        Slot(3.55, 10.0),
    ]


def test_slots_clip_to_programme_end():
    assert slots([(1.0, 2.0), (3.0, 12.0)], 5.0, 0.08) == [Slot(1.0, pytest.approx(2.92)), Slot(3.0, 5.0)]


def test_slot_never_past_programme_end_for_a_line_at_the_very_end():
    out = slots([(0.0, 1.0), (9.99, 10.0)], 10.0, 0.08)
    assert out[-1].end <= 10.0


def test_slots_of_very_short_lines_do_not_overlap():
    out = slots([(0.0, 0.01), (0.02, 0.03)], 1.0, 0.0)
    assert out[0].end <= out[1].start


# --- plan_rate / plan_stretch / overrun -----------------------------------------------------------

durations = st.floats(0.01, 60, allow_nan=False)
availables = st.floats(0.05, 60, allow_nan=False)


@FAST
@given(durations, availables, st.floats(1.0, 2.0))
def test_plan_rate_bounded(natural, available, max_rate):
    plan = plan_rate(natural, available, max_rate)
    assert 1.0 <= plan.rate <= max_rate
    if natural <= available:
        assert plan == FitPlan(1.0, ("fits",))
    else:
        assert plan.steps == ("rate",)
        assert plan.rate == pytest.approx(min(natural / available, max_rate))
        if natural / available <= max_rate:
            assert natural / plan.rate <= available * (1 + 1e-9)  # the faster line now fits


def test_plan_rate_examples():
    assert plan_rate(2.0, 2.0, 1.25) == FitPlan(1.0, ("fits",))
    assert plan_rate(2.2, 2.0, 1.25).rate == pytest.approx(1.1)
    assert plan_rate(4.0, 2.0, 1.25) == FitPlan(1.25, ("rate",))


@FAST
@given(durations, availables, st.floats(1.0, 2.0))
def test_plan_stretch_bounded(duration, available, stretch_max):
    tempo = plan_stretch(duration, available, stretch_max)
    assert 1.0 <= tempo <= stretch_max
    if duration <= available:
        assert tempo == 1.0
    elif duration / available <= stretch_max:
        assert duration / tempo == pytest.approx(available)


def test_plan_stretch_examples():
    assert plan_stretch(1.0, 2.0, 1.25) == 1.0
    assert plan_stretch(2.4, 2.0, 1.25) == pytest.approx(1.2)
    assert plan_stretch(5.0, 2.0, 1.25) == 1.25


@FAST
@given(durations, availables)
def test_overrun_non_negative(duration, available):
    o = overrun(duration, available)
    assert o >= 0.0
    assert o == (duration - available if duration > available else 0.0)


def test_overrun_examples():
    assert overrun(3.0, 2.5) == pytest.approx(0.5)
    assert overrun(2.0, 2.5) == 0.0


# --- speech_envelope ------------------------------------------------------------------------------


@FAST
@given(
    st.data(),
    st.sampled_from([100, 1000, 8000]),
    st.floats(-40, -1),
    st.floats(0.0, 0.5),
    st.floats(0.0, 0.8),
)
def test_speech_envelope_covers_everything_once(data, rate, low_db, attack, release):
    spans = data.draw(span_lists(min_dur_ms=1, max_len=8))
    total_s = data.draw(st.floats(0.0, 40.0))
    n = int(total_s * rate)
    points = speech_envelope(spans, n, rate, low_db, attack, release)
    low = 10 ** (low_db / 20)
    if n == 0:
        assert points == []
        return
    assert points[0][0] == 0
    assert points[-1][1] == n
    for a, b, g0, g1 in points:
        assert 0 <= a < b <= n
        assert low - 1e-12 <= g0 <= 1.0
        assert low - 1e-12 <= g1 <= 1.0
    for p, q in zip(points, points[1:], strict=False):
        assert p[1] == q[0]  # contiguous: no gap, no overlap


def test_speech_envelope_example():
    # 1 s at 100 Hz; speech 0.3-0.5 s; attack 0.1 s, release 0.2 s, -20 dB
    assert speech_envelope([(0.3, 0.5)], 100, 100, -20.0, 0.1, 0.2) == [
        (0, 20, 1.0, 1.0),
        (20, 30, 1.0, pytest.approx(0.1)),
        (30, 50, pytest.approx(0.1), pytest.approx(0.1)),
        (50, 70, pytest.approx(0.1), 1.0),
        (70, 100, 1.0, 1.0),
    ]


def test_speech_envelope_merges_close_spans_and_sorts():
    # 0.2 s apart < attack + release: one ducked stretch, no pumping between the words
    points = speech_envelope([(2.2, 3.0), (1.0, 2.0)], 500, 100, -20.0, 0.1, 0.2)
    lows = [(a, b) for a, b, g0, g1 in points if g0 == g1 != 1.0]
    assert lows == [(100, 300)]
