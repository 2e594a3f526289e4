"""ingest's denoise modes: `auto` cleans the speech copy only when its SNR is low, `speech` always and only
that copy, `all` the mix copy too; `off` leaves both as extracted. What was measured and done is in the result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError

RATE = 16000


def _voiced(seconds: float, seed: int = 0) -> np.ndarray:
    """A speech-like signal: harmonic syllables at 4 per second with pauses between phrases."""
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2
    phrases = (np.sin(2 * np.pi * 0.25 * t) > -0.3).astype(float)
    return (0.2 * voice * syllables * phrases).astype(np.float32)


def _wav(path: Path, noise_db: float | None) -> Path:
    x = _voiced(8.0)
    if noise_db is not None:
        rms = np.sqrt(np.mean(x**2))
        x = x + np.random.default_rng(1).standard_normal(len(x)).astype(np.float32) * rms * 10 ** (-noise_db / 20)
    sf.write(str(path), x, RATE)
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def test_auto_leaves_clean_speech_alone(settings: Settings, tmp_path: Path) -> None:
    from pipeline.stages.ingest import ingest

    done = ingest(settings, str(_wav(tmp_path / "clean.wav", None)), "auto")
    assert done.denoise is not None and done.denoise["applied"] == [], done.denoise
    assert done.denoise["snr_db"] >= settings.denoise_snr_db


def test_auto_cleans_noisy_speech_before_transcription(settings: Settings, tmp_path: Path) -> None:
    from pipeline.stages.ingest import ingest

    done = ingest(settings, str(_wav(tmp_path / "noisy.wav", 0.0)), "auto")
    assert done.denoise is not None and done.denoise["snr_db"] < settings.denoise_snr_db, done.denoise
    (applied,) = done.denoise["applied"]
    assert applied["copy"] == "speech" and applied["snr_after_db"] > applied["snr_before_db"]


def test_all_cleans_the_mix_copy_too_and_off_cleans_nothing(settings: Settings, tmp_path: Path) -> None:
    from pipeline.stages.ingest import ingest

    noisy = str(_wav(tmp_path / "noisy.wav", 5.0))
    both = ingest(settings, noisy, "all")
    assert both.denoise is not None and [a["copy"] for a in both.denoise["applied"]] == ["speech", "mix"]
    off = ingest(settings, noisy, "off")
    assert off.denoise is None and off.key != both.key  # a different stage, not a reuse of the cleaned one


def test_an_unknown_mode_is_refused(settings: Settings, tmp_path: Path) -> None:
    from pipeline.stages.ingest import ingest

    with pytest.raises(ConfigError, match="unknown denoise mode 'loud'"):
        ingest(settings, str(_wav(tmp_path / "x.wav", None)), "loud")
