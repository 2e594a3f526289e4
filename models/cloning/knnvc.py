"""kNN voice conversion (Baas et al. 2023, with the parts that ship here: models/cloning/vocoder.py).

A person's *matching set* is their consented reference speech cut into HiFi-GAN frames (86.1 per second): for
each frame its content features (the Whisper encoder's block output, interpolated to the frame), its 80-band
log-mel and its F0. Converting a line (spoken by a stock voice):
1. its F0 contour is moved into the person's range by WORLD (log-F0 z-scores kept: the delivery the prosody
   transfer chose survives; a delivery's pitch and range controls move it further);
2. each frame's features find the k reference frames nearest in cosine; their mel frames, averaged and smoothed
   over a few frames, are the person's rendering of it;
3. on a few dozen seconds of reference that alone is hard to understand (the sweep measured WER 0.6-1.3), so a
   share (`source_mix`) of the line's own mel, moved by the person's long-term spectrum (`spectrum_eq`), is
   mixed back, more where no reference frame matches well (`poor_mix`); the enrolment picks the least share
   that keeps the words intelligible;
4. HiFi-GAN speaks the result.
Optionally (pitch_weight > 0) the k are chosen among the `pool` nearest by content for their F0's closeness
to the line's, so averaged frames share their harmonics.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from models.base import EngineError
from models.cloning.embedding import resample
from models.cloning.vocoder import FEATURE_RATE, MEL_FPS, VOCODER_RATE, HifiGan, WhisperFeatures, log_mel

MATCHSET_VERSION = 1


def to_frames(x: np.ndarray, n: int) -> np.ndarray:
    """(T, D) frames linearly interpolated to n frames over the same time span."""
    x = np.asarray(x, np.float32)
    if len(x) == n:
        return x
    if len(x) == 1:
        return np.repeat(x, n, axis=0)
    pos = np.linspace(0, len(x) - 1, n)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(x) - 1)
    w = (pos - lo)[:, None].astype(np.float32)
    return np.asarray((1 - w) * x[lo] + w * x[hi], np.float32)


def frame_f0(audio22k: np.ndarray, n: int) -> np.ndarray:
    """Log F0 at each of n HiFi-GAN frames (NaN where unvoiced): DIO + StoneMask at the frames' hop."""
    from models.cloning.world import _pyworld

    pw = _pyworld()
    x = np.asarray(audio22k, np.float64)
    period = 1000.0 / MEL_FPS
    f0, t = pw.dio(x, VOCODER_RATE, frame_period=period, f0_floor=60.0, f0_ceil=500.0)
    f0 = pw.stonemask(x, f0, t, VOCODER_RATE)
    f0 = np.pad(f0, (0, max(0, n - len(f0))))[:n]
    return np.where(f0 > 0, np.log(np.maximum(f0, 1e-3)), np.nan).astype(np.float32)


def unit_rows(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return np.asarray(x / np.maximum(n, 1e-8), np.float32)


@dataclass
class MatchSet:
    """A person's reference frames: unit content features (M, D), log-mel (M, 80), log F0 (M,) NaN unvoiced."""

    features: np.ndarray
    mels: np.ndarray
    log_f0: np.ndarray

    @property
    def seconds(self) -> float:
        return len(self.mels) / MEL_FPS

    def f0_stats(self) -> tuple[float, float]:
        v = self.log_f0[np.isfinite(self.log_f0)]
        if v.size < 10:
            return float(np.log(150.0)), 0.2
        return float(v.mean()), float(max(v.std(), 1e-3))

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, version=MATCHSET_VERSION, features=self.features, mels=self.mels, log_f0=self.log_f0)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> MatchSet:
        with np.load(io.BytesIO(data)) as z:
            if int(z["version"]) != MATCHSET_VERSION:
                raise EngineError(f"matching set version {int(z['version'])}, this dubline reads {MATCHSET_VERSION}")
            return cls(np.asarray(z["features"]), np.asarray(z["mels"]), np.asarray(z["log_f0"]))

    @classmethod
    def join(cls, parts: list[MatchSet]) -> MatchSet:
        return cls(
            np.concatenate([p.features for p in parts]),
            np.concatenate([p.mels for p in parts]),
            np.concatenate([p.log_f0 for p in parts]),
        )


@dataclass(frozen=True)
class KnnSettings:
    """How lines are converted (see the module's notes). Recorded in the profile. The defaults were chosen by
    `python -m benchmarks.eval.cloning_sweep` (figures in its docstring)."""

    blocks: tuple[int, ...] = (4,)  # the Whisper encoder blocks (1-based) whose mean is the content feature
    k: int = 4
    pool: int = 4  # nearest by content; the k nearest in pitch among them (pool == k: content only)
    pitch_weight: float = 0.0  # cosine distance per unit of log F0 difference, in choosing among the pool
    softmax_t: float = 0.0  # 0: plain mean of the k; else weights softmax(cos / t)
    smooth: int = 3  # frames of a moving average over the matched mel (1: none)
    source_mix: float = 0.3  # share of the line's own mel (its F0 and spectrum moved toward the person's)
    poor_mix: float = 0.3  # more of it, up to this much again, where the match is poor
    poor_below: float = 0.7  # mean cosine of the k under which a frame counts as poorly matched
    voiced_penalty: float = 0.5  # added distance for a voiced/unvoiced mismatch (with pitch_weight)
    center: bool = False  # match on features less each side's mean (removes what is constant: the speaker)
    shift_f0: bool = True  # move the line's F0 into the person's range (WORLD) before converting
    eq: bool = True  # the line's own mel moved by the person's long-term spectrum (less the base voice's)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["blocks"] = list(self.blocks)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KnnSettings:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "blocks" in known:
            known["blocks"] = tuple(int(b) for b in known["blocks"])
        return cls(**known)


@dataclass
class Converted:
    audio: np.ndarray  # 22.05 kHz
    mean_cosine: float  # how well the line's frames matched the person's (mean over frames of the k's cosine)
    poor_share: float  # share of frames under poor_below
    figures: dict[str, float] = field(default_factory=dict)


class KnnVC:
    """Builds matching sets and converts speech toward one (see the module's notes)."""

    def __init__(
        self,
        settings: KnnSettings = KnnSettings(),
        *,
        features: WhisperFeatures | None = None,
        vocoder: HifiGan | None = None,
        model_dir: Any = None,
        threads: int | None = None,
    ) -> None:
        self.settings = settings
        self.features = features or WhisperFeatures(blocks=settings.blocks, model_dir=model_dir)
        self.vocoder = vocoder or HifiGan(threads=threads)

    def analyse(self, audio: np.ndarray, rate: int, with_f0: bool = True) -> MatchSet:
        """One recording's frames: features, mel, F0 (as a MatchSet; a line's own analysis too). Without
        `with_f0` the F0 is left unvoiced (NaN): a line's own F0 is needed only by pitch-aware matching."""
        a22 = resample(audio, rate, VOCODER_RATE)
        mel = log_mel(a22)
        feats = self.features(resample(audio, rate, FEATURE_RATE))
        f0 = frame_f0(a22, len(mel)) if with_f0 else np.full(len(mel), np.nan, np.float32)
        return MatchSet(unit_rows(to_frames(feats, len(mel))), mel, f0)

    def matchset(self, clips: list[tuple[np.ndarray, int]]) -> MatchSet:
        if not clips:
            raise EngineError("no reference speech to build a matching set from")
        return MatchSet.join([self.analyse(a, r) for a, r in clips])

    def match(
        self,
        src: MatchSet,
        target: MatchSet,
        src_f0_stats: tuple[float, float] | None = None,
        pitch: float = 1.0,
        pitch_range: float = 1.0,
        eq: np.ndarray | None = None,
    ) -> Converted:
        """The line's frames replaced by the person's (the converted log-mel in `audio`'s place: see convert).
        `pitch` and `pitch_range` move the F0 aimed at (a delivery's pitch controls); `eq` (80 bands) is added
        to the line's own mel where part of it is kept (see `spectrum_eq`)."""
        s = self.settings
        if len(target.features) < s.k:
            raise EngineError(f"the matching set has {len(target.features)} frames; {s.k} are needed")
        if s.center:
            sims = (
                unit_rows(src.features - src.features.mean(0)) @ unit_rows(target.features - target.features.mean(0)).T
            )
        else:
            sims = src.features @ target.features.T  # (T, M)
        pool = min(max(s.pool, s.k), sims.shape[1])
        idx = np.argpartition(-sims, pool - 1, axis=1)[:, :pool]
        cand = np.take_along_axis(sims, idx, axis=1)
        dist = 1.0 - cand
        if s.pitch_weight > 0 and pool > s.k:
            src_stats = src_f0_stats or src.f0_stats()
            dst = target.f0_stats()
            z = (src.log_f0 - src_stats[0]) / src_stats[1]
            want = dst[0] + float(np.log(pitch)) + z * dst[1] * pitch_range  # NaN where the line is unvoiced
            have = target.log_f0[idx]
            w_v, h_v = np.isfinite(want)[:, None], np.isfinite(have)
            gap = np.where(w_v & h_v, np.abs(np.nan_to_num(want)[:, None] - np.nan_to_num(have)), 0.0)
            dist = dist + s.pitch_weight * gap + s.voiced_penalty * (w_v != h_v)
        order = np.argsort(dist, axis=1)[:, : s.k]
        chosen = np.take_along_axis(idx, order, axis=1)
        chosen_sim = np.take_along_axis(cand, order, axis=1)
        if s.softmax_t > 0:
            w = np.exp((chosen_sim - chosen_sim.max(axis=1, keepdims=True)) / s.softmax_t)
        else:
            w = np.ones_like(chosen_sim)
        w = (w / w.sum(axis=1, keepdims=True)).astype(np.float32)
        mel = np.einsum("tk,tkd->td", w, target.mels[chosen])
        quality = chosen_sim.mean(axis=1)
        poor = quality < s.poor_below
        if s.smooth > 1:
            kernel = np.ones(s.smooth, np.float32) / s.smooth
            pad = s.smooth // 2
            padded = np.pad(mel, ((pad, s.smooth - 1 - pad), (0, 0)), mode="edge")
            mel = np.stack([np.convolve(padded[:, j], kernel, mode="valid") for j in range(mel.shape[1])], axis=1)
        share = np.full((len(mel), 1), s.source_mix, np.float32)
        if s.poor_mix > 0:
            share = share + s.poor_mix * np.clip((s.poor_below - quality) / 0.1, 0.0, 1.0)[:, None]
        share = np.clip(share, 0.0, 1.0)
        if share.any():
            own = src.mels + (np.asarray(eq, np.float32)[None, :] if eq is not None else 0.0)
            mel = (1 - share) * mel + share * own
        return Converted(np.asarray(mel, np.float32), float(quality.mean()), float(poor.mean()))

    def shift_f0(
        self, audio: np.ndarray, rate: int, src: tuple[float, float], dst: tuple[float, float], pitch: float, rng: float
    ) -> np.ndarray:
        """The line with its log-F0 z-scores moved from `src` (the base voice's mean, spread) onto `dst` (the
        person's), times `pitch`, spread times `rng` (WORLD; the spectral envelope stays)."""
        from models.cloning.world import _match_length, analyse, map_f0, synthesize

        a = analyse(audio, rate)
        a.f0 = map_f0(a.f0, src, (dst[0] + float(np.log(pitch)), dst[1]), rng)
        return _match_length(synthesize(a), len(audio))

    def convert(
        self,
        audio: np.ndarray,
        rate: int,
        target: MatchSet,
        src_f0_stats: tuple[float, float] | None = None,
        pitch: float = 1.0,
        pitch_range: float = 1.0,
        eq: np.ndarray | None = None,
    ) -> Converted:
        """A line (any rate) spoken in the matching set's voice: 22.05 kHz audio and how well it matched.
        `src_f0_stats`: the base voice's log-F0 (mean, spread), measured once (else the line's own)."""
        if len(audio) < rate // 20:
            raise EngineError("too little audio to convert (under 50 ms)")
        s = self.settings
        n = int(round(len(audio) * VOCODER_RATE / rate))
        # everything below 8 kHz (the vocoder's top mel band): 16 kHz is enough, and WORLD runs faster there
        line = resample(audio, rate, FEATURE_RATE)
        if s.shift_f0:
            stats = src_f0_stats or self.analyse_f0(line, FEATURE_RATE)
            line = self.shift_f0(line, FEATURE_RATE, stats, target.f0_stats(), pitch, pitch_range)
            src_f0_stats, pitch, pitch_range = target.f0_stats(), 1.0, 1.0  # already where it is aimed
        src = self.analyse(line, FEATURE_RATE, with_f0=s.pitch_weight > 0 and s.pool > s.k)
        res = self.match(src, target, src_f0_stats, pitch, pitch_range, eq if s.eq else None)
        y = self.vocoder(res.audio)
        y = np.pad(y, (0, max(0, n - len(y))))[:n]
        peak = float(np.max(np.abs(y))) if len(y) else 0.0
        if peak > 0.99:
            y = y * np.float32(0.99 / peak)
        return Converted(np.asarray(y, np.float32), res.mean_cosine, res.poor_share)

    @staticmethod
    def analyse_f0(audio: np.ndarray, rate: int) -> tuple[float, float]:
        from models.cloning.world import f0_track, log_f0_stats

        return log_f0_stats([f0_track(audio, rate)])


def voiced_mean(m: MatchSet) -> np.ndarray:
    """The mean log-mel of the voiced frames (all frames where too few are voiced)."""
    v = np.isfinite(m.log_f0)
    return np.asarray((m.mels[v] if v.sum() >= 10 else m.mels).mean(axis=0), np.float32)


def spectrum_eq(person: MatchSet, base: list[MatchSet], bands: int = 5) -> np.ndarray:
    """(80,) log-mel offset from the base voice's long-term spectrum to the person's (voiced frames), smoothed
    over `bands` neighbouring bands: what moves the line's own kept spectrum toward the person."""
    diff = voiced_mean(person) - np.mean([voiced_mean(b) for b in base], axis=0)
    padded = np.pad(diff, (bands // 2, bands - 1 - bands // 2), mode="edge")
    return np.asarray(np.convolve(padded, np.ones(bands) / bands, mode="valid"), np.float32)
