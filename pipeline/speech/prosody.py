"""Expressive synthesis: the source's delivery (measured per line by pipeline.speech.prosody_measure)
carried into the dub, and named styles.

Transfer (`transfer`): every control is a *relative* deviation: the line against its own speaker's median
(`speaker_baseline`), applied to the target voice's natural delivery (`voice_baseline`). A low male speaker
therefore does not pull a female voice down; only his rises, falls, hurries and hushes move it. Bounds keep a
mis-measured line from doing harm: rate within settings.prosody_rate_min..max, pitch within ±4 semitones,
range 0.6-1.6 x, volume within ±6 dB, approached softly (`soft_limit`) so that lines keep their order near the
bounds.

Styles (`STYLES`, `style_prosody`): named deliveries for narration (audiobooks, audio description).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from models.base import Prosody
from models.files import atomic_write_bytes
from pipeline.core.script import SegmentProsody
from pipeline.speech.prosody_measure import MEASURE_VERSION, ProsodyError, measure_clip

if TYPE_CHECKING:  # pragma: no cover
    from models.base import TTS, Voice
    from pipeline.core.config import Settings

# Transfer bounds (the rate's bounds are settings: DUBLINE_PROSODY_RATE_MIN/MAX).
PITCH_MAX_ST = 4.0
RANGE_MIN, RANGE_MAX = 0.6, 1.6
VOLUME_MAX_DB = 6.0
SOFT_KNEE = 0.5  # deviations up to half a bound pass unchanged (soft_limit)
STYLED_RATE_MIN, STYLED_RATE_MAX = 0.6, 1.6  # a style on top of a transferred rate
MAX_SYLLABLES_PER_S = 9.0  # no line is asked to go faster than this (fast natural speech is 7-8)


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
    atomic_write_bytes(cached, json.dumps(doc, sort_keys=True).encode("utf-8"))
    return doc
