"""The small interfaces every engine adapter implements, and the plain data they exchange.

Nothing here imports a heavy library: adapters load their engine lazily, on first use, and cache it
per worker process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable


class EngineError(RuntimeError):
    """An engine could not do what was asked; the message says what to do about it."""


class EngineUnavailable(EngineError):
    """The engine, its weights or its language pair are not installed here."""


@dataclass(frozen=True)
class ModelInfo:
    """What provenance records about the model that produced an output."""

    id: str
    version: str
    sha256: str = ""  # of the weights file that matters, where there is one

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "version": self.version, "sha256": self.sha256}


# --- speech recognition -------------------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float
    probability: float = 1.0


@dataclass(frozen=True)
class AsrSegment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Transcription:
    language: str  # ISO 639-1, as detected or as given
    language_probability: float
    segments: tuple[AsrSegment, ...]
    duration: float


@runtime_checkable
class ASR(Protocol):
    info: ModelInfo

    def transcribe(self, audio_path: Path, language: str | None = None) -> Transcription:
        """Transcribe a 16 kHz mono WAV; `language=None` detects it. Word timestamps always on."""
        ...


# --- machine translation -------------------------------------------------------------------------


@runtime_checkable
class Translator(Protocol):
    info: ModelInfo

    def pairs(self) -> list[tuple[str, str]]:
        """Language pairs (ISO 639-1 source, target) this engine can do here."""
        ...

    def translate(
        self, texts: list[str], source: str, target: str, budgets: list[int | None] | None = None
    ) -> list[str]:
        """Translate each text; same length and order as the input. `budgets` (optional, one per text):
        the most characters a rendering may have; an engine meets it as well as it can."""
        ...


# --- speech synthesis ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Prosody:
    """Engine-neutral controls. rate 1.0 is the engine's natural speed; 1.2 is 20 % faster."""

    rate: float = 1.0
    pitch: float = 1.0  # multiplier of the voice's natural pitch
    volume: float = 1.0


@dataclass(frozen=True)
class Voice:
    engine: str  # "pico", "piper", "espeak"
    id: str  # engine-specific voice name, e.g. "es-ES", "en_US-joe-medium", "es"
    language: str  # ISO 639-1
    person_id: str | None = None  # set only for a person's (cloned/matched) voice: consent applies


@runtime_checkable
class TTS(Protocol):
    name: str
    info: ModelInfo

    def languages(self) -> list[str]:
        """ISO 639-1 codes this engine speaks here."""
        ...

    def voice_for(self, language: str) -> Voice:
        """The engine's voice for a language; EngineUnavailable when it has none."""
        ...

    def synthesize(self, text: str, voice: Voice, out_path: Path, prosody: Prosody = Prosody()) -> Path:
        """Write mono WAV speech of `text` to out_path and return it."""
        ...


@dataclass
class Registry:
    """Resolved engines for a run (filled by the pipeline's factory from settings)."""

    asr: ASR | None = None
    translators: list[Translator] = field(default_factory=list)
    tts: list[TTS] = field(default_factory=list)
