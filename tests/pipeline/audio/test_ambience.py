"""Procedural ambience: seeded, loopable without a seam, at its level, each kind its own sound; room tone fit for
ACX; bad input; the `ambience` command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.audio.ambience import DEFAULT_LEVEL_DB, KINDS, ambience, write_ambience
from pipeline.core.errors import InputError

RATE = 48000
SECONDS = 4.0


@pytest.fixture(scope="module")
def sounds() -> dict[str, np.ndarray]:
    return {k: ambience(k, SECONDS, seed=5) for k in KINDS}


def _rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64)))))


def _centroid(x: np.ndarray) -> float:
    power = np.abs(np.fft.rfft(x.mean(axis=1))) ** 2
    return float(np.sum(power * np.fft.rfftfreq(len(x), 1 / RATE)) / np.sum(power))


def _flux(mono: np.ndarray, frame: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Spectral flux between consecutive frames (hop = frame / 2) and each frame's start."""
    hop = frame // 2
    starts = np.arange(0, len(mono) - frame, hop)
    window = np.hanning(frame)
    mags = np.array([np.abs(np.fft.rfft(mono[s : s + frame] * window)) for s in starts])
    mags /= np.mean(mags) + 1e-12
    return np.sqrt(np.sum(np.diff(mags, axis=0) ** 2, axis=1)), starts[1:]


@pytest.mark.parametrize("kind", KINDS)
def test_shape_level_and_seed(kind: str, sounds: dict[str, np.ndarray]) -> None:
    x = sounds[kind]
    assert x.shape == (int(SECONDS * RATE), 2) and x.dtype == np.float32
    assert abs(_rms_db(x) - DEFAULT_LEVEL_DB[kind]) < 0.05
    assert np.array_equal(x, ambience(kind, SECONDS, seed=5))
    assert not np.array_equal(x, ambience(kind, SECONDS, seed=6))
    assert abs(_rms_db(ambience(kind, 2.0, seed=1, level_db=-30.0)) + 30.0) < 0.05
    assert not np.array_equal(x[:, 0], x[:, 1])  # stereo, not two copies


@pytest.mark.parametrize("kind", KINDS)
def test_loops_without_a_seam(kind: str, sounds: dict[str, np.ndarray]) -> None:
    x = sounds[kind].astype(np.float64)
    n = len(x)
    twice = np.concatenate([x, x])
    steps = np.abs(np.diff(twice, axis=0))
    typical = np.percentile(np.abs(np.diff(x, axis=0)), 99.5, axis=0)
    assert np.all(steps[n - 1] <= typical), (steps[n - 1], typical)  # the jump from the last sample to the first
    flux, starts = _flux(twice.mean(axis=1))
    at_seam = flux[(starts > n - 1024) & (starts < n + 1024)]
    assert at_seam.max() <= np.percentile(flux, 99) * 1.05, (at_seam, np.percentile(flux, 99))


@pytest.mark.parametrize("kind", ["room", "wind", "crowd", "city"])
def test_an_uncrossfaded_join_is_caught(kind: str) -> None:
    """The jump check above is sharp enough: two seeds joined without a crossfade fail it (rain's own steps
    are as large as any jump: there a join is inaudible anyway)."""
    a, b = ambience(kind, SECONDS, seed=1), ambience(kind, SECONDS, seed=2)
    typical = np.percentile(np.abs(np.diff(a.astype(np.float64), axis=0)), 99.5, axis=0)
    assert np.any(np.abs(b[0].astype(np.float64) - a[-1]) > typical)


def test_a_long_ambience_repeats_a_seamless_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.audio import ambience as module

    monkeypatch.setattr(module, "MAX_UNIQUE_S", 2.0)
    x = ambience("city", 5.0, seed=3).astype(np.float64)  # 3 loops of 5/3 s
    loop = len(x) // 3
    assert len(x) == 5 * RATE and np.array_equal(x[:loop], x[loop : 2 * loop])
    steps = np.abs(np.diff(np.concatenate([x, x]), axis=0))
    typical = np.percentile(np.abs(np.diff(x, axis=0)), 99.5, axis=0)
    assert np.all(steps[[loop - 1, 2 * loop - 1, len(x) - 1]] <= typical)
    assert abs(_rms_db(x) - DEFAULT_LEVEL_DB["city"]) < 0.05


def test_kinds_differ_spectrally(sounds: dict[str, np.ndarray]) -> None:
    c = {k: _centroid(x) for k, x in sounds.items()}
    assert c["rain"] > c["crowd"] > c["wind"] > c["city"], c  # rain is bright, city hum is a low rumble
    assert c["rain"] > 2000 and c["city"] < 400


def test_wind_gusts_and_crowd_murmurs() -> None:
    wind = ambience("wind", 12.0, seed=2).mean(axis=1)
    rain = ambience("rain", 12.0, seed=2).mean(axis=1)
    block = RATE // 2

    def spread(x: np.ndarray) -> float:
        levels = np.sqrt(np.mean(x[: len(x) // block * block].reshape(-1, block) ** 2, axis=1))
        return float(np.std(levels) / np.mean(levels))

    assert spread(wind) > 2 * spread(rain)  # the wind's level rises and falls with the gusts
    crowd = ambience("crowd", 12.0, seed=2).mean(axis=1)
    hop = RATE // 100  # a 100 Hz envelope
    env = np.sqrt(np.mean(crowd[: len(crowd) // hop * hop].reshape(-1, hop) ** 2, axis=1))
    spectrum = np.abs(np.fft.rfft(env - env.mean()))
    freqs = np.fft.rfftfreq(len(env), 1 / 100)
    syllables = spectrum[(freqs >= 2.5) & (freqs <= 7)].mean()
    assert syllables > 1.5 * spectrum[(freqs >= 12) & (freqs <= 30)].mean()  # murmur at the syllable rate


def test_room_tone_is_an_acx_noise_floor(sounds: dict[str, np.ndarray]) -> None:
    x = sounds["room"]
    assert -90.0 <= _rms_db(x) <= -60.0
    window = RATE // 10
    levels = [_rms_db(x[i : i + window]) for i in range(0, len(x) - window + 1, window)]
    assert -90.0 <= min(levels) and max(levels) <= -60.0  # everywhere, not only on average
    assert np.count_nonzero(x == 0.0) == 0  # never digital silence
    assert _centroid(x) < 1500  # dark


def test_write_ambience(tmp_path: Path, sounds: dict[str, np.ndarray]) -> None:
    dest = write_ambience("room", SECONDS, tmp_path / "room.wav", seed=5)
    info = sf.info(str(dest))
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (RATE, 2, "FLOAT", SECONDS * RATE)
    data, _ = sf.read(str(dest), dtype="float32")
    assert np.array_equal(data, sounds["room"])
    again = write_ambience("room", SECONDS, tmp_path / "again.wav", seed=5)
    assert again.read_bytes() == dest.read_bytes()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("fire", 4.0), "unknown ambience kind 'fire'.*room, rain, wind, crowd, city"),
        (("rain", 0.0), "more than 0"),
        (("rain", 601.0), "over the limit"),
        (("rain", 0.01), "too short"),
    ],
)
def test_bad_input(args: tuple, match: str) -> None:
    with pytest.raises(InputError, match=match):
        ambience(*args)
    with pytest.raises(InputError, match="level"):
        ambience("rain", 1.0, level_db=-120.0)
    with pytest.raises(InputError, match="sample rate"):
        ambience("rain", 1.0, rate=1000)


def test_ambience_command(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from pipeline.cli.sound import ambience as command

    app = typer.Typer(pretty_exceptions_enable=False)
    app.command("ambience")(command)
    app.command("other")(lambda: None)  # two commands: the name is an argument
    runner = CliRunner()
    r = runner.invoke(app, ["ambience", "rain", "--seconds", "2", "--out", str(tmp_path / "rain.wav")])
    assert r.exit_code == 0, r.output
    assert "rain.wav" in r.output and "-40.0 dBFS" in r.output and (tmp_path / "rain.wav").is_file()
    r = runner.invoke(app, ["ambience", "fire", "--out", str(tmp_path / "x.wav")])
    assert r.exit_code == 2 and r.output.count("error:") == 1 and "Traceback" not in r.output, r.output
    r = runner.invoke(app, ["ambience", "rain", "--seconds", "700", "--out", str(tmp_path / "x.wav")])
    assert r.exit_code == 2 and "over the limit" in r.output
