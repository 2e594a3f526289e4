"""WORLD F0 shaping: the contour math, the ratio and duration on synthetic and real speech, speaker identity,
and which engines need it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from models.base import EngineError, Prosody
from models.worldfx import apply_prosody_post, post_controls, praat_f0_at, shape_contour, shape_f0

SR = 22050


def buzz(path: Path, f0_start: float, seconds: float = 1.5, f0_end: float | None = None) -> Path:
    """A ten-harmonic buzz (speech-like for a pitch tracker) gliding exponentially, with silence around it."""
    n = int(seconds * SR)
    f_end = f0_end or f0_start
    f = f0_start * (f_end / f0_start) ** (np.arange(n) / (n - 1))
    phase = 2 * np.pi * np.cumsum(f) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 11))
    x = 0.3 * np.asarray(x) / np.max(np.abs(x))
    x = np.concatenate([np.zeros(SR // 5), x, np.zeros(SR // 5)])
    sf.write(str(path), x, SR, subtype="PCM_16")
    return path


def f0_stats(path: Path) -> tuple[float, float]:
    """(median Hz, 10th-90th percentile range in semitones) of the voiced frames."""
    x, sr = sf.read(str(path), dtype="float64")
    f0 = praat_f0_at(x, sr, np.arange(0.0, len(x) / sr, 0.01))
    v = f0[f0 > 0]
    p10, p90 = np.percentile(v, [10, 90])
    return float(np.median(v)), float(12 * math.log2(p90 / p10))


def test_shape_contour() -> None:
    f0 = np.array([0.0, 100.0, 200.0, 0.0, 400.0])
    up = shape_contour(f0, 2.0, 1.0)
    assert list(up) == pytest.approx([0.0, 200.0, 400.0, 0.0, 800.0])
    flat = shape_contour(f0, 1.0, 0.0)
    assert list(flat) == pytest.approx([0.0, 200.0, 200.0, 0.0, 200.0])  # all at the median
    wide = shape_contour(f0, 1.0, 2.0)
    assert list(wide) == pytest.approx([0.0, 50.0, 200.0, 0.0, 800.0])  # twice the octaves around 200
    assert list(shape_contour(np.zeros(3), 1.5, 1.5)) == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("ratio", [0.8, 1.25])
def test_shape_f0_moves_f0_by_the_ratio_and_keeps_duration(tmp_path: Path, ratio: float) -> None:
    src = buzz(tmp_path / "in.wav", 150.0)
    out = shape_f0(src, tmp_path / "out.wav", pitch=ratio)
    a, b = sf.info(str(src)), sf.info(str(out))
    assert (b.frames, b.samplerate, b.subtype) == (a.frames, a.samplerate, a.subtype)
    assert f0_stats(out)[0] == pytest.approx(150.0 * ratio, rel=0.03)


def test_shape_f0_widens_and_narrows_the_range(tmp_path: Path) -> None:
    src = buzz(tmp_path / "in.wav", 120.0, 2.0, 200.0)
    med0, rng0 = f0_stats(src)
    wide_med, wide = f0_stats(shape_f0(src, tmp_path / "wide.wav", pitch_range=1.5))
    narrow_med, narrow = f0_stats(shape_f0(src, tmp_path / "narrow.wav", pitch_range=0.5))
    assert wide == pytest.approx(1.5 * rng0, rel=0.1)
    assert narrow == pytest.approx(0.5 * rng0, rel=0.15)
    assert wide_med == pytest.approx(med0, rel=0.04) and narrow_med == pytest.approx(med0, rel=0.04)


def test_identity_is_a_copy(tmp_path: Path) -> None:
    src = buzz(tmp_path / "in.wav", 150.0)
    out = shape_f0(src, tmp_path / "out.wav", pitch=1.005, pitch_range=1.01)
    assert out.read_bytes() == src.read_bytes()
    assert shape_f0(src, src, 1.0, 1.0) == src


def test_unvoiced_input_is_written_unchanged_in_length(tmp_path: Path) -> None:
    src = tmp_path / "noise.wav"
    sf.write(str(src), np.random.default_rng(0).normal(0, 0.05, SR), SR, subtype="PCM_16")
    out = shape_f0(src, tmp_path / "out.wav", pitch=1.3)
    assert sf.info(str(out)).frames == SR


def test_invalid_controls_and_unreadable_input(tmp_path: Path) -> None:
    src = buzz(tmp_path / "in.wav", 150.0)
    with pytest.raises(EngineError, match="invalid pitch"):
        shape_f0(src, tmp_path / "o.wav", pitch=0.0)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav")
    with pytest.raises(EngineError, match="cannot read"):
        shape_f0(bad, tmp_path / "o.wav", pitch=1.2)


def test_what_each_engine_leaves_to_world() -> None:
    p = Prosody(rate=1.1, pitch=1.2, volume=0.9, pitch_range=1.3)
    assert post_controls("espeak", p) == (1.0, 1.0)  # SSML range, -p pitch
    assert post_controls("pico", p) == (1.0, 1.3)  # <pitch> markup; no range control
    assert post_controls("piper", p) == (1.2, 1.3)  # no pitch control at all
    assert post_controls("kokoro", p) == (1.0, 1.0)  # runs its own WORLD pass
    assert post_controls("clone-kokoro+world", p) == (1.0, 1.0)  # so does a cloned voice
    assert post_controls("clone-knn-vc", p) == (1.0, 1.0)  # knn-vc aims its conversion at the pitch itself
    assert post_controls("someone-elses-tts", p) == (1.2, 1.3)


def test_apply_prosody_post_in_place(tmp_path: Path) -> None:
    wav = buzz(tmp_path / "clip.wav", 150.0)
    before = wav.read_bytes()
    assert apply_prosody_post("pico", wav, Prosody(pitch=1.3)) == wav
    assert wav.read_bytes() == before  # Pico did the pitch itself
    apply_prosody_post("piper", wav, Prosody(pitch=1.3))
    assert f0_stats(wav)[0] == pytest.approx(195.0, rel=0.03)
    assert not list(tmp_path.glob(".clip.wav.*"))  # no temporary left behind


@pytest.mark.slow
def test_real_speech_keeps_its_speaker(tmp_path: Path, fixtures_dir: Path, wav16k: object) -> None:
    """jfk.flac shifted by ±2 semitones, widened and narrowed: Resemblyzer cosine to the original stays >= 0.9
    and F0 moves by the ratio. Measured on jfk / the lecture: resynthesis alone 0.94 / 0.96, ±2 st 0.93 / 0.95,
    ±3 st 0.90-0.91 / 0.90-0.93, range 1.4 x 0.95 / 0.97; on Pico and Piper sentences 0.92-0.98."""
    from models.speaker import ResemblyzerEncoder, cosine

    try:
        enc = ResemblyzerEncoder()
        src = wav16k(fixtures_dir / "jfk.flac")  # type: ignore[operator]
        e0 = enc.embed(src)
    except Exception as e:  # pragma: no cover - depends on the environment
        pytest.skip(f"Resemblyzer not usable here: {e}")
    med0, _ = f0_stats(src)
    for pitch, pitch_range in [(2 ** (2 / 12), 1.0), (2 ** (-2 / 12), 1.0), (1.0, 1.4), (1.0, 0.6)]:
        out = shape_f0(src, tmp_path / f"jfk-{pitch:.2f}-{pitch_range}.wav", pitch, pitch_range)
        assert sf.info(str(out)).frames == sf.info(str(src)).frames
        assert cosine(e0, enc.embed(out)) >= 0.9
        assert f0_stats(out)[0] == pytest.approx(med0 * pitch, rel=0.05)
