"""Procedural ambience: room tone, rain, wind, crowd murmur and city hum from shaped noise and simple synthesis.

Every kind is seeded (the same seed gives the same samples) and loops without a seam: the noise is made
`seconds` plus a crossfade long and its tail is crossfaded (equal power) into its head, so the last sample
flows into the first; tones (mains hum) are tuned to a whole number of cycles in the loop. The result is set
to an RMS level in dBFS. Room tone defaults to -65 dBFS: a real noise floor for ACX (between -90 and -60 dBFS),
never digital silence.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import signal

from pipeline.audio.compose import check_seconds, write_float_wav
from pipeline.core.errors import InputError

KINDS = ("room", "rain", "wind", "crowd", "city")
DEFAULT_LEVEL_DB = {"room": -65.0, "rain": -40.0, "wind": -40.0, "crowd": -40.0, "city": -40.0}
LEVEL_RANGE = (-90.0, -6.0)  # dBFS RMS
MIN_SECONDS = 0.1
CROSSFADE_S = 1.0  # at most; a quarter of the length for shorter loops
MAX_UNIQUE_S = 120.0  # a longer ambience repeats a seamless loop of at most this long (memory, time)
_WARMUP_S = 0.5  # made and dropped first, so that the filters have settled where the loop starts

Stereo = np.ndarray  # (n, 2) float64


def ambience(kind: str, seconds: float, seed: int = 0, rate: int = 48000, level_db: float | None = None) -> np.ndarray:
    """`seconds` of seamlessly loopable stereo ambience, (n, 2) float32, at `level_db` dBFS RMS (None: the
    kind's default, DEFAULT_LEVEL_DB)."""
    if kind not in KINDS:
        raise InputError(f"unknown ambience kind {kind!r}", f"use one of {', '.join(KINDS)}")
    seconds = check_seconds(seconds, "ambience length")
    if seconds < MIN_SECONDS:
        raise InputError(f"an ambience of {seconds:g} s is too short to loop", f"give {MIN_SECONDS:g} s or more")
    if not 8000 <= int(rate) <= 192000:
        raise InputError(f"sample rate {rate} is outside 8000..192000 Hz", "use 48000")
    level = DEFAULT_LEVEL_DB[kind] if level_db is None else float(level_db)
    lo, hi = LEVEL_RANGE
    if not (math.isfinite(level) and lo <= level <= hi):
        raise InputError(f"ambience level {level_db!r} dBFS is outside {lo:g}..{hi:g}", "give a level in that range")
    rate = int(rate)
    total = int(round(seconds * rate))
    tiles = _tiles(total, int(MAX_UNIQUE_S * rate))
    n = total // tiles
    xf = max(1, min(int(CROSSFADE_S * rate), n // 4))
    warm = int(_WARMUP_S * rate)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, KINDS.index(kind)])
    noise, tones = _GENERATORS[kind](rng, warm + n + xf, n, rate)
    out = _loop(noise[warm:], n, xf)
    if tones is not None:
        out = out + tones
    rms = float(np.sqrt(np.mean(out**2)))
    out = (out * (10 ** (level / 20) / rms)).astype(np.float32)
    return np.tile(out, (tiles, 1)) if tiles > 1 else out


def _tiles(total: int, most: int) -> int:
    """How many repeats of one loop make `total` samples, each loop at most `most` long (1 when none divides)."""
    if total <= most:
        return 1
    first = -(-total // most)
    return next((m for m in range(first, first + 200) if total % m == 0), 1)


def write_ambience(
    kind: str, seconds: float, dest: Path, seed: int = 0, rate: int = 48000, level_db: float | None = None
) -> Path:
    """Write `ambience(...)` to dest as a 32-bit float stereo WAV (atomically); returns dest."""
    return write_float_wav(ambience(kind, seconds, seed, rate, level_db), rate, Path(dest))


def _loop(x: Stereo, n: int, xf: int) -> Stereo:
    """x is n + xf long: its last xf samples crossfade (equal power) into its first, so out[-1] -> out[0]
    continues as x[n - 1] -> x[n] did."""
    out = x[:n].copy()
    t = (np.arange(xf) + 0.5) / xf
    out[:xf] = x[n : n + xf] * np.cos(0.5 * np.pi * t)[:, None] + x[:xf] * np.sin(0.5 * np.pi * t)[:, None]
    return out


# --- building blocks ---------------------------------------------------------------------------------------


def _filt(x: np.ndarray, rate: int, btype: str, freq: float | tuple[float, float], order: int = 2) -> np.ndarray:
    sos = signal.butter(order, freq, btype=btype, fs=rate, output="sos")
    return np.asarray(signal.sosfilt(sos, x, axis=0))


def _unit(x: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x**2)))
    return x / rms if rms > 0 else x


def _pink(rng: np.random.Generator, n: int, channels: int = 2) -> np.ndarray:
    """Pink (1/f) noise: white through Paul Kellet's three-pole filter."""
    b = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
    a = [1.0, -2.494956002, 2.017265875, -0.522189400]
    return _unit(np.asarray(signal.lfilter(b, a, rng.standard_normal((n, channels)), axis=0)))


def _wide(rng: np.random.Generator, n: int, correlation: float = 0.5) -> np.ndarray:
    """Stereo white noise whose channels are `correlation` alike."""
    common = rng.standard_normal((n, 1))
    own = rng.standard_normal((n, 2))
    return math.sqrt(correlation) * common + math.sqrt(1 - correlation) * own


def _drift(rng: np.random.Generator, n: int, rate: int, hz: float) -> np.ndarray:
    """A smooth random curve in 0..1 that changes about `hz` times a second (cosine-interpolated points)."""
    step = max(1, int(rate / hz))
    points = rng.random(n // step + 3)
    pos = np.arange(n) / step
    i = pos.astype(np.int64)
    frac = 0.5 - 0.5 * np.cos(np.pi * (pos - i))
    return np.asarray(points[i] * (1 - frac) + points[i + 1] * frac)


def _hum(loop_n: int, rate: int, mains: float, amps: tuple[float, ...]) -> np.ndarray:
    """Mains hum and its harmonics, each tuned to a whole number of cycles in the loop (so it loops)."""
    t = np.arange(loop_n)
    out = np.zeros(loop_n)
    for k, amp in enumerate(amps, start=1):
        cycles = max(1, round(mains * k * loop_n / rate))
        out += amp * np.sin(2 * np.pi * cycles * t / loop_n + 0.7 * k)
    return np.repeat(out[:, None], 2, axis=1)


def _bumps(
    rng: np.random.Generator, n: int, rate: int, per_second: float, seconds: tuple[float, float]
) -> list[tuple[int, int]]:
    """Random (start, length) events, `per_second` on average, each lasting within `seconds`."""
    count = rng.poisson(per_second * n / rate)
    starts = np.sort(rng.integers(0, n, count))
    lengths = (rng.uniform(*seconds, count) * rate).astype(np.int64)
    return [(int(s), max(2, int(L))) for s, L in zip(starts, lengths, strict=True)]


# --- the kinds: each returns (noise made n_total long, tones made loop_n long or None) -----------------------


def _room(rng: np.random.Generator, total: int, loop_n: int, rate: int) -> tuple[Stereo, Stereo | None]:
    hiss = _unit(_filt(_filt(_pink(rng, total), rate, "lowpass", 3500.0), rate, "highpass", 40.0))
    hiss = _unit(0.6 * hiss + 0.4 * hiss[:, ::-1])  # partly the same in both ears
    rumble = _unit(_filt(_wide(rng, total, 0.8), rate, "lowpass", 120.0))
    tones = _hum(loop_n, rate, float(rng.choice([50.0, 60.0])), (0.16, 0.08, 0.04))
    return hiss + 0.5 * rumble, tones


def _rain(rng: np.random.Generator, total: int, loop_n: int, rate: int) -> tuple[Stereo, Stereo | None]:
    bed = _unit(_filt(_wide(rng, total, 0.3), rate, "bandpass", (500.0, min(9000.0, 0.45 * rate))))
    patter = _unit(_filt(_pink(rng, total), rate, "lowpass", 1500.0))
    drops = np.zeros((total, 2))
    for start, length in _bumps(rng, total, rate, 70.0, (0.004, 0.02)):
        m = min(length, total - start)
        t = np.arange(m) / rate
        freq = math.exp(rng.uniform(math.log(1500.0), math.log(min(7000.0, 0.4 * rate))))
        wave = np.exp(-t / (length / rate / 4)) * np.sin(2 * np.pi * freq * t) * rng.lognormal(0.0, 0.6)
        pan = rng.random()
        drops[start : start + m] += wave[:, None] * np.array([math.cos(pan * math.pi / 2), math.sin(pan * math.pi / 2)])
    return bed + 0.45 * patter + 0.6 * _unit(drops), None


def _wind(rng: np.random.Generator, total: int, loop_n: int, rate: int) -> tuple[Stereo, Stereo | None]:
    low = _unit(_filt(_wide(rng, total, 0.4), rate, "lowpass", 250.0))
    high = _unit(_filt(_wide(rng, total, 0.4), rate, "bandpass", (300.0, 1400.0)))
    whistle_hz = rng.uniform(450.0, 900.0)
    whistle = _unit(_filt(_wide(rng, total, 0.7), rate, "bandpass", (whistle_hz * 0.97, whistle_hz * 1.03)))
    gust = _drift(rng, total, rate, 0.2) ** 1.5
    shift = int(0.15 * rate)  # the gust reaches one ear a little later
    gusts = np.stack([gust, np.concatenate([gust[:shift], gust[:-shift]]) if total > shift else gust], axis=1)
    # the gust opens the filter: the brighter band comes in as it rises, the whole grows louder
    return (0.35 + 0.65 * gusts) * (low * (1 - 0.6 * gusts) + 0.9 * gusts * high + 0.35 * gusts**2 * whistle), None


def _crowd(rng: np.random.Generator, total: int, loop_n: int, rate: int) -> tuple[Stereo, Stereo | None]:
    inner = 16000  # the murmur has nothing above 4 kHz: made at 16 kHz, then resampled
    n = int(math.ceil(total * inner / rate)) + 1
    out = np.zeros((n, 2))
    t = np.arange(n) / inner
    for _ in range(16):
        f0 = rng.uniform(95.0, 230.0) * (1 + 0.03 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t))
        source = 0.6 * signal.sawtooth(2 * np.pi * np.cumsum(f0) / inner) + 0.4 * rng.standard_normal(n)
        f1, f2 = rng.uniform(300.0, 800.0), rng.uniform(1000.0, 2400.0)
        voice = _filt(source, inner, "bandpass", (f1 * 0.7, f1 * 1.3)) + 0.5 * _filt(
            source, inner, "bandpass", (f2 * 0.8, f2 * 1.2)
        )
        envelope = np.zeros(n)
        pos, talking_until = int(rng.uniform(0, 1.5) * inner), 0
        syllable_rate = rng.uniform(3.0, 6.0)
        while pos < n:
            if pos >= talking_until:  # a phrase of 1.5-4 s after a pause of 0.3-1.5 s
                pos += int(rng.uniform(0.3, 1.5) * inner)
                talking_until = pos + int(rng.uniform(1.5, 4.0) * inner)
                continue
            length = int(rng.uniform(0.6, 0.9) / syllable_rate * inner)
            m = max(0, min(length, n - pos))
            envelope[pos : pos + m] += np.hanning(length)[:m] * rng.uniform(0.5, 1.0)
            pos += int(rng.uniform(0.7, 1.3) / syllable_rate * inner)
        pan = rng.random()
        out += (_unit(voice) * envelope)[:, None] * np.array([math.cos(pan * math.pi / 2), math.sin(pan * math.pi / 2)])
    g = math.gcd(rate, inner)
    murmur = np.asarray(signal.resample_poly(out, rate // g, inner // g, axis=0))[:total]
    murmur = _filt(murmur, rate, "lowpass", 3500.0)
    room = _filt(_pink(rng, total), rate, "lowpass", 800.0)
    return _unit(murmur) + 0.18 * room, None


def _city(rng: np.random.Generator, total: int, loop_n: int, rate: int) -> tuple[Stereo, Stereo | None]:
    brown = np.asarray(signal.lfilter([1.0], [1.0, -0.999], _wide(rng, total, 0.8), axis=0))
    rumble = _unit(_filt(_filt(brown, rate, "lowpass", 150.0), rate, "highpass", 20.0))
    wash = _unit(_filt(_pink(rng, total), rate, "lowpass", 1200.0))
    traffic = _unit(_filt(_wide(rng, total, 0.5), rate, "bandpass", (150.0, 1500.0)))
    swells = np.zeros((total, 2))
    for start, length in _bumps(rng, total, rate, 1 / 6, (3.0, 8.0)):  # distant cars passing, one way or the other
        m = min(length, total - start)
        envelope = np.hanning(length)[:m] ** 2 * rng.lognormal(0.0, 0.4)
        way = np.linspace(0.0, 1.0, length)[:m] if rng.random() < 0.5 else np.linspace(1.0, 0.0, length)[:m]
        swells[start : start + m] += np.stack(
            [envelope * np.cos(way * np.pi / 2), envelope * np.sin(way * np.pi / 2)], 1
        )
    tones = _hum(loop_n, rate, float(rng.choice([50.0, 60.0])), (0.12, 0.07, 0.05, 0.03))
    return rumble + 0.35 * wash + 1.2 * swells * traffic, tones


_GENERATORS: dict[str, Callable[[np.random.Generator, int, int, int], tuple[Stereo, Stereo | None]]] = {
    "room": _room,
    "rain": _rain,
    "wind": _wind,
    "crowd": _crowd,
    "city": _city,
}
