"""The small interfaces every engine adapter implements, and the plain data they exchange.

Nothing here imports a heavy library: adapters load their engine lazily, on first use, and cache it
per worker process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


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
    prompt_version: str = ""  # LLM engines: the version of the prompt wording (part of what made the output)

    def as_dict(self) -> dict[str, str]:
        doc = {"id": self.id, "version": self.version, "sha256": self.sha256}
        if self.prompt_version:
            doc["prompt_version"] = self.prompt_version
        return doc


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

    def detect_language(self, samples: Any) -> tuple[str, float]:
        """The language (ISO 639-1) of 16 kHz mono float32 speech, from its first 30 s, and its probability."""
        ...


# --- machine translation -------------------------------------------------------------------------


class GenerationError(EngineError):
    """A model could not answer one request (e.g. it exceeds the context window); other requests may still
    be answered."""


@runtime_checkable
class ChatModel(Protocol):
    """A local chat LLM that answers greedily: the same messages always get the same answer."""

    info: ModelInfo
    model_path: Path  # the weights file

    def available(self) -> bool:
        """Whether its runtime and weights are here (loads nothing)."""
        ...

    def load(self) -> None:
        """Load the weights now if not yet: EngineUnavailable or EngineError when they cannot be."""
        ...

    def generate(self, messages: list[dict[str, str]], max_tokens: int, *, stop: list[str] | None = None) -> str:
        """The assistant's answer to chat `messages` ({"role", "content"} dicts), at most max_tokens long and
        cut at the first of `stop`. GenerationError when the model cannot answer this request."""
        ...


@runtime_checkable
class TextTranslator(Protocol):
    """A machine translation engine that takes plain text (rule-based: no prompt, no budget, no context)."""

    info: ModelInfo

    def pairs(self) -> list[tuple[str, str]]:
        """Language pairs (ISO 639-1 source, target) this engine can do here."""
        ...

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        """Translate each text; same length and order as the input."""
        ...


# --- speech synthesis ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Prosody:
    """Engine-neutral controls. rate 1.0 is the engine's natural speed; 1.2 is 20 % faster."""

    rate: float = 1.0
    pitch: float = 1.0  # multiplier of the voice's natural pitch
    volume: float = 1.0
    pitch_range: float = 1.0  # multiplier of the voice's F0 range (intonation); engines without it ignore it


@dataclass(frozen=True)
class Voice:
    engine: str  # "pico", "piper", "espeak"
    id: str  # engine-specific voice name, e.g. "es-ES", "en_US-joe-medium", "es"
    language: str  # ISO 639-1
    person_id: str | None = None  # set only for a person's (cloned/matched) voice: consent applies


@runtime_checkable
class TTS(Protocol):
    name: str

    @property
    def info(self) -> ModelInfo:
        """What provenance records about the engine (an attribute or a lazily computed property)."""
        ...

    def languages(self) -> list[str]:
        """ISO 639-1 codes this engine speaks here."""
        ...

    def voice_for(self, language: str) -> Voice:
        """The engine's voice for a language; EngineUnavailable when it has none."""
        ...

    def synthesize(self, text: str, voice: Voice, out_path: Path, prosody: Prosody = Prosody()) -> Path:
        """Write mono WAV speech of `text` to out_path and return it."""
        ...


# --- voice cloning -------------------------------------------------------------------------------


@runtime_checkable
class VoiceCloner(Protocol):
    """Builds a person's voice profile from consented reference speech, and speaks with it.

    A profile is a folder: `profile.json` (backend, base voice, figures measured at enrolment) plus the
    backend's own files (a style vector, WORLD statistics, an operator's speaker embedding...). Backends:
    Kokoro style search, WORLD voice matching, or an operator's neural cloning TTS: same interface."""

    name: str
    info: ModelInfo

    def enroll(
        self,
        references: list[Path],
        out_dir: Path,
        language: str,
        *,
        budget_s: float,
        progress: Callable[[str, float], None] | None = None,
    ) -> dict[str, Any]:
        """Build a profile from reference speech (10 s or more in all) into out_dir; return profile.json's
        content (with at least: backend, held_out_similarity, wer, seconds)."""
        ...

    def load(self, profile_dir: Path, person_id: str) -> TTS:
        """A TTS speaking with the profile's voice; every Voice it gives carries person_id (consent applies)."""
        ...
