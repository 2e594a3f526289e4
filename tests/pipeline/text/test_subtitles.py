"""Subtitle cues from a Script, and SRT / WebVTT files (pipeline/text/subtitles.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.core.script import Script, Segment, SourceInfo, Translation, WordTiming
from pipeline.text.subtitles import (
    LAG_S,
    LEAD_S,
    MAX_LINE,
    Cue,
    read_subtitles,
    script_cues,
    segment_cues,
    write_subtitles,
)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOURCE = SourceInfo(uri="file:///in.mp4", sha256="0" * 64, filename="in.mp4", duration=600.0, has_video=True)

word = st.tuples(
    st.text("abcdefghijklmnopqrstuvwxyzé'", min_size=1, max_size=10), st.sampled_from(["", "", "", ",", ".", "?"])
).map("".join)


@st.composite
def scripts(draw, timed: bool = True, language: str | None = None):
    """Segments in order, >= 0.2 s apart; words >= 0.15 s long; translations <= ~150 characters over
    >= 1.5 s, so cues of one script never start closer than the 0.18 s a 0.1 s cue plus its gap needs."""
    segs: list[Segment] = []
    t = draw(st.integers(0, 3000))
    for i in range(draw(st.integers(1, 6))):
        words = draw(st.lists(word, min_size=1, max_size=45))
        timings = []
        start = t
        for w in words:
            t += draw(st.integers(0, 200))
            dur = draw(st.integers(150, 600))
            timings.append(WordTiming(text=w, start=t / 1000, end=(t + dur) / 1000))
            t += dur
        end = max(t, start + 1500)
        translations = {}
        if language is not None:
            tr = draw(st.lists(word, min_size=0, max_size=25).map(" ".join))
            if draw(st.booleans()) or i == 0:
                translations[language] = Translation(text=tr, engine="test")
        segs.append(
            Segment(
                id=f"s{i}",
                start=start / 1000,
                end=end / 1000,
                text=" ".join(words),
                words=timings if timed else [],
                translations=translations,
            )
        )
        t = end + draw(st.integers(200, 3000))
    return Script(source=SOURCE, segments=segs)


def _words(cues: list[Cue]) -> list[str]:
    return [w for c in cues for w in c.text.split()]


def _check_order_and_gaps(cues: list[Cue]) -> None:
    for a, b in zip(cues, cues[1:], strict=False):
        assert a.start < b.start
        assert a.end <= b.start - 0.08 + 1e-6, f"cue {a} runs into {b}"
    for c in cues:
        assert c.end > c.start
        assert c.text.count("\n") <= 1  # at most 2 lines


@FAST
@given(st.booleans().flatmap(lambda timed: scripts(timed=timed)))
def test_source_cues_keep_every_word_in_order(script):
    cues = script_cues(script, None)
    assert _words(cues) == [w for seg in script.segments for w in seg.text.split()]
    _check_order_and_gaps(cues)
    for c in cues:  # every cue starts inside a segment, or at most LEAD_S before it
        assert any(s.start - LEAD_S - 5e-4 <= c.start <= s.end + 5e-4 for s in script.segments)


@FAST
@given(scripts(timed=True, language="es"))
def test_translated_cues_lie_inside_their_segment(script):
    cues = script_cues(script, "es")
    expected = [w for seg in script.segments if "es" in seg.translations for w in seg.translations["es"].text.split()]
    assert _words(cues) == expected
    _check_order_and_gaps(cues)
    for c in cues:
        # a cue lies within its segment's speech, give or take LEAD_S (room for its minimum/reading time)
        assert any(s.start - LEAD_S - 1e-3 <= c.start and c.end <= s.end + LAG_S + 1e-3 for s in script.segments)
    for seg in script.segments:
        # before the minimum-duration pass, each cue lies strictly within its segment's span
        for c in segment_cues(seg, "es"):
            assert seg.start - 1e-9 <= c.start < c.end <= seg.end + 1e-9


@FAST
@example(
    script=Script(
        source=SOURCE, segments=[Segment(id="s0", start=0.0, end=5.0, text=f"{'a' * 30} {'b' * 30} {'c' * 20}")]
    )
)
@given(st.booleans().flatmap(lambda timed: scripts(timed=timed)))
def test_cue_lines_at_most_42_characters(script):
    for c in script_cues(script, None):
        lines = c.text.split("\n")
        assert len(lines) <= 2
        assert all(len(line) <= MAX_LINE for line in lines), c.text


def test_cues_from_word_times():
    seg = Segment(
        id="a",
        start=1.0,
        end=4.0,
        text="Hello there, friend.",
        words=[
            WordTiming(text="Hello", start=1.2, end=1.5),
            WordTiming(text="there,", start=1.6, end=1.9),
            WordTiming(text="friend.", start=2.0, end=2.3),
        ],
    )
    later = Segment(id="b", start=2.5, end=6.0, text="Bye.", words=[WordTiming(text="Bye.", start=2.6, end=3.0)])
    cues = script_cues(Script(source=SOURCE, segments=[seg, later]), None)
    # 20 characters need 20/17 s at 17 characters per second: the end moves into the pause
    assert cues == [Cue(1.2, 2.376, "Hello there, friend."), Cue(2.6, 3.433, "Bye.")]


def test_cue_is_cut_short_to_keep_the_gap():
    a = Segment(id="a", start=0.0, end=1.0, text="one two")
    b = Segment(id="b", start=1.05, end=2.0, text="three")
    cues = script_cues(Script(source=SOURCE, segments=[a, b]), None)
    assert [(c.start, c.end) for c in cues] == [(0.0, 0.97), (1.05, 2.0)]


def test_long_segment_splits_into_two_line_cues():
    text = " ".join(f"word{i:02d}" for i in range(40))  # 40 x 6 chars + spaces = 279 chars
    seg = Segment(id="a", start=0.0, end=20.0, text=text)
    cues = script_cues(Script(source=SOURCE, segments=[seg]), None)
    assert len(cues) == 4
    assert _words(cues) == text.split()
    for c in cues[:-1]:
        top, bottom = c.text.split("\n")
        assert len(top) <= MAX_LINE and len(bottom) <= MAX_LINE
    assert cues[0].start == 0.0 and cues[-1].end <= 20.0


def test_translated_cues_share_the_segment_by_length():
    seg = Segment(id="a", start=10.0, end=12.0, text="x", translations={"es": Translation(text="uno dos", engine="t")})
    assert segment_cues(seg, "es") == [Cue(10.0, 12.0, "uno dos")]
    assert segment_cues(seg, "fr") == []
    blank = seg.model_copy(update={"translations": {"es": Translation(text="  ", engine="t")}})
    assert segment_cues(blank, "es") == []


def test_cues_never_overlap_even_when_lines_start_close_together():
    a = Segment(id="a", start=0.0, end=0.04, text="Oh.")
    b = Segment(id="b", start=0.05, end=1.0, text="Yes.")
    cues = script_cues(Script(source=SOURCE, segments=[a, b]), None)
    assert cues[0].end <= cues[1].start


CUES = [Cue(0.5, 1.25, "first line\nsecond line"), Cue(2.0, 3.5, "one more"), Cue(61.042, 3723.5, "late")]


@pytest.mark.parametrize("suffix", [".srt", ".vtt"])
def test_subtitles_round_trip(tmp_path: Path, suffix: str):
    path = write_subtitles(CUES, tmp_path / f"out{suffix}")
    assert path == tmp_path / f"out{suffix}"
    assert read_subtitles(path) == CUES


def test_srt_and_vtt_text():
    tmp = CUES[:1]
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        srt = write_subtitles(tmp, Path(d) / "x.SRT").read_text()
        vtt = write_subtitles(tmp, Path(d) / "x.vtt").read_text()
    assert "00:00:00,500 --> 00:00:01,250\nfirst line\nsecond line" in srt
    assert vtt.startswith("WEBVTT")
    assert "00:00:00.500 --> 00:00:01.250\nfirst line\nsecond line" in vtt


@pytest.mark.parametrize("suffix", [".srt", ".vtt"])
def test_subtitle_times_keep_every_millisecond(tmp_path: Path, suffix: str):
    cues = [Cue(1.001, 1.003, "a"), Cue(1.005, 2.009, "b")]
    assert read_subtitles(write_subtitles(cues, tmp_path / f"x{suffix}")) == cues
