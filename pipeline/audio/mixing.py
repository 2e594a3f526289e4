"""Mixing in numpy: the dub over the original, the original ducked under dub speech."""

from __future__ import annotations

import numpy as np

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
    out = original * gain[:, None] + (dub * (10 ** (dub_gain_db / 20)))[:, None]
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    scale = ceiling / peak if peak > ceiling else 1.0
    return (out * scale).astype(np.float32), scale
