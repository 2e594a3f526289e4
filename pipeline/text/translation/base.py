"""The interface every translator of the pipeline offers, the plain data it exchanges, and the line cache
an LLM translator may be given (TranslationCache: the object store in the pipeline, a folder in tools)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from models.base import ModelInfo
from models.files import atomic_write_bytes
from pipeline.text.translation.glossary import Glossary


@dataclass(frozen=True)
class LineContext:
    """The source lines around a line to translate (context for engines that can use it)."""

    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rendering:
    """One translated line and where it came from: the engine that produced it, and flags such as
    'fallback' (the first engine's output was rejected) or 'over-budget'."""

    text: str
    engine: str
    flags: tuple[str, ...] = ()


class TranslationCache(Protocol):
    """A persistent key -> value store (JSON strings) that a translator may be given; the pipeline backs it
    with the object store (pipeline/text/mt_cache.py), tools with a folder (DiskCache)."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str) -> None: ...


@runtime_checkable
class Translator(Protocol):
    @property
    def info(self) -> ModelInfo:
        """What provenance records about the engine (an attribute or a lazily computed property)."""
        ...

    def pairs(self) -> list[tuple[str, str]]:
        """Language pairs (ISO 639-1 source, target) this translator can do here."""
        ...

    def translate(
        self,
        texts: list[str],
        source: str,
        target: str,
        budgets: list[int | None] | None = None,
        *,
        context: list[LineContext] | None = None,
        glossary: Glossary | None = None,
        budget_unit: str = "chars",
    ) -> list[str]:
        """Translate each text; same length and order as the input. `budgets` (optional, one per text):
        the most characters (or syllables, with budget_unit="syllables") a rendering may have; a translator
        meets it as well as it can. `context` (one per text) and `glossary` are hints it may ignore."""
        ...


class DiskCache:
    """A TranslationCache in a folder: one small JSON file per key, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        try:
            return self._path(key).read_text(encoding="utf-8")
        except OSError:
            return None

    def put(self, key: str, value: str) -> None:
        atomic_write_bytes(self._path(key), value.encode("utf-8"))
