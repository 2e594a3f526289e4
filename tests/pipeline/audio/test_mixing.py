"""Ducking and mixing in numpy (pipeline/audio/mixing.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pipeline.audio.mixing import duck_gain, mix_files_over, mix_over

FAST = settings(max_examples=60, deadline=None)


@st.composite
def spans_inside(draw, total_s: float, margin_before: float, margin_after: float):
    """Sorted non-overlapping spans, each at least `margin_before` after 0 and ending `margin_after`
    before `total_s` (so no ramp is cut short by the programme's edges)."""
    out: list[tuple[float, float]] = []
    t = margin_before + draw(st.floats(0, 2))
    for _ in range(draw(st.integers(0, 6))):
        dur = draw(st.floats(0.05, 3))
        if t + dur + margin_after > total_s:
            break
        out.append((t, t + dur))
        t += dur + draw(st.floats(0.0, 3))
    return out


@FAST
@given(
    st.data(),
    st.sampled_from([200, 1000, 4000]),
    st.floats(-40, -3),
    st.floats(0.02, 0.4),
    st.floats(0.02, 0.6),
)
def test_duck_gain_levels_and_ramps(data, rate, low_db, attack, release):
    total_s = 12.0
    n = int(total_s * rate)
    spans = data.draw(spans_inside(total_s, attack + 0.01, release + 0.01))
    gain = duck_gain(spans, n, rate, low_db, attack, release)
    low = 10 ** (low_db / 20)
    assert gain.shape == (n,)
    assert gain.dtype == np.float32
    assert float(gain.min()) >= low - 1e-6
    assert float(gain.max()) <= 1.0 + 1e-6

    idx = np.arange(n)
    t = idx / rate
    near = np.zeros(n, dtype=bool)
    for s, e in spans:
        inside = (idx >= np.ceil(s * rate)) & (idx < int(e * rate))
        assert np.allclose(gain[inside], low, atol=1e-6), "gain under speech is the duck level"
        near |= (t >= s - attack - 2 / rate) & (t <= e + release + 2 / rate)
    assert np.all(gain[~near] == 1.0), "far from speech the original plays at full level"

    # ramps are bounded: no step steeper than a full-depth ramp over the attack/release time
    max_step = (1 - low) / (min(attack, release) * rate - 1)
    assert float(np.max(np.abs(np.diff(gain)))) <= max_step + 1e-5


def test_duck_gain_example():
    rate = 100
    gain = duck_gain([(1.0, 2.0)], 400, rate, -20.0, 0.1, 0.5)
    assert gain[:90].tolist() == [1.0] * 90
    assert gain[95] == pytest.approx(1 - 0.9 * 0.5)  # half-way down the attack
    assert np.allclose(gain[100:200], 0.1)
    assert gain[225] == pytest.approx(0.1 + 0.9 * 0.5)  # half-way up the release
    assert gain[250:].tolist() == [1.0] * 150


def test_duck_gain_no_speech_is_unity():
    assert duck_gain([], 50, 100, -18.0, 0.08, 0.35).tolist() == [1.0] * 50


samples = st.floats(-2.0, 2.0, allow_nan=False, width=32)


@FAST
@given(
    st.integers(0, 300).flatmap(
        lambda n: st.tuples(
            arrays(np.float32, (n, 2), elements=samples),
            arrays(np.float32, st.integers(0, 400), elements=samples),
            arrays(np.float32, n, elements=st.floats(0.0, 1.0, width=32)),
        )
    ),
    st.floats(-12, 6),
    st.floats(0.5, 1.0),
)
def test_mix_over_peak_never_above_ceiling(arrs, dub_db, ceiling):
    original, dub, gain = arrs
    out, scale = mix_over(original, dub, gain, dub_gain_db=dub_db, ceiling=ceiling)
    n = original.shape[0]
    assert out.shape == original.shape
    assert out.dtype == np.float32
    padded = np.zeros(n, dtype=np.float64)
    m = min(n, len(dub))
    padded[:m] = dub[:m]
    expected = original.astype(np.float64) * gain[:, None] + (padded * 10 ** (dub_db / 20))[:, None]
    raw_peak = float(np.max(np.abs(expected))) if expected.size else 0.0
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    # float32 rounding of exactly `ceiling` may land a hair above it
    assert peak <= ceiling * (1 + 1e-6)
    if raw_peak > ceiling * (1 + 1e-5):
        assert 0 < scale < 1
        assert scale == pytest.approx(ceiling / raw_peak, rel=1e-4)
        assert peak == pytest.approx(ceiling, rel=1e-4)
    elif raw_peak <= ceiling * (1 - 1e-5):
        assert scale == 1.0
    np.testing.assert_allclose(out, expected * scale, rtol=1e-4, atol=1e-5)


def test_mix_over_adds_the_dub_to_every_channel():
    original = np.full((4, 2), 0.1, dtype=np.float32)
    original[:, 1] = -0.2
    dub = np.array([0.2, 0.2, 0.2, 0.2], dtype=np.float32)
    out, scale = mix_over(original, dub, np.ones(4, dtype=np.float32))
    assert scale == 1.0
    np.testing.assert_allclose(out[:, 0], 0.3, rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], 0.0, atol=1e-6)


def test_mix_over_pads_truncates_and_applies_gains():
    original = np.full((4, 1), 0.4, dtype=np.float32)
    gain = np.array([1.0, 0.5, 0.5, 1.0], dtype=np.float32)
    out, _ = mix_over(original, np.array([0.2, 0.2], dtype=np.float32), gain, dub_gain_db=20 * np.log10(0.5))
    np.testing.assert_allclose(out[:, 0], [0.5, 0.3, 0.2, 0.4], rtol=1e-5)
    out, _ = mix_over(original, np.full(10, 0.1, dtype=np.float32), np.ones(4, dtype=np.float32))
    np.testing.assert_allclose(out[:, 0], [0.5] * 4, rtol=1e-6)


def test_mix_over_scales_a_loud_mix_to_the_ceiling():
    original = np.array([[0.9], [-0.5]], dtype=np.float32)
    out, scale = mix_over(original, np.array([0.9, 0.0], dtype=np.float32), np.ones(2, dtype=np.float32), ceiling=0.9)
    assert scale == pytest.approx(0.5)
    np.testing.assert_allclose(out[:, 0], [0.9, -0.25], rtol=1e-6)


def test_a_bed_fills_the_silent_stretches_only_and_ducks_under_speech():
    from pipeline.audio.mixing import lay_bed

    rate = 8000
    n = 12 * rate
    base = np.zeros((n, 2), dtype=np.float32)
    base[4 * rate : 8 * rate] = 0.3 * np.sin(2 * np.pi * 220 * np.arange(4 * rate) / rate)[:, None]  # music 4-8 s
    bed = np.random.default_rng(0).standard_normal((rate, 2)).astype(np.float32)  # 1 s, looped
    out, figures = lay_bed(base, bed, rate, [(9.5, 10.5)], level_db=-30.0, duck_db=-20.0, attack_s=0.05, release_s=0.1)
    laid = out - base

    def rms_db(a: np.ndarray) -> float:
        return float(20 * np.log10(np.sqrt(np.mean(np.square(a, dtype=np.float64))) + 1e-12))

    assert abs(rms_db(laid[1 * rate : 3 * rate]) - -30.0) < 0.5  # silence: the bed at its level
    assert rms_db(laid[5 * rate : 7 * rate]) < -80  # under the music: nothing
    assert -52 < rms_db(laid[int(9.7 * rate) : int(10.3 * rate)]) < -48  # under speech: ducked by 20 dB
    assert 6.0 < figures["heard_s"] < 9.0


def test_a_bed_on_a_programme_with_no_silence_is_never_heard():
    from pipeline.audio.mixing import lay_bed

    rate = 8000
    base = (0.1 * np.random.default_rng(1).standard_normal((5 * rate, 1))).astype(np.float32)
    out, figures = lay_bed(base, np.ones(rate, dtype=np.float32), rate, [], -30.0, -14.0, 0.08, 0.35)
    assert np.allclose(out, base) and figures["heard_s"] == 0.0


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 900).flatmap(
        lambda n: st.tuples(
            arrays(np.float32, (n, 2), elements=samples),
            arrays(np.float32, st.integers(1, 1200), elements=samples),
            arrays(np.float32, n, elements=st.floats(0.0, 1.0, width=32)),
        )
    ),
    st.floats(-12, 12),
    st.integers(1, 400),
)
def test_mix_files_over_writes_exactly_what_mix_over_returns(arrs, dub_db, block):
    """The streamed mix (two passes over the files, `block` samples at a time) gives the same samples and the
    same peak scale as the mix held in memory, whatever the block size and the dub's length."""
    original, dub, gain = arrs
    expected, scale = mix_over(original, dub, gain, dub_gain_db=dub_db)
    with tempfile.TemporaryDirectory() as tmp:
        base, speech, dest = Path(tmp) / "base.wav", Path(tmp) / "dub.wav", Path(tmp) / "mix.wav"
        sf.write(str(base), original, 48000, subtype="FLOAT")
        sf.write(str(speech), dub, 48000, subtype="FLOAT")
        got_scale = mix_files_over(base, speech, gain, dest, dub_gain_db=dub_db, block=block)
        got, rate = sf.read(str(dest), dtype="float32", always_2d=True)
        assert sf.info(str(dest)).subtype == "FLOAT"
    assert rate == 48000
    assert got_scale == scale
    np.testing.assert_array_equal(got, expected)
