"""Prosody measurement: the source's delivery measured per line (pipeline.speech.prosody carries it into
the dub).

Measure (`measure_segments`, `measure_clip`): per line, the speaking rate in syllables per second over the
time actually spoken (leading/trailing silence and internal pauses of 0.2 s or more excluded: pauses come
from the signal's level and from gaps between Whisper's words), F0 median and 10th-90th percentile range
(semitones) over voiced frames, the level of the voiced frames (dBFS), the pause before the line and the
pauses inside it, and the voiced share. F0 comes from Praat's autocorrelation pitch tracker
(praat-parselmouth), which is both faster and freer of octave jumps on real speech than WORLD's DIO here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.core.errors import DublineError
from pipeline.core.script import Segment, SegmentProsody
from pipeline.text.translation.checks import count_syllables

MEASURE_VERSION = "1"  # the measurement rules below; part of the voice-baseline cache key
HOP_S = 0.01  # analysis frame step
MIN_PAUSE_S = 0.2  # silence at least this long inside a line is a pause (stop closures are shorter)
SILENCE_BELOW_PEAK_DB = 30.0  # a frame this far below the line's loud frames (95th percentile) is silence,
SILENCE_ABOVE_NOISE_DB = 8.0  # ... and so is one within this of the recording's noise floor (its 5th
SILENCE_MIN_BELOW_PEAK_DB = 20.0  # percentile), if that is still this far below the loud frames (reverberant
SILENCE_FLOOR_DBFS = -60.0  # rooms: JFK's pauses sit 26-34 dB under his words); always below -60 dBFS
F0_FLOOR_HZ = 50.0
F0_CEIL_HZ = 500.0
MIN_VOICED_FRAMES = 10  # fewer voiced frames than this (0.1 s) give no F0 figures
MIN_SPEECH_S = 0.15  # less spoken time than this gives no rate


class ProsodyError(DublineError):
    """A delivery style or a measurement request that cannot be honoured."""


# --- measuring -----------------------------------------------------------------------------------


def _frame_levels(audio: np.ndarray, sr: int) -> np.ndarray:
    """Mean power per HOP_S frame, in dBFS (a full-scale square wave is 0 dB)."""
    hop = max(1, round(sr * HOP_S))
    n = len(audio) // hop
    if n == 0:
        return np.zeros(0)
    frames = np.asarray(audio[: n * hop], dtype=np.float64).reshape(n, hop)
    power = np.mean(frames**2, axis=1)
    return np.asarray(10.0 * np.log10(power + 1e-12))


def f0_track(audio: np.ndarray, sr: int) -> np.ndarray:
    """F0 in Hz per HOP_S frame (frame i covers [i*HOP_S, (i+1)*HOP_S)); 0 where unvoiced. Praat's
    autocorrelation tracker (models.worldfx.praat_f0_at): 0.004 x real time on the 60 s lecture, against
    0.007 for WORLD's DIO + StoneMask and 0.14 for Harvest, and without their octave jumps on low voices."""
    from models.worldfx import praat_f0_at

    n = len(audio) // max(1, round(sr * HOP_S))
    if n < 4:
        return np.zeros(n)
    return praat_f0_at(np.asarray(audio, dtype=np.float64), sr, (np.arange(n) + 0.5) * HOP_S, F0_FLOOR_HZ, F0_CEIL_HZ)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index runs where mask is True."""
    if mask.size == 0:
        return []
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _silence_threshold(levels: np.ndarray, noise_floor_db: float) -> float:
    """The level (dBFS) under which a frame of this stretch of speech is silence."""
    peak = float(np.percentile(levels, 95))
    return max(
        peak - SILENCE_BELOW_PEAK_DB,
        min(noise_floor_db + SILENCE_ABOVE_NOISE_DB, peak - SILENCE_MIN_BELOW_PEAK_DB),
        SILENCE_FLOOR_DBFS,
    )


def find_pauses(audio: np.ndarray, sr: int, start: float, end: float) -> list[tuple[float, float]]:
    """Silences of MIN_PAUSE_S or more inside the speech between `start` and `end` (seconds), by the same
    rule as the measurement (the noise floor taken over the whole of `audio`): where to cut a long line."""
    levels = _frame_levels(np.asarray(audio, dtype=np.float64), sr)
    lo, hi = max(0, int(start / HOP_S)), min(levels.size, int(math.ceil(end / HOP_S)))
    if hi - lo < 2:
        return []
    lv = levels[lo:hi]
    active = lv > _silence_threshold(lv, float(np.percentile(levels, 5)))
    idx = np.flatnonzero(active)
    if idx.size == 0:
        return []
    first, last = int(idx[0]), int(idx[-1]) + 1
    min_frames = round(MIN_PAUSE_S / HOP_S)
    return [
        ((lo + first + a) * HOP_S, (lo + first + b) * HOP_S)
        for a, b in _runs(~active[first:last])
        if b - a >= min_frames
    ]


@dataclass(frozen=True)
class _Span:
    """What one line's frames say: its spoken span (frame indices), pause frames inside it, F0 figures."""

    first: int
    last: int  # exclusive
    pause_frames: int
    prosody: SegmentProsody


def _measure_span(
    levels: np.ndarray,
    f0: np.ndarray,
    lo: int,
    hi: int,
    text: str,
    language: str,
    word_gaps: Sequence[tuple[float, float]] = (),
    noise_floor_db: float = -120.0,
) -> _Span | None:
    """Measure frames [lo, hi) as one line; None when the span holds no sound at all."""
    lv = levels[lo:hi]
    if lv.size == 0:
        return None
    active = lv > _silence_threshold(lv, noise_floor_db)
    if not active.any():
        return None
    idx = np.flatnonzero(active)
    first, last = int(idx[0]), int(idx[-1]) + 1
    silent = ~active[first:last]
    pause = np.zeros(last - first, dtype=bool)
    min_frames = round(MIN_PAUSE_S / HOP_S)
    for a, b in _runs(silent):
        if b - a >= min_frames:
            pause[a:b] = True
    for g0, g1 in word_gaps:  # Whisper's gaps between words (absolute frame indices)
        a, b = max(int(round(g0 / HOP_S)) - lo - first, 0), min(int(round(g1 / HOP_S)) - lo - first, last - first)
        if b - a >= min_frames:
            pause[a:b] = True
    speech_frames = int((~pause).sum())
    speech_s = speech_frames * HOP_S
    syllables = count_syllables(text, language) if text.strip() else 0
    rate = syllables / speech_s if syllables and speech_s >= MIN_SPEECH_S else None
    if rate is not None:
        rate = min(rate, 25.0)  # a syllable count on far too little audio (a mis-timed line)
    line_f0 = f0[lo + first : lo + last][~pause]
    line_lv = lv[first:last][~pause]
    voiced = line_f0 > 0
    f0_med = f0_rng = None
    if int(voiced.sum()) >= MIN_VOICED_FRAMES:
        hz = line_f0[voiced]
        f0_med = float(np.median(hz))
        p10, p90 = np.percentile(hz, [10, 90])
        f0_rng = float(12.0 * math.log2(p90 / p10))
    energy_frames = line_lv[voiced] if voiced.any() else line_lv
    energy = float(10.0 * np.log10(np.mean(10.0 ** (energy_frames / 10.0)))) if energy_frames.size else None
    sp = SegmentProsody(
        rate_sps=None if rate is None else round(rate, 3),
        f0_median_hz=None if f0_med is None else round(f0_med, 2),
        f0_range_st=None if f0_rng is None else round(f0_rng, 3),
        energy_db=None if energy is None else round(energy, 2),
        pauses_s=round(float(pause.sum()) * HOP_S, 3),
        voiced_ratio=round(float(voiced.mean()), 3) if voiced.size else None,
    )
    return _Span(first=lo + first, last=lo + last, pause_frames=int(pause.sum()), prosody=sp)


def _word_gaps(segment: Segment) -> list[tuple[float, float]]:
    words = sorted(segment.words, key=lambda w: w.start)
    return [(a.end, b.start) for a, b in zip(words, words[1:], strict=False) if b.start - a.end >= MIN_PAUSE_S]


def measure_segments(audio: np.ndarray, sr: int, segments: list[Segment], language: str) -> list[SegmentProsody]:
    """Each segment's delivery on the source audio (mono float samples at `sr`), in the order given.

    A segment with no sound at all gets an empty SegmentProsody (all figures None). pause_before is the
    silence between the previous segment's last spoken frame and this one's first (0 for the first line)."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim != 1:
        raise ProsodyError(f"measure_segments wants mono samples, got an array of shape {x.shape}")
    levels = _frame_levels(x, sr)
    n = levels.size
    f0 = np.zeros(n)
    # F0 only where lines are (a film's music and silence cost nothing), one Praat call per merged stretch.
    spans = sorted((max(0, int(s.start / HOP_S)), min(n, int(math.ceil(s.end / HOP_S)))) for s in segments)
    merged: list[list[int]] = []
    for a, b in spans:
        if b <= a:
            continue
        if merged and a <= merged[-1][1] + 50:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    hop = round(sr * HOP_S)
    for a, b in merged:
        track = f0_track(x[a * hop : b * hop], sr)
        f0[a : a + track.size] = track[: n - a]
    in_lines = np.concatenate([levels[a:b] for a, b in merged]) if merged else levels
    noise_floor = float(np.percentile(in_lines, 5)) if in_lines.size else -120.0
    out: list[SegmentProsody] = []
    prev_end: int | None = None
    for seg in segments:
        lo, hi = max(0, int(seg.start / HOP_S)), min(n, int(math.ceil(seg.end / HOP_S)))
        span = _measure_span(levels, f0, lo, hi, seg.text, language, _word_gaps(seg), noise_floor) if hi > lo else None
        if span is None:
            out.append(SegmentProsody())
            continue
        before = 0.0 if prev_end is None else max(0.0, (span.first - prev_end) * HOP_S)
        out.append(span.prosody.model_copy(update={"pause_before_s": round(before, 3)}))
        prev_end = span.last
    return out


def measure_clip(path: Path, text: str, language: str) -> SegmentProsody:
    """The same figures for a whole clip (a synthesized line): `text` is what it says."""
    from models.speaker import decode_audio

    sr = 16000
    audio = decode_audio(Path(path), sr)
    seg = Segment(id="clip", start=0.0, end=len(audio) / sr, text=text)
    return measure_segments(audio, sr, [seg], language)[0]
