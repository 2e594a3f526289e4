"""The narrator of a book: the voice the request names (a stock voice, or a person's consented, cloned one),
ready to speak in the book's language, with what QA compares the voice with.

`--voice` forms: empty (the stock voice dubline prefers for the language), `ENGINE:VOICE` (a stock voice),
`person:ID` (the person's active cloned profile for the language; or, where DUBLINE_PERSON_VOICES declares a
stock voice as that person's for the language, that stand-in). A person's voice is usable only under a consent
for the use `audiobook`: checked here once, and again before every chunk by the narration stage.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np

from models.base import TTS, EngineUnavailable, Voice
from pipeline.core.config import Settings
from pipeline.core.engines import choose_tts
from pipeline.core.errors import ConfigError, DublineError
from pipeline.core.script import VoiceChoice
from pipeline.products.audiobook.contracts import NarratorInfo
from pipeline.voice.consent import require_consent
from pipeline.voice.speak import profile_tts, stock_tts

USE = "audiobook"


@dataclasses.dataclass
class Narrator:
    tts: TTS
    voice: Voice
    consent_id: int | None
    profile_uri: str | None = None

    def describe(self) -> NarratorInfo:
        """What the report, the tags and the content keys say of this voice."""
        return NarratorInfo(
            engine=self.tts.info.as_dict(), voice=self.voice.id, person=self.voice.person_id, profile=self.profile_uri
        )

    def gate(self, language: str, day: date, settings: Settings | None = None) -> None:
        """The consent check before a chunk (a stock voice passes; a revoked consent stops the book)."""
        require_consent(self.voice, USE, language, day, settings)


def choose_narrator(settings: Settings, spec: str, language: str, day: date, book_name: str) -> Narrator:
    """The narrator `spec` names, in `language`; ConfigError naming the book when no voice speaks it,
    ConsentError when a person's voice has no consent for audiobooks in that language today."""
    kind, _, name = spec.partition(":")
    if not spec:
        try:
            tts = choose_tts(settings, language)
        except (ConfigError, EngineUnavailable):
            raise ConfigError(
                f"{book_name}: no installed voice reads '{language}'",
                "give the book's language with --language, install a voice for it (`make setup`) "
                "or pick one with --voice ENGINE:VOICE",
            ) from None
        narrator = Narrator(tts, tts.voice_for(language), None)
    elif kind == "person":
        narrator = _person(settings, name, language, book_name)
    else:
        tts = stock_tts(settings, kind)
        if language not in tts.languages():
            raise ConfigError(
                f"{book_name}: the voice engine {kind} does not read '{language}'",
                f"pick a voice that does (it reads {', '.join(sorted(tts.languages())) or 'nothing here'})",
            )
        from pipeline.speech.casting import engine_voices

        ids = [v.voice_id for v in engine_voices(tts, language, 0)]
        if name not in ids:
            raise ConfigError(
                f"{book_name}: the {kind} engine has no voice {name!r} for '{language}'",
                f"choose one of: {', '.join(f'{kind}:{i}' for i in ids)}",
            )
        narrator = Narrator(tts, Voice(kind, name, language), None)
    narrator.consent_id = require_consent(narrator.voice, USE, language, day, settings)
    return narrator


def _person(settings: Settings, person: str, language: str, book_name: str) -> Narrator:
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
        return Narrator(tts, tts.voice_for(language), None, uri)
    if settings.person_voices.get(language) == person:  # a stock voice declared as the person's
        tts = choose_tts(settings, language)
        return Narrator(tts, tts.voice_for(language), None)
    raise ConfigError(
        f"{book_name}: person {person} has no voice profile that reads '{language}'",
        f"enroll their voice first (`dubline voice enroll {person} ...`) or pick a stock voice with --voice",
    )


def reference_of(settings: Settings, narrator: Narrator, language: str) -> np.ndarray | None:
    """The embedding QA compares each chunk's voice with: the person's enrolled centroid, or the stock voice's
    own (None when it cannot be measured: similarity is then not reported)."""
    if narrator.voice.person_id:
        from pipeline.ledger import db
        from pipeline.ledger import voices as ledger

        with db.session(settings) as s:
            for e in ledger.enrolled_people(s):
                if e.person_id == narrator.voice.person_id:
                    return np.asarray(e.centroid, dtype=np.float64)
        return None
    try:
        from pipeline.speech.casting import voice_embedding

        return voice_embedding(settings, narrator.tts, narrator.voice, language)
    except DublineError:
        raise
    except Exception:  # the similarity figure is a refinement
        return None
