"""The AD mix, shared by audio description and a dub's described track: the programme (or a dub) ducked only
while a description speaks (attack and release ramps, so nothing pumps between words), the descriptions set
at the programme's own active level plus a gain, the sum normalized to a loudness profile and watermarked;
with the programme's level under the descriptions and outside them, as measured before normalization."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline.audio import loudness
from pipeline.core.config import Settings
from pipeline.core.stagerun import StageRun
from pipeline.stages.ingest import MIX_RATE
from pipeline.stages.mix import duck_mix_master


def ad_mix(
    settings: Settings,
    run: StageRun,
    programme: np.ndarray,
    desc: np.ndarray,
    spans: list[tuple[float, float]],
    params: dict[str, Any],
    prof: loudness.Profile,
    name: str,
) -> tuple[Path, dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    sr = MIX_RATE
    n = programme.shape[0]
    desc = np.asarray(desc, dtype=np.float32)
    desc = desc[:n] if len(desc) >= n else np.pad(desc, (0, n - len(desc)))
    spans = [(float(a), float(b)) for a, b in spans]
    desc_gain_db = _description_gain_db(programme, desc, spans, sr) + params["description_gain_db"]
    done = duck_mix_master(
        settings, run, programme, desc, spans, params["duck_db"], desc_gain_db, prof, name, keep_gain=True
    )
    path, gain = done.path, done.gain
    assert gain is not None
    measured = {**done.loudness, "description_gain_db": round(desc_gain_db, 2), "peak_scale": round(done.scale, 4)}
    levels = programme_levels(programme * gain[:, None], spans, sr)
    under = _active_db(programme, sr, spans) if spans else None  # the same spans, not ducked
    if under is not None and levels["under_db"] is not None:
        levels["ducked_by_db"] = round(levels["under_db"] - under, 2)  # the duck as heard, ramps included
    return path, measured, levels, done.mark


def _active_db(x: np.ndarray, sr: int, spans: list[tuple[float, float]] | None) -> float | None:
    """RMS level (dBFS) of `x` (mono) over `spans` (None: everywhere), of its 50 ms frames above -60 dBFS."""
    mono = x if x.ndim == 1 else x.mean(axis=1)
    if spans is not None:
        parts = [mono[int(a * sr) : int(b * sr)] for a, b in spans]
        mono = np.concatenate(parts) if parts else mono[:0]
    hop = sr // 20
    frames = mono[: len(mono) // hop * hop].reshape(-1, hop) if len(mono) >= hop else mono[:0].reshape(0, hop)
    if frames.size == 0:
        return None
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    loud = rms[rms > 10 ** (-60 / 20)]
    if loud.size == 0:
        return None
    return float(20 * np.log10(np.sqrt(np.mean(loud**2))))


def _description_gain_db(programme: np.ndarray, desc: np.ndarray, spans: list[tuple[float, float]], sr: int) -> float:
    """The gain that brings the descriptions' speech to the programme's own level (its active frames); 0 when
    either is silent."""
    p = _active_db(programme, sr, None)
    d = _active_db(desc, sr, spans)
    if p is None or d is None:
        return 0.0
    return float(np.clip(p - d, -20.0, 20.0))


def _complement(spans: list[tuple[float, float]], end: float) -> list[tuple[float, float]]:
    out, t = [], 0.0
    for a, b in sorted(spans):
        if a > t:
            out.append((t, a))
        t = max(t, b)
    if t < end:
        out.append((t, end))
    return out


def programme_levels(ducked: np.ndarray, spans: list[tuple[float, float]], sr: int) -> dict[str, Any]:
    """The programme's level (as ducked, before normalization) under the descriptions and outside them (where
    the dialogue is: so the difference is more than the duck). ad_mix adds `ducked_by_db`: the level under the
    descriptions against the same spans not ducked."""
    end = ducked.shape[0] / sr
    under = _active_db(ducked, sr, spans) if spans else None
    outside = _active_db(ducked, sr, _complement(spans, end))
    return {
        "under_db": None if under is None else round(under, 2),
        "outside_db": None if outside is None else round(outside, 2),
        "difference_db": None if under is None or outside is None else round(under - outside, 2),
    }
