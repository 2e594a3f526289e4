"""The narrator of a book: the voice the request names, chosen by the shared `pipeline.stages.voice_choice`
under the consent use `audiobook` (checked when the narrator is chosen, and again before every chunk by the
narration stage)."""

from __future__ import annotations

from datetime import date

from pipeline.core.config import Settings
from pipeline.products.audiobook.contracts import NarratorInfo
from pipeline.stages.voice_choice import ChosenVoice, choose_voice, reference_of

USE = "audiobook"

Narrator = ChosenVoice

__all__ = ["USE", "Narrator", "choose_narrator", "describe", "reference_of"]


def choose_narrator(settings: Settings, spec: str, language: str, day: date, book_name: str) -> Narrator:
    """The narrator `spec` names, in `language`; ConfigError naming the book when no voice reads it,
    ConsentError when a person's voice has no consent for audiobooks in that language today."""
    return choose_voice(settings, spec, language, day, book_name, USE)


def describe(narrator: Narrator) -> NarratorInfo:
    """The narrator as the book's contracts record it."""
    return NarratorInfo.model_validate(narrator.describe())
