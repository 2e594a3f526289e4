"""A chapter's audio (pipeline/products/audiobook/mastering.py): assembling clips, measuring against ACX's rules,
mastering to them. Synthetic signals made with numpy."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.core.errors import StageError
from pipeline.products.audiobook import mastering
from pipeline.products.audiobook.mastering import AcxLimits, assemble, master, measure_acx

RATE = 44100


def _noise(seconds: float, db: float, seed: int = 0, rate: int = RATE) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * rate)) * 10 ** (db / 20)).astype(np.float32)


def _sine(seconds: float, amp: float, freq: float = 440.0, rate: int = RATE) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def _vowel(seconds: float, rate: int, amp: float, seed: int) -> np.ndarray:
    """Speech-like: a 120 Hz harmonic tone under a syllabic envelope, with a few plosive spikes."""
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 15))
    env = np.sqrt(np.clip(np.sin(np.pi * t / seconds), 0, 1)) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    x = amp * tone * env
    x[np.random.default_rng(seed).integers(len(x) // 4, 3 * len(x) // 4, 4)] *= 6
    return x.astype(np.float32)


def _write(path: Path, x: np.ndarray, rate: int = RATE) -> Path:
    sf.write(str(path), x, rate, subtype="FLOAT")
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# assemble


def test_assemble_resamples_downmixes_and_pauses(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.wav", _sine(1.0, 0.3, rate=22050), 22050)
    stereo = np.stack([_sine(0.5, 0.2, rate=24000), _sine(0.5, 0.4, rate=24000)], axis=1)
    b = _write(tmp_path / "b.wav", stereo, 24000)
    dest = tmp_path / "chapter.wav"
    seconds = assemble([(a, 0.5), (b, 0.25)], dest)
    info = sf.info(str(dest))
    assert (info.samplerate, info.channels, info.subtype) == (RATE, 1, "FLOAT")
    assert info.frames == RATE + RATE // 2 + RATE // 2 + RATE // 4
    assert seconds == pytest.approx(info.frames / RATE)
    x, _ = sf.read(str(dest), dtype="float32")
    assert np.all(x[RATE : RATE + RATE // 2] == 0)  # the pause after the first clip is silence
    assert np.max(np.abs(x[:RATE])) == pytest.approx(0.3, abs=0.01)  # resampled, level kept
    second = x[int(1.5 * RATE) : int(2.0 * RATE)]
    assert np.max(np.abs(second)) == pytest.approx(0.3, abs=0.01)  # stereo (0.2, 0.4) downmixed to 0.3
    assert np.all(x[2 * RATE :] == 0)


def test_assemble_is_byte_identical_and_has_no_time_stamped_peak_chunk(tmp_path: Path) -> None:
    clip = _write(tmp_path / "a.wav", _sine(0.3, 0.3, rate=24000), 24000)
    assemble([(clip, 0.1)], tmp_path / "one.wav")
    assemble([(clip, 0.1)], tmp_path / "two.wav")
    data = (tmp_path / "one.wav").read_bytes()
    assert b"PEAK" not in data[:512]  # libsndfile stamps the time of day into it
    assert data == (tmp_path / "two.wav").read_bytes()


def test_assemble_names_an_unreadable_clip_and_leaves_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "clip7.wav"
    bad.write_text("not audio")
    dest = tmp_path / "chapter.wav"
    with pytest.raises(StageError, match="clip7.wav"):
        assemble([(bad, 0.2)], dest)
    assert list(tmp_path.iterdir()) == [bad]


# measure_acx


def test_measure_conventions_square_and_sine(tmp_path: Path) -> None:
    square = np.where(_sine(2.0, 1.0) >= 0, 0.5, -0.5).astype(np.float32)
    r = measure_acx(_write(tmp_path / "square.wav", square))
    assert r.rms_db == pytest.approx(-6.02, abs=0.01) and r.peak_db == pytest.approx(-6.02, abs=0.01)
    sine = _sine(2.0, 0.1 * np.sqrt(2))  # RMS 0.1: -20 dBFS; peak -17 dBFS
    r = measure_acx(_write(tmp_path / "sine.wav", sine))
    assert r.rms_db == pytest.approx(-20.0, abs=0.01) and r.peak_db == pytest.approx(-16.99, abs=0.02)


def _book_like(floor_db: float = -70.0) -> np.ndarray:
    """0.75 s room tone, 10 s of a -19.5 dBFS sine, 2 s room tone: within every limit."""
    x = _noise(12.75, floor_db)
    x[int(0.75 * RATE) : int(10.75 * RATE)] += _sine(10.0, 10 ** (-19.5 / 20) * np.sqrt(2))
    return x


def test_measure_passes_a_file_within_the_rules(tmp_path: Path) -> None:
    r = measure_acx(_write(tmp_path / "ok.wav", _book_like()))
    assert r.passed and r.failures == []
    assert r.head_s == pytest.approx(0.75, abs=0.011) and r.tail_s == pytest.approx(2.0, abs=0.011)
    assert r.noise_floor_db == pytest.approx(-70.0, abs=0.3)
    assert r.duration_s == pytest.approx(12.75) and r.sample_rate == RATE
    assert r.limits.rms_min_db == -23 and r.limits.peak_max_db == -3


def test_measure_fails_a_clipped_peak(tmp_path: Path) -> None:
    x = _book_like()
    x[int(0.75 * RATE) : int(10.75 * RATE)] = np.clip(_sine(10.0, 1.5), -0.9, 0.9)  # clipped
    r = measure_acx(_write(tmp_path / "clip.wav", x))
    assert not r.passed
    assert r.peak_db == pytest.approx(-0.92, abs=0.01)
    assert [f for f in r.failures if f.startswith("peak")] == ["peak -0.9 dBFS above -3 dBFS"]


def test_measure_fails_a_noisy_floor_and_missing_head(tmp_path: Path) -> None:
    r = measure_acx(_write(tmp_path / "noisy.wav", _book_like(floor_db=-52.0)))
    assert r.noise_floor_db == pytest.approx(-52.0, abs=0.3) and not r.passed
    assert [f for f in r.failures if f.startswith("noise floor")] == [
        f"noise floor {r.noise_floor_db:.1f} dBFS above -60 dBFS"
    ]
    x = _book_like()[int(0.6 * RATE) :]  # 0.15 s of head left
    r = measure_acx(_write(tmp_path / "short_head.wav", x))
    assert r.failures == ["head room tone 0.15 s outside 0.5-1 s"]


def test_measure_noise_floor_skips_digital_silence(tmp_path: Path) -> None:
    x = _book_like()
    x[-int(1.5 * RATE) :] = 0  # inserted silence at the end: not the room tone
    r = measure_acx(_write(tmp_path / "gap.wav", x))
    assert r.noise_floor_db == pytest.approx(-70.0, abs=0.3)
    assert r.digital_silence_s == pytest.approx(1.5, abs=0.02)


def test_measure_fails_the_rate_and_a_file_too_long(tmp_path: Path) -> None:
    path = tmp_path / "r48.wav"
    sf.write(str(path), _book_like()[: 12 * 48000], 48000, subtype="FLOAT")
    r = measure_acx(path)
    assert "sample rate 48000 Hz, not 44100 Hz" in r.failures
    r = measure_acx(_write(tmp_path / "ok.wav", _book_like()), AcxLimits(duration_max_s=6.0))
    assert len(r.failures) == 1 and "does not split" in r.failures[0]


# master


def _raw_chapter(tmp_path: Path, amp: float = 0.02) -> Path:
    clips = []
    for i in range(5):
        path = tmp_path / f"clip{i}.wav"
        sf.write(str(path), _vowel(1.2 + 0.2 * i, 24000, amp, i), 24000)  # a TTS engine's 24 kHz mono
        clips.append((path, 0.3 if i % 2 else 1.0))
    raw = tmp_path / "raw.wav"
    assemble(clips, raw)
    return raw


def test_master_meets_every_acx_rule_and_is_deterministic(tmp_path: Path) -> None:
    raw = _raw_chapter(tmp_path)
    before = measure_acx(raw)
    assert before.rms_db < -30 and not before.passed
    r = master(raw, tmp_path / "one.wav")
    assert r.passed, r.failures
    assert r.rms_db == pytest.approx(-20.0, abs=0.15)
    assert r.peak_db <= -3.4
    assert r.noise_floor_db == pytest.approx(-72.0, abs=0.5)
    assert 0.7 <= r.head_s <= 0.85 and 2.45 <= r.tail_s <= 2.7
    assert r.digital_silence_s == 0  # the pauses carry room tone
    info = sf.info(str(tmp_path / "one.wav"))
    assert (info.samplerate, info.channels, info.subtype) == (RATE, 1, "PCM_24")
    assert measure_acx(tmp_path / "one.wav") == r
    master(raw, tmp_path / "two.wav")
    assert _sha(tmp_path / "one.wav") == _sha(tmp_path / "two.wav")
    master(raw, tmp_path / "seed.wav", seed=1)
    assert _sha(tmp_path / "seed.wav") != _sha(tmp_path / "one.wav")


def test_master_limits_peaks_of_a_peaky_signal(tmp_path: Path) -> None:
    x = np.concatenate([_vowel(2.0, RATE, 0.01, 3), np.zeros(RATE // 2, np.float32)])
    x[RATE // 2] = 0.5  # one spike 30 dB over the speech
    raw = _write(tmp_path / "raw.wav", x)
    r = master(raw, tmp_path / "out.wav")
    assert r.passed, r.failures
    assert -3.6 <= r.peak_db <= -3.4 and r.rms_db == pytest.approx(-20.0, abs=0.15)


def test_master_resamples_stereo_48k(tmp_path: Path) -> None:
    mono = _vowel(2.0, 48000, 0.05, 1)
    src = tmp_path / "s48.wav"
    sf.write(str(src), np.stack([mono, mono], axis=1), 48000, subtype="PCM_16")
    r = master(src, tmp_path / "out.wav")
    assert r.passed, r.failures
    assert (r.sample_rate, r.channels) == (RATE, 1)


def test_master_refuses_silence(tmp_path: Path) -> None:
    raw = _write(tmp_path / "silent.wav", np.zeros(RATE, np.float32))
    with pytest.raises(StageError, match="silent"):
        master(raw, tmp_path / "out.wav")
    assert not (tmp_path / "out.wav").exists()


def test_limiter_keeps_the_ceiling_and_blocks_do_not_change_the_result(tmp_path: Path) -> None:
    x = np.random.default_rng(5).standard_normal(20000).astype(np.float32) * 0.4
    y = mastering._limit(x, 0.5)
    assert np.max(np.abs(y)) <= 0.5 + 1e-6
    assert np.max(np.abs(y)) > 0.49  # limited, not merely turned down
    raw = _raw_chapter(tmp_path, amp=0.2)
    scan = mastering._scan(raw)
    start, end, gain = mastering._trim_and_gain(scan, 33075, 110250, -20.0, -72.0)
    plan = mastering._Plan(start, end, 33075, 110250, 10 ** (-3.5 / 20), 10 ** (-72 / 20), 0)
    mastering._render(raw, tmp_path / "big.wav", plan, gain)
    mastering._render(raw, tmp_path / "small.wav", plan, gain, block=7001)
    assert _sha(tmp_path / "big.wav") == _sha(tmp_path / "small.wav")
