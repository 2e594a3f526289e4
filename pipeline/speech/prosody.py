"""Expressive synthesis: the source's delivery measured per line, carried into the dub, and named styles.

Measure (`measure_segments`, `measure_clip`): per line, the speaking rate in syllables per second over the
time actually spoken (leading/trailing silence and internal pauses of 0.2 s or more excluded: pauses come
from the signal's level and from gaps between Whisper's words), F0 median and 10th-90th percentile range
(semitones) over voiced frames, the level of the voiced frames (dBFS), the pause before the line and the
pauses inside it, and the voiced share. F0 comes from Praat's autocorrelation pitch tracker
(praat-parselmouth), which is both faster and freer of octave jumps on real speech than WORLD's DIO here.

Transfer (`transfer`): every control is a *relative* deviation: the line against its own speaker's median
(`speaker_baseline`), applied to the target voice's natural delivery. A low male speaker therefore does not
pull a female voice down; only his rises, falls, hurries and hushes move it. Bounds keep a mis-measured line
from doing harm: rate within settings.prosody_rate_min..max, pitch within ±4 semitones, range 0.6-1.6 x,
volume within ±6 dB, approached softly (`soft_limit`) so that lines keep their order near the bounds.

Styles (`STYLES`, `style_prosody`): named deliveries for narration (audiobooks, audio description).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from models.base import Prosody
from models.mt_check import count_syllables
from pipeline.core.errors import DublineError
from pipeline.core.script import Segment, SegmentProsody

if TYPE_CHECKING:  # pragma: no cover
    from models.base import TTS, Voice
    from pipeline.core.config import Settings

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

# Transfer bounds (the rate's bounds are settings: DUBLINE_PROSODY_RATE_MIN/MAX).
PITCH_MAX_ST = 4.0
RANGE_MIN, RANGE_MAX = 0.6, 1.6
VOLUME_MAX_DB = 6.0
SOFT_KNEE = 0.5  # deviations up to half a bound pass unchanged (soft_limit)
STYLED_RATE_MIN, STYLED_RATE_MAX = 0.6, 1.6  # a style on top of a transferred rate
MAX_SYLLABLES_PER_S = 9.0  # no line is asked to go faster than this (fast natural speech is 7-8)


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


def speaker_baseline(prosodies: Sequence[SegmentProsody]) -> dict[str, float | None]:
    """One speaker's usual delivery over a job: the median of each figure over their measured lines."""

    def med(values: list[float | None]) -> float | None:
        vals = [v for v in values if v is not None]
        return float(np.median(vals)) if vals else None

    return {
        "rate_sps": med([p.rate_sps for p in prosodies]),
        "f0_median_hz": med([p.f0_median_hz for p in prosodies]),
        "f0_range_st": med([p.f0_range_st for p in prosodies]),
        "energy_db": med([p.energy_db for p in prosodies]),
    }


# --- styles --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    """A named delivery as multipliers of the voice's natural one; `pause` scales the pauses between lines
    (and sentences) that a narration inserts. `get_style(name)` looks one up."""

    rate: float = 1.0
    pitch: float = 1.0
    pitch_range: float = 1.0
    volume: float = 1.0
    pause: float = 1.0


def _st(semitones: float) -> float:
    return float(2.0 ** (semitones / 12.0))


def _db(decibels: float) -> float:
    return float(10.0 ** (decibels / 20.0))


# Directions after the expressive-speech literature (arousal raises rate, F0, F0 range and level; calm and
# serious lower them); sizes kept small enough that a TTS voice stays natural and itself.
STYLES: dict[str, Style] = {
    "neutral": Style(),
    "warm": Style(rate=0.95, pitch=_st(-0.5), pitch_range=1.15, volume=_db(-1.0), pause=1.1),
    "excited": Style(rate=1.12, pitch=_st(1.5), pitch_range=1.4, volume=_db(1.5), pause=0.8),
    "calm": Style(rate=0.88, pitch=_st(-1.0), pitch_range=0.8, volume=_db(-2.0), pause=1.3),
    "serious": Style(rate=0.94, pitch=_st(-1.5), pitch_range=0.75, volume=_db(0.0), pause=1.15),
}


def get_style(name: str) -> Style:
    """The named style; ProsodyError listing the choices for an unknown name."""
    key = name.strip().lower()
    if key not in STYLES:
        raise ProsodyError(
            f"unknown delivery style {name!r}",
            f"choose one of: {', '.join(STYLES)}",
        )
    return STYLES[key]


def style_prosody(name: str) -> Prosody:
    """The Prosody of a named style (its pause scale is for the narration's line gaps: see `style`)."""
    s = get_style(name)
    return Prosody(
        rate=round(s.rate, 4), pitch=round(s.pitch, 4), volume=round(s.volume, 4), pitch_range=round(s.pitch_range, 4)
    )


# --- transfer ------------------------------------------------------------------------------------


def _clamp(value: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, value))


def soft_limit(x: float, lo: float, hi: float, knee: float = SOFT_KNEE) -> float:
    """x kept within (lo, hi) (lo < 0 < hi) without flattening: unchanged up to `knee` of the way to a bound,
    then bent towards it as u / (1 + u) (3/4 of the way at the bound, 9/10 at 2.5 times it). Strictly
    increasing with a long tail, so the order of lines survives even far out, where engines still resolve
    it (Pico's levels are whole percent): a hard clamp put 50 of 85 lines of the evaluation on a rate bound,
    a tanh knee still tied most of them."""
    bound = hi if x >= 0 else -lo
    if bound <= 0:
        return 0.0
    start = knee * bound
    mag = abs(x)
    if mag > start:
        u = (mag - start) / (bound - start)
        mag = start + (bound - start) * u / (1.0 + u)
    return math.copysign(mag, x)


def _positive(doc: dict[str, Any], key: str) -> float | None:
    """doc[key] as a float when it is a positive number, else None (missing, None, nonsense)."""
    v = doc.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 else None


def transfer(
    src: SegmentProsody | None,
    speaker_baseline: dict[str, Any],
    voice_baseline: dict[str, Any],
    style: str | None = None,
    settings: Settings | None = None,
) -> Prosody:
    """The dub line's controls from the source line's delivery, relative to its speaker's usual one.

    rate: source rate / speaker's median rate, within settings.prosody_rate_min..max (and never past
    MAX_SYLLABLES_PER_S for the voice's natural rate, voice_baseline["rate_sps"]); pitch: the line's F0 over
    the speaker's median F0 in semitones, within ±PITCH_MAX_ST, as a multiplier of the voice's own pitch;
    pitch_range: the line's F0 range over the speaker's median range, within RANGE_MIN..RANGE_MAX; volume:
    the line's voiced level minus the speaker's, within ±VOLUME_MAX_DB. A figure missing on either side
    leaves its control at 1. Every bound is soft (soft_limit). A named style multiplies on top. With
    settings.prosody_transfer off, only the style applies."""
    from pipeline.core.config import Settings

    cfg = settings or Settings()
    named = get_style(style) if style else Style()
    rate = pitch = pitch_range = volume = 1.0
    if cfg.prosody_transfer and src is not None:
        base_rate, base_f0 = _positive(speaker_baseline, "rate_sps"), _positive(speaker_baseline, "f0_median_hz")
        base_range = _positive(speaker_baseline, "f0_range_st")
        base_energy = speaker_baseline.get("energy_db")
        if src.rate_sps and base_rate:
            lo, hi = math.log(cfg.prosody_rate_min), math.log(cfg.prosody_rate_max)
            rate = math.exp(soft_limit(math.log(src.rate_sps / base_rate), min(lo, 0.0), max(hi, 0.0)))
        if src.f0_median_hz and base_f0:
            pitch = _st(soft_limit(12.0 * math.log2(src.f0_median_hz / base_f0), -PITCH_MAX_ST, PITCH_MAX_ST))
        if src.f0_range_st and base_range:
            lo, hi = math.log(RANGE_MIN), math.log(RANGE_MAX)
            pitch_range = math.exp(soft_limit(math.log(src.f0_range_st / base_range), lo, hi))
        if src.energy_db is not None and isinstance(base_energy, (int, float)):
            volume = _db(soft_limit(src.energy_db - float(base_energy), -VOLUME_MAX_DB, VOLUME_MAX_DB))
    rate = _clamp(rate * named.rate, STYLED_RATE_MIN, STYLED_RATE_MAX)
    voice_rate = _positive(voice_baseline, "rate_sps")
    if voice_rate:
        rate = min(rate, max(1.0, MAX_SYLLABLES_PER_S / voice_rate))
    return Prosody(
        rate=round(rate, 4),
        pitch=round(pitch * named.pitch, 4),
        volume=round(volume * named.volume, 4),
        pitch_range=round(pitch_range * named.pitch_range, 4),
    )


# --- the voice's own delivery --------------------------------------------------------------------

# One plain, declarative sentence per language (no question, no exclamation: the voice's neutral delivery).
BASELINE_SENTENCES: dict[str, str] = {
    "en": "The weather was calm this morning, so we walked along the river to the old market in town.",
    "es": "El tiempo estaba tranquilo esta mañana, así que caminamos por el río hasta el viejo mercado.",
    "fr": "Le temps était calme ce matin, alors nous avons marché le long de la rivière jusqu'au marché.",
    "de": "Das Wetter war heute Morgen ruhig, also gingen wir am Fluss entlang zum alten Markt der Stadt.",
    "it": "Il tempo era tranquillo questa mattina, così abbiamo camminato lungo il fiume fino al mercato.",
    "pt": "O tempo estava calmo esta manhã, então caminhamos ao longo do rio até o velho mercado da cidade.",
    "ca": "El temps era tranquil aquest matí, així que vam caminar pel riu fins al vell mercat de la ciutat.",
    "nl": "Het weer was vanochtend rustig, dus liepen we langs de rivier naar de oude markt in de stad.",
}


def voice_baseline(tts: TTS, voice: Voice, language: str, scratch: Path) -> dict[str, Any]:
    """The voice's natural delivery in `language` (rate in syllables/s, F0 median and range, level), measured
    once on a fixed neutral sentence and cached in `scratch` as JSON keyed by the engine's model info, the
    voice and the sentence. A language without a sentence here is measured on the English one."""
    lang = language.split("-")[0].lower()
    sentence = BASELINE_SENTENCES.get(lang, BASELINE_SENTENCES["en"])
    key_doc = {
        "engine": tts.name,
        "info": tts.info.as_dict(),
        "voice": voice.id,
        "language": lang,
        "sentence": sentence,
        "measure": MEASURE_VERSION,
    }
    key = hashlib.sha256(json.dumps(key_doc, sort_keys=True).encode()).hexdigest()[:24]
    scratch = Path(scratch)
    cached = scratch / f"voice-baseline-{key}.json"
    if cached.is_file():
        try:
            doc: dict[str, Any] = json.loads(cached.read_text(encoding="utf-8"))
            return doc
        except ValueError:
            pass  # a torn file: measure again
    scratch.mkdir(parents=True, exist_ok=True)
    wav = scratch / f"voice-baseline-{key}.wav"
    tts.synthesize(sentence, voice, wav, Prosody())
    measured = measure_clip(wav, sentence, lang)
    wav.unlink(missing_ok=True)
    doc = {
        "engine": tts.name,
        "voice": voice.id,
        "language": lang,
        **measured.model_dump(include={"rate_sps", "f0_median_hz", "f0_range_st", "energy_db"}),
    }
    tmp = cached.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, sort_keys=True), encoding="utf-8")
    tmp.replace(cached)
    return doc


def style_table() -> list[dict[str, Any]]:
    """The styles as plain rows (name + multipliers), for the CLI and reports."""
    return [{"name": name, **asdict(s)} for name, s in STYLES.items()]
