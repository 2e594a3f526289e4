"""One voice for a whole job (a book's narrator, a programme's describer): the voice the request names (a
stock voice, or a person's consented, cloned one), ready to speak in the job's language, with what QA compares
the voice with. Shared by the products that read text in one voice.

`--voice` forms: empty (the stock voice dubline prefers for the language), `ENGINE:VOICE` (a stock voice),
`person:ID` (the person's active cloned profile for the language; or, where DUBLINE_PERSON_VOICES declares a
stock voice as that person's for the language, that stand-in). A person's voice is usable only under a consent
for the product's use (`audiobook`, `audio_description`): checked here once, and again before every line by
the stage that speaks.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import numpy as np

from models.base import TTS, EngineUnavailable, Voice
from pipeline.core.config import Settings
from pipeline.core.engines import choose_tts
from pipeline.core.errors import ConfigError, DublineError
from pipeline.core.script import VoiceChoice
from pipeline.voice.consent import require_consent
from pipeline.voice.speak import profile_tts, stock_tts


@dataclasses.dataclass
class ChosenVoice:
    tts: TTS
    voice: Voice
    consent_id: int | None
    use: str  # the consent use every line is checked against
    profile_uri: str | None = None

    def describe(self) -> dict[str, Any]:
        """What the report, the tags and the content keys say of this voice."""
        return {
            "engine": self.tts.info.as_dict(),
            "voice": self.voice.id,
            "person": self.voice.person_id,
            "profile": self.profile_uri,
        }

    def gate(self, language: str, day: date, settings: Settings | None = None) -> None:
        """The consent check before a line (a stock voice passes; a revoked consent stops the job)."""
        require_consent(self.voice, self.use, language, day, settings)


def choose_voice(settings: Settings, spec: str, language: str, day: date, job_name: str, use: str) -> ChosenVoice:
    """The voice `spec` names, in `language`; ConfigError naming the job's input when no voice speaks it,
    ConsentError when a person's voice has no consent for `use` in that language today."""
    kind, _, name = spec.partition(":")
    if not spec:
        try:
            tts = choose_tts(settings, language)
        except (ConfigError, EngineUnavailable):
            raise ConfigError(
                f"{job_name}: no installed voice reads '{language}'",
                "give the right language with --language, install a voice for it (`make setup`) "
                "or pick one with --voice ENGINE:VOICE",
            ) from None
        chosen = ChosenVoice(tts, tts.voice_for(language), None, use)
    elif kind == "person":
        chosen = _person(settings, name, language, job_name, use)
    else:
        tts = stock_tts(settings, kind)
        if language not in tts.languages():
            raise ConfigError(
                f"{job_name}: the voice engine {kind} does not read '{language}'",
                f"pick a voice that does (it reads {', '.join(sorted(tts.languages())) or 'nothing here'})",
            )
        from pipeline.speech.casting import engine_voices

        ids = [v.voice_id for v in engine_voices(tts, language, 0)]
        if name not in ids:
            raise ConfigError(
                f"{job_name}: the {kind} engine has no voice {name!r} for '{language}'",
                f"choose one of: {', '.join(f'{kind}:{i}' for i in ids)}",
            )
        chosen = ChosenVoice(tts, Voice(kind, name, language), None, use)
    chosen.consent_id = require_consent(chosen.voice, use, language, day, settings)
    return chosen


def _person(settings: Settings, person: str, language: str, job_name: str, use: str) -> ChosenVoice:
    from pipeline.ledger import db
    from pipeline.ledger import voices as ledger

    with db.session(settings) as s:
        p = ledger.active_profile(s, person, language)
        found = (p.backend, p.uri, p.sha256) if p is not None else None
    if found is not None:
        backend, uri, sha = found
        choice = VoiceChoice(
            engine=f"clone:{backend}",
            voice_id=person,
            language=language,
            person_id=person,
            profile_uri=uri,
            profile_sha256=sha,
        )
        tts = profile_tts(settings, choice)
        return ChosenVoice(tts, tts.voice_for(language), None, use, uri)
    if settings.person_voices.get(language) == person:  # a stock voice declared as the person's
        tts = choose_tts(settings, language)
        return ChosenVoice(tts, tts.voice_for(language), None, use)
    raise ConfigError(
        f"{job_name}: person {person} has no voice profile that reads '{language}'",
        f"enroll their voice first (`dubline voice enroll {person} ...`) or pick a stock voice with --voice",
    )


def reference_of(settings: Settings, chosen: ChosenVoice, language: str) -> np.ndarray | None:
    """The embedding QA compares each chunk's voice with: the person's enrolled centroid, or the stock voice's
    own (None when it cannot be measured: similarity is then not reported)."""
    if chosen.voice.person_id:
        from pipeline.ledger import db
        from pipeline.ledger import voices as ledger

        with db.session(settings) as s:
            for e in ledger.enrolled_people(s):
                if e.person_id == chosen.voice.person_id:
                    return np.asarray(e.centroid, dtype=np.float64)
        return None
    try:
        from pipeline.speech.casting import voice_embedding

        return voice_embedding(settings, chosen.tts, chosen.voice, language)
    except DublineError:
        raise
    except Exception:  # the similarity figure is a refinement
        return None
