"""Broadcast subtitle rules (hypothesis): every word in exactly one cue, in order; every cue within the
limits (42 x 2, reading speed, 5/6 s to 7 s, 2 frames apart) when the speech allows it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.script import Script, Segment, SourceInfo, WordTiming
from pipeline.text.subtitles import PROFILES, _balanced, script_cues, violations

SOURCE = SourceInfo(uri="file:///x.mp4", sha256="0" * 64, filename="x.mp4", duration=3600.0, has_video=True)
WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=11)


@st.composite
def scripts(draw, max_cps: float):
    """Speech no faster than the profile allows, with natural pauses between segments."""
    t = draw(st.floats(0.5, 3))  # room before the first word (a cue may start up to 0.5 s early)
    segs = []
    for k in range(draw(st.integers(1, 12))):
        words = draw(st.lists(WORDS, min_size=1, max_size=30))
        timed = []
        start = t
        for w in words:
            dur = (len(w) + 1) / draw(st.floats(6, max_cps * 0.8))  # reading speed below the limit
            dur = max(dur, 0.6 / len(words))  # an utterance lasts at least 0.6 s
            timed.append(WordTiming(text=w, start=round(t, 3), end=round(t + dur * 0.9, 3)))
            t += dur
        segs.append(Segment(id=f"s{k}", start=round(start, 3), end=round(t, 3), text=" ".join(words), words=timed))
        t += draw(st.floats(1.0, 4.0))  # a pause long enough for the last cue's minimum time
    return Script(source=SOURCE, segments=segs)


def _flat(cues):
    return [w for c in cues for w in c.text.split()]


@settings(max_examples=150, deadline=None)
@given(scripts(17.0))
def test_broadcast_limits(script):
    cues = script_cues(script, None, PROFILES["broadcast"])
    assert _flat(cues) == [w.text for s in script.segments for w in s.words]  # every word once, in order
    assert violations(cues, PROFILES["broadcast"]) == dict.fromkeys(
        ["too_fast", "too_short", "too_long", "too_close", "line_too_long", "too_many_lines"], 0
    )


@settings(max_examples=100, deadline=None)
@given(scripts(13.0))
def test_children_profile_limits(script):
    cues = script_cues(script, None, PROFILES["children"])
    assert _flat(cues) == [w.text for s in script.segments for w in s.words]
    assert all(v == 0 for v in violations(cues, PROFILES["children"]).values())


def test_line_breaks_at_phrase_boundaries():
    text = "We walked along the river to the old mill, and then we sat down for lunch"
    top, bottom = _balanced(text).split("\n")
    assert top.endswith("mill,")  # after the comma, not after "the"
    assert _balanced("She gave the keys to the man who lived next door to us").split("\n")[0].split()[-1] != "the"
