"""WORLD (pyworld) voice matching: move a synthetic voice toward a person's by plain signal processing.

Three corrections, each measured from the person's reference speech and the base voice's own speech:
- F0: log-F0 mean and spread mapped onto the reference's (a z-score in log-F0, so intonation shape stays);
- formants: the spectral envelope warped along frequency by a ratio alpha (sp'(f) = sp(f / alpha); alpha > 1
  moves formants up, as from a longer to a shorter vocal tract), chosen by a small search scored by the speaker
  encoder;
- channel and voice quality: a long-term average spectrum (LTAS) equaliser toward the reference, smooth,
  level-free (mean removed) and bounded to +-10 dB.
../shared/MODELS.md: such matching moved TTS voices from cosine 0.50 to 0.58 toward real targets, with the
speech still intelligible. Also `shift_pitch`, the Kokoro engine's pitch / pitch-range control.

Analysis is DIO + StoneMask (F0), CheapTrick (envelope), D4C (aperiodicity): about 0.2 x real time on a core.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.base import EngineUnavailable

FRAME_MS = 5.0
EQ_FREQS = np.linspace(0.0, 8000.0, 65)  # the equaliser's grid (Hz); above 8 kHz its last value holds
EQ_LIMIT_DB = 10.0
DEFAULT_ALPHAS: tuple[float, ...] = (0.9, 1.0, 1.1)


def _pyworld() -> Any:
    try:
        import pyworld
    except ImportError as e:
        raise EngineUnavailable(f"pyworld is not installed ({e}); run `make setup`") from e
    return pyworld


@dataclass
class WorldAnalysis:
    f0: np.ndarray
    sp: np.ndarray
    ap: np.ndarray
    sample_rate: int


def analyse(audio: np.ndarray, sample_rate: int) -> WorldAnalysis:
    pw = _pyworld()
    x = np.asarray(audio, dtype=np.float64)
    f0, t = pw.dio(x, sample_rate, frame_period=FRAME_MS, f0_floor=60.0, f0_ceil=500.0)
    f0 = pw.stonemask(x, f0, t, sample_rate)
    sp = pw.cheaptrick(x, f0, t, sample_rate)
    ap = pw.d4c(x, f0, t, sample_rate)
    return WorldAnalysis(f0, sp, ap, sample_rate)


def synthesize(a: WorldAnalysis) -> np.ndarray:
    pw = _pyworld()
    c = np.ascontiguousarray
    y = pw.synthesize(c(a.f0, np.float64), c(a.sp, np.float64), c(a.ap, np.float64), a.sample_rate, FRAME_MS)
    return np.asarray(y, dtype=np.float32)


def f0_track(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Voiced F0 values (Hz) of a recording (DIO + StoneMask)."""
    pw = _pyworld()
    x = np.asarray(audio, dtype=np.float64)
    f0, t = pw.dio(x, sample_rate, frame_period=FRAME_MS, f0_floor=60.0, f0_ceil=500.0)
    f0 = pw.stonemask(x, f0, t, sample_rate)
    return np.asarray(f0[f0 > 0], dtype=np.float64)


def log_f0_stats(tracks: Sequence[np.ndarray]) -> tuple[float, float]:
    """Mean and standard deviation of log F0 over the voiced frames of several F0 tracks."""
    voiced = np.concatenate([np.asarray(t, dtype=np.float64) for t in tracks]) if tracks else np.zeros(0)
    voiced = voiced[voiced > 0]
    if voiced.size < 10:
        return float(np.log(150.0)), 0.2
    lf = np.log(voiced)
    return float(lf.mean()), float(max(lf.std(), 1e-3))


def map_f0(f0: np.ndarray, src: tuple[float, float], dst: tuple[float, float], range_scale: float = 1.0) -> np.ndarray:
    """Voiced frames' log F0 moved from the source's (mean, sd) onto the target's; unvoiced stay 0."""
    out = np.zeros_like(f0)
    v = f0 > 0
    z = (np.log(f0[v]) - src[0]) / src[1]
    out[v] = np.exp(dst[0] + z * dst[1] * range_scale)
    return out


def shift_pitch(audio: np.ndarray, sample_rate: int, pitch: float = 1.0, pitch_range: float = 1.0) -> np.ndarray:
    """Audio with F0 multiplied by `pitch` and its log-F0 spread around the mean by `pitch_range`."""
    a = analyse(audio, sample_rate)
    v = a.f0 > 0
    if v.any():
        lf = np.log(a.f0[v])
        m = lf.mean()
        a.f0[v] = np.exp(m + (lf - m) * pitch_range) * pitch
    return _match_length(synthesize(a), len(audio))


def warp_envelope(sp: np.ndarray, alpha: float) -> np.ndarray:
    """sp'(f) = sp(f / alpha) on CheapTrick's linear bins (formants scale by alpha)."""
    if abs(alpha - 1.0) < 1e-6:
        return sp
    bins = sp.shape[1]
    src = np.arange(bins) / alpha
    idx = np.clip(src, 0, bins - 1)
    lo = np.floor(idx).astype(int)
    hi = np.minimum(lo + 1, bins - 1)
    w = idx - lo
    log_sp = np.log(np.maximum(sp, 1e-16))
    out = (1 - w) * log_sp[:, lo] + w * log_sp[:, hi]
    return np.exp(out)


def ltas_db(audio: np.ndarray, sample_rate: int, freqs: np.ndarray = EQ_FREQS, frame: int = 1024) -> np.ndarray:
    """Long-term average spectrum (dB) at `freqs`, over the louder (speech) frames, level removed."""
    x = np.asarray(audio, dtype=np.float64)
    hop = frame // 2
    n = max(1, 1 + (len(x) - frame) // hop)
    if len(x) < frame:
        x = np.pad(x, (0, frame - len(x)))
        n = 1
    win = np.hanning(frame)
    frames = np.stack([x[i * hop : i * hop + frame] * win for i in range(n)])
    energy = (frames**2).sum(axis=1)
    keep = energy >= np.percentile(energy, 40)  # speech, not the pauses
    power = (np.abs(np.fft.rfft(frames[keep], axis=1)) ** 2).mean(axis=0) + 1e-12
    bin_f = np.fft.rfftfreq(frame, 1.0 / sample_rate)
    db = 10.0 * np.log10(np.interp(freqs, bin_f, power))
    smooth = np.convolve(np.pad(db, 2, mode="edge"), np.ones(5) / 5.0, mode="valid")
    return np.asarray(smooth - smooth.mean(), dtype=np.float64)


def eq_curve(target_db: np.ndarray, current_db: np.ndarray, limit_db: float = EQ_LIMIT_DB) -> np.ndarray:
    """A smooth, level-free, bounded correction (dB on EQ_FREQS) from current toward target."""
    diff = np.asarray(target_db) - np.asarray(current_db)
    diff = np.convolve(np.pad(diff, 3, mode="edge"), np.ones(7) / 7.0, mode="valid")
    diff -= diff.mean()
    return np.asarray(np.clip(diff, -limit_db, limit_db), dtype=np.float64)


def apply_eq(sp: np.ndarray, sample_rate: int, eq_db: np.ndarray) -> np.ndarray:
    bins = sp.shape[1]
    bin_f = np.linspace(0.0, sample_rate / 2.0, bins)
    gain_db = np.interp(bin_f, EQ_FREQS, eq_db)  # beyond 8 kHz: the last value
    return sp * (10.0 ** (gain_db / 10.0))[None, :]  # sp is a power spectrum


@dataclass
class WorldParams:
    """What a world-match profile stores: how to move the base voice's speech toward the person's."""

    src_log_f0: tuple[float, float]
    dst_log_f0: tuple[float, float]
    alpha: float = 1.0
    eq_db: list[float] = field(default_factory=lambda: [0.0] * len(EQ_FREQS))
    range_scale: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "src_log_f0": list(self.src_log_f0),
            "dst_log_f0": list(self.dst_log_f0),
            "alpha": self.alpha,
            "eq_db": [round(float(v), 3) for v in self.eq_db],
            "eq_freqs_hz": [float(f) for f in EQ_FREQS],
            "range_scale": self.range_scale,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> WorldParams:
        src, dst = doc["src_log_f0"], doc["dst_log_f0"]
        return cls(
            src_log_f0=(float(src[0]), float(src[1])),
            dst_log_f0=(float(dst[0]), float(dst[1])),
            alpha=float(doc.get("alpha", 1.0)),
            eq_db=[float(v) for v in doc.get("eq_db", [0.0] * len(EQ_FREQS))],
            range_scale=float(doc.get("range_scale", 1.0)),
        )


def _match_length(y: np.ndarray, n: int) -> np.ndarray:
    return y[:n] if len(y) >= n else np.pad(y, (0, n - len(y)))


def convert(
    audio: np.ndarray, sample_rate: int, params: WorldParams, analysis: WorldAnalysis | None = None
) -> np.ndarray:
    """The base voice's audio moved toward the person's voice (same length, peak kept below full scale)."""
    a = analysis or analyse(audio, sample_rate)
    f0 = map_f0(a.f0, params.src_log_f0, params.dst_log_f0, params.range_scale)
    sp = warp_envelope(a.sp, params.alpha)
    if any(abs(v) > 1e-6 for v in params.eq_db):
        sp = apply_eq(sp, sample_rate, np.asarray(params.eq_db))
    y = synthesize(WorldAnalysis(f0, sp, a.ap, sample_rate))
    y = _match_length(y, len(audio))
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    ref_peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak > 0:
        y = y * (min(0.95, max(ref_peak, 0.3)) / peak)
    return np.asarray(y, dtype=np.float32)


def fit(
    base_audio: Sequence[np.ndarray],
    base_rate: int,
    reference_audio: Sequence[np.ndarray],
    reference_rate: int,
    score: Callable[[list[np.ndarray]], float],
    alphas: Sequence[float] = DEFAULT_ALPHAS,
) -> tuple[WorldParams, dict[str, float]]:
    """Choose WorldParams for a base voice (its speech `base_audio`) toward a person (`reference_audio`).

    `score(converted_clips) -> similarity` rates a candidate (higher is closer, e.g. Resemblyzer cosine to the
    person's enrolment embedding). Tries each formant ratio with the F0 mapping, adds the LTAS equaliser measured
    after the warp, and keeps whichever scored best; the identity mapping where the plain base voice scored best.
    Returns the params and the scores seen ("alpha=0.90": 0.61, ..., "base": 0.55).
    """
    src = log_f0_stats([f0_track(a, base_rate) for a in base_audio])
    dst = log_f0_stats([f0_track(a, reference_rate) for a in reference_audio])
    ref_ltas = ltas_db(np.concatenate([np.asarray(a) for a in reference_audio]), reference_rate)
    analyses = [analyse(a, base_rate) for a in base_audio]
    scores: dict[str, float] = {"base": score([np.asarray(a, dtype=np.float32) for a in base_audio])}
    best: tuple[float, WorldParams] | None = None
    for alpha in alphas:
        p = WorldParams(src, dst, alpha)
        clips = [convert(a, base_rate, p, an) for a, an in zip(base_audio, analyses, strict=True)]
        s = score(clips)
        scores[f"alpha={alpha:.2f}"] = s
        if best is None or s > best[0]:
            best = (s, p)
    assert best is not None
    p = best[1]
    warped_ltas = ltas_db(
        np.concatenate([convert(a, base_rate, p, an) for a, an in zip(base_audio, analyses, strict=True)]), base_rate
    )
    with_eq = WorldParams(src, dst, p.alpha, list(eq_curve(ref_ltas, warped_ltas)))
    clips = [convert(a, base_rate, with_eq, an) for a, an in zip(base_audio, analyses, strict=True)]
    s_eq = score(clips)
    scores[f"alpha={p.alpha:.2f}+eq"] = s_eq
    if s_eq > best[0]:
        best = (s_eq, with_eq)
    if scores["base"] >= best[0]:  # WORLD made it no closer: keep the voice (identity mapping, no warp, no EQ)
        return WorldParams(src, src, 1.0), scores
    return best[1], scores
