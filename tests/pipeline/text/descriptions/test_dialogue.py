"""The dialogue map: union of VAD and words with guards, gaps, overlap; properties and examples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.script import Script, Segment, SourceInfo, WordTiming
from pipeline.text.descriptions.dialogue import (
    DialogueMap,
    dialogue_spans,
    gaps,
    overlap_s,
    programme_dialogue,
    words_of_script,
)

END = 60.0
spans_st = st.lists(
    st.tuples(st.floats(0, END, allow_nan=False), st.floats(0.0, 5.0, allow_nan=False)).map(
        lambda p: (p[0], min(END, p[0] + p[1]))
    ),
    max_size=20,
)


def _script(segments: list[Segment]) -> Script:
    src = SourceInfo(uri="file:///x.mp4", sha256="0" * 64, filename="x.mp4", duration=END, has_video=True)
    return Script(source=src, segments=segments)


def test_union_with_guards_and_merge() -> None:
    vad = [(1.0, 2.0), (5.0, 6.0)]
    words = [(2.3, 2.6), (10.0, 10.4)]
    out = dialogue_spans(vad, words, guard_s=0.2, merge_s=0.3, programme_end=12.0)
    # (0.8, 2.2) and (2.1, 2.8) touch -> one; (4.8, 6.2) apart; (9.8, 10.6)
    assert out == [(0.8, 2.8), (4.8, 6.2), (9.8, 10.6)]


def test_merge_closes_short_pauses_only() -> None:
    out = dialogue_spans([(1.0, 2.0), (2.4, 3.0)], [], guard_s=0.1, merge_s=0.3, programme_end=10.0)
    assert out == [(0.9, 3.1)]  # pause of 0.4 - 2 * 0.1 = 0.2 < 0.3
    out = dialogue_spans([(1.0, 2.0), (2.6, 3.0)], [], guard_s=0.1, merge_s=0.3, programme_end=10.0)
    assert out == [(0.9, 2.1), (2.5, 3.1)]  # 0.4 left: a gap


def test_spans_touching_after_rounding_are_one() -> None:
    assert dialogue_spans([(0.5, 1.0000001)], [(1.0000004, 2.0)], guard_s=0, merge_s=0, programme_end=5) == [
        (0.5, 2.0)
    ]


def test_guards_clip_to_programme() -> None:
    assert dialogue_spans([(0.05, 1.0)], [(9.9, 10.0)], guard_s=0.2, programme_end=10.0) == [
        (0.0, 1.2), (9.7, 10.0)
    ]


def test_gaps_complement_and_min_gap() -> None:
    assert gaps([(1.0, 2.0), (2.4, 5.0)], 10.0, min_gap_s=0.5) == [(0.0, 1.0), (5.0, 10.0)]
    assert gaps([], 4.0) == [(0.0, 4.0)]
    assert gaps([(0.0, 4.0)], 4.0) == []


def test_overlap() -> None:
    assert overlap_s([(0, 2), (3, 5)], [(1, 4)]) == pytest.approx(2.0)
    assert overlap_s([(0, 2), (1, 3)], [(0, 10)]) == pytest.approx(3.0)  # own overlaps once
    assert overlap_s([], [(0, 1)]) == 0.0


def test_words_of_script_uses_segment_without_words() -> None:
    script = _script([
        Segment(id="a", start=1.0, end=3.0, text="hi there",
                words=[WordTiming(text="hi", start=1.0, end=1.4), WordTiming(text="there", start=1.6, end=2.9)]),
        Segment(id="b", start=5.0, end=6.0, text="ok"),
    ])
    assert words_of_script(script) == [(1.0, 1.4), (1.6, 2.9), (5.0, 6.0)]


def test_dialogue_map_build() -> None:
    m = DialogueMap.build([(1.0, 2.0)], [(4.0, 5.0)], 10.0, guard_s=0.5)
    assert m.spans == [(0.5, 2.5), (3.5, 5.5)]
    assert m.gaps == [(0.0, 0.5), (2.5, 3.5), (5.5, 10.0)]
    assert m.speech_s == pytest.approx(4.0) and m.gap_s == pytest.approx(6.0)
    assert DialogueMap.model_validate_json(m.model_dump_json()) == m


@settings(max_examples=150, deadline=None)
@given(vad=spans_st, words=spans_st, guard=st.floats(0, 0.5), merge=st.floats(0, 1.0), min_gap=st.floats(0, 2))
def test_map_properties(vad: list[tuple[float, float]], words: list[tuple[float, float]], guard: float,
                        merge: float, min_gap: float) -> None:
    spans = dialogue_spans(vad, words, guard_s=guard, merge_s=merge, programme_end=END)
    for s, e in spans:
        assert 0 <= s < e <= END
    for (_, e1), (s2, _) in zip(spans, spans[1:], strict=False):
        assert s2 - e1 >= merge - 1e-6 and s2 > e1  # ordered, disjoint, merged
    for s, e in [*vad, *words]:  # every witness is covered, with its guards
        lo, hi = max(0.0, s - guard), min(END, e + guard)
        if hi > lo:
            assert overlap_s([(lo, hi)], spans) == pytest.approx(hi - lo, abs=1e-5)
    free = gaps(spans, END, min_gap)
    assert overlap_s(free, spans) == pytest.approx(0.0, abs=1e-9)
    assert all(e - s >= min_gap - 1e-9 for s, e in free)
    if min_gap == 0:
        total = sum(e - s for s, e in spans) + sum(e - s for s, e in free)
        assert total == pytest.approx(END)


@given(a=spans_st, b=spans_st)
def test_overlap_symmetric_and_bounded(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> None:
    ab = overlap_s(a, b)
    assert ab == pytest.approx(overlap_s(b, a))
    assert 0 <= ab <= min(overlap_s(a, a), overlap_s(b, b)) + 1e-9


def test_programme_dialogue_on_silence_is_the_words() -> None:
    pytest.importorskip("silero_vad")
    audio = np.zeros(16000 * 3, dtype=np.float32)
    script = _script([Segment(id="a", start=1.0, end=1.5, text="x")])
    assert programme_dialogue(audio, script, 3.0, guard_s=0.1, merge_s=0.3) == [(0.9, 1.6)]
