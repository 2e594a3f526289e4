"""Mixing in numpy: the dub over the original, the original ducked under dub speech."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from pipeline.text.timing import speech_envelope


def duck_gain(
    spans: list[tuple[float, float]], n: int, rate: int, low_db: float, attack_s: float, release_s: float
) -> np.ndarray:
    gain = np.ones(n, dtype=np.float32)
    for a, b, g0, g1 in speech_envelope(spans, n, rate, low_db, attack_s, release_s):
        gain[a:b] = np.linspace(g0, g1, b - a, endpoint=False, dtype=np.float32)
    return gain


def mix_over(
    original: np.ndarray, dub: np.ndarray, gain: np.ndarray, dub_gain_db: float = 0.0, ceiling: float = 0.97
) -> tuple[np.ndarray, float]:
    """original (n, channels), dub (n,) mono, gain (n,). Returns the mix and the scale applied to keep
    its peak under `ceiling` (1.0 when none was needed)."""
    n = original.shape[0]
    dub = dub[:n] if len(dub) >= n else np.pad(dub, (0, n - len(dub)))
    out = np.multiply(original, gain[:, None], dtype=np.float32)  # one programme-sized array, changed in place
    out += (dub * np.float32(10 ** (dub_gain_db / 20)))[:, None]
    peak = float(max(out.max(initial=0.0), -out.min(initial=0.0)))
    scale = ceiling / peak if peak > ceiling else 1.0
    if scale != 1.0:
        out *= np.float32(scale)
    return out, scale


def mix_files_over(
    original: Path,
    dub: Path,
    gain: np.ndarray,
    dest: Path,
    dub_gain_db: float = 0.0,
    ceiling: float = 0.97,
    block: int = 1 << 18,
) -> float:
    """mix_over streamed: the WAV `original` (any channels) ducked by `gain` (one value per sample), the mono
    WAV `dub` over it, written to `dest` as 32-bit float; returns the scale that kept the peak under
    `ceiling`. The same samples as mix_over, without holding the programme: two passes over the files (the
    peak, then the scaled mix), each `block` samples at a time (a 10-minute stereo mix held whole is 0.46 GB
    in, 0.23 GB out)."""
    g = np.float32(10 ** (dub_gain_db / 20))

    def mixed() -> Iterator[np.ndarray]:
        with sf.SoundFile(str(original)) as fo, sf.SoundFile(str(dub)) as fd:
            i = 0
            for part in fo.blocks(blocksize=block, dtype="float32", always_2d=True):
                d = fd.read(len(part), dtype="float32", always_2d=True)[:, 0]
                if len(d) < len(part):
                    d = np.pad(d, (0, len(part) - len(d)))
                out = np.multiply(part, gain[i : i + len(part), None], dtype=np.float32)
                out += (d * g)[:, None]
                i += len(part)
                yield out

    peak = 0.0
    for out in mixed():
        peak = max(peak, float(max(out.max(initial=0.0), -out.min(initial=0.0))))
    scale = ceiling / peak if peak > ceiling else 1.0
    info = sf.info(str(original))
    with sf.SoundFile(str(dest), "w", int(info.samplerate), info.channels, "FLOAT") as w:
        for out in mixed():
            if scale != 1.0:
                out *= np.float32(scale)
            w.write(out)
    return scale


QUIET_DB = -45.0  # a stretch of the base quieter than this (RMS, dBFS) is silent: a bed may fill it
_WINDOW_S = 0.4  # the base's level is measured in windows this long
_FADE_S = 0.75  # the bed comes in and goes out over this long


def quiet_mask(base: np.ndarray, rate: int, quiet_db: float = QUIET_DB) -> np.ndarray:
    """Per sample, 1.0 where the base (n, channels) is silent (its windowed RMS below `quiet_db`) and 0.0
    where it sounds; the edges faded over `_FADE_S`, so a bed swells in and out instead of switching."""
    n = base.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    from scipy.ndimage import uniform_filter1d

    power = np.square(base, dtype=np.float64).mean(axis=1)
    win = max(1, round(_WINDOW_S * rate))
    level = 10 * np.log10(uniform_filter1d(power, win, mode="nearest") + 1e-12)
    mask = (level < quiet_db).astype(np.float32)
    fade = max(1, round(_FADE_S * rate))
    return np.clip(uniform_filter1d(mask, fade, mode="nearest"), 0.0, 1.0).astype(np.float32)


def lay_bed(
    base: np.ndarray,
    bed: np.ndarray,
    rate: int,
    spans: list[tuple[float, float]],
    level_db: float,
    duck_db: float,
    attack_s: float,
    release_s: float,
) -> tuple[np.ndarray, dict[str, float]]:
    """`bed` (any length, mono or stereo) laid under `base` (n, channels) where the base is silent
    (quiet_mask), at `level_db` RMS, ducked by `duck_db` under the speech `spans`. Returns the new base and
    figures: the seconds the bed is heard at more than half its level, its gain under speech."""
    n, channels = base.shape
    bed = bed if bed.ndim == 2 else bed[:, None]
    if bed.shape[0] == 0 or n == 0:
        return base, {"heard_s": 0.0, "level_db": level_db, "duck_db": duck_db}
    reps = -(-n // bed.shape[0])
    bed = np.tile(bed, (reps, 1))[:n]
    if bed.shape[1] != channels:
        bed = np.repeat(bed.mean(axis=1, keepdims=True), channels, axis=1)
    rms = float(np.sqrt(np.mean(np.square(bed, dtype=np.float64))))
    scale = 10 ** (level_db / 20) / rms if rms > 0 else 0.0
    gain = quiet_mask(base, rate) * duck_gain(spans, n, rate, duck_db, attack_s, release_s)
    out = base + bed * (gain * np.float32(scale))[:, None]
    heard = float(np.count_nonzero(gain > 0.5)) / rate
    return out.astype(np.float32), {"heard_s": round(heard, 2), "level_db": level_db, "duck_db": duck_db}
