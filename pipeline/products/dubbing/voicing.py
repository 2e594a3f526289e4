"""Each speaker's voice, ready to speak in one language: the stock engine or the person's cloned profile
(loaded through the ledger-checked profile folder), the speaker's and the voice's usual delivery, and the
reference embedding line QA compares with."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from models.base import TTS, Voice
from pipeline.core.config import Settings
from pipeline.core.errors import DublineError
from pipeline.core.script import Script, VoiceChoice
from pipeline.voice.speak import profile_tts, stock_tts


@dataclasses.dataclass
class Cast:
    """One speaker's voice, ready to speak."""

    choice: VoiceChoice
    tts: TTS
    voice: Voice
    consent_id: int | None
    voice_base: dict[str, Any]
    speaker_base: dict[str, Any]
    reference: np.ndarray | None = None
    reference_campp: np.ndarray | None = None  # a person's CAM++ embedding (their profile's), for the report


def _person_reference(settings: Settings, person_id: str) -> np.ndarray | None:
    from pipeline.ledger import db
    from pipeline.ledger import voices as ledger

    with db.session(settings) as s:
        for e in ledger.enrolled_people(s):
            if e.person_id == person_id:
                return np.asarray(e.centroid, dtype=np.float64)
    return None


def main_speaker(script: Script, cast: dict[str, Cast]) -> str:
    talk: dict[str, float] = {}
    for s in script.segments:
        if s.speaker in cast:
            talk[s.speaker] = talk.get(s.speaker, 0.0) + (s.end - s.start)
    return max(talk, key=lambda k: talk[k]) if talk else next(iter(cast))


def prepare_cast(
    settings: Settings,
    script: Script,
    voices: dict[str, VoiceChoice],
    consents: dict[str, int | None],
    lang: str,
    styled: bool,
) -> dict[str, Cast]:
    from pipeline.speech import prosody as pros
    from pipeline.speech.casting import voice_cache, voice_embedding

    out: dict[str, Cast] = {}
    for spk, choice in voices.items():
        if choice.profile_uri:
            tts = profile_tts(settings, choice)
            voice = tts.voice_for(lang)
        else:
            tts = stock_tts(settings, choice.engine)
            voice = Voice(choice.engine, choice.voice_id, lang, person_id=choice.person_id)
        measured = [s.prosody for s in script.segments if s.speaker == spk and s.prosody is not None]
        speaker_base: dict[str, Any] = pros.speaker_baseline(measured) if measured else {}
        voice_base: dict[str, Any] = {}
        if settings.prosody_transfer or styled:
            try:
                voice_base = pros.voice_baseline(tts, voice, lang, voice_cache(settings))
            except DublineError:
                raise
            except Exception:  # the voice's own delivery is a refinement: without it, rates stay relative
                voice_base = {}
        reference, reference_campp = None, None
        if settings.qa:
            if choice.person_id:
                reference = _person_reference(settings, choice.person_id)
                campp = Path(getattr(tts, "profile_dir", "")) / "reference_embedding_campp.npy"
                if choice.profile_uri and campp.is_file():
                    reference_campp = np.load(campp)
            else:
                reference = voice_embedding(settings, tts, voice, lang)
        consent = consents.get(choice.person_id or "")
        out[spk] = Cast(choice, tts, voice, consent, voice_base, speaker_base, reference, reference_campp)
    return out
