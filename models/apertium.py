"""Apertium (rule-based machine translation, Debian packages): running its modes over texts, and the
language pairs and routes it has here.

Batching: all texts of a call go through one `apertium` process per hop, one paragraph each (texts are
joined with a blank line). Apertium's txt format keeps blank lines and treats them as sentence
boundaries, so words are never reordered across texts (a single newline is *not* such a boundary:
"I have a red\\ncar" comes out as "Tengo un coche\\nrojo"). Null-flush mode (`-z`, NUL-separated) does
not work with the txt deformatter, whose output drops the NULs. If the output does not split back into
as many paragraphs as went in, each text is translated on its own instead.

Length budgets and choosing among engines are the pipeline's (pipeline/text/translation/).
"""

from __future__ import annotations

import functools
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from models.base import EngineError, EngineUnavailable, ModelInfo
from models.system import LazyInfo, base_language, dpkg_version, stderr_tail

# Apertium's three-letter codes -> ISO 639-1 (two-letter mode names are already ISO 639-1).
ISO3_TO_1: dict[str, str] = {
    "eng": "en",
    "spa": "es",
    "cat": "ca",
    "fra": "fr",
    "fre": "fr",
    "por": "pt",
    "ita": "it",
    "deu": "de",
    "ger": "de",
    "glg": "gl",
    "oci": "oc",
    "eus": "eu",
    "arg": "an",
    "ast": "ast",
    "nld": "nl",
    "afr": "af",
    "ron": "ro",
    "rus": "ru",
    "ukr": "uk",
    "pol": "pl",
    "swe": "sv",
    "dan": "da",
    "nob": "nb",
    "nno": "nn",
    "isl": "is",
    "epo": "eo",
}

# Two-hop routes offered where no direct mode exists: (source, target) -> pivot language.
DEFAULT_PIVOTS: dict[tuple[str, str], str] = {("en", "fr"): "es", ("fr", "en"): "es"}

_PLAIN_MODE = re.compile(r"^([a-z]{2,3})-([a-z]{2,3})$")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_STDERR_TAIL = 800


def to_iso1(code: str) -> str:
    code = code.strip().lower()
    return ISO3_TO_1.get(code, code)


_base = base_language
_dpkg_version = dpkg_version


def _tail(text: str | bytes | None) -> str:
    return stderr_tail(text, _STDERR_TAIL)


def pair_label(source: str, target: str, via: str | None = None) -> str:
    """'en->es', or 'en->fr (via es)' for a two-hop route."""
    return f"{source}->{target}" + (f" (via {via})" if via else "")


_LazyInfo = LazyInfo


@dataclass(frozen=True)
class Route:
    """How to translate source->target: the Apertium modes to run in order, and the pivot if any."""

    source: str
    target: str
    modes: tuple[str, ...]
    via: str | None = None

    @property
    def label(self) -> str:
        return pair_label(self.source, self.target, self.via)


class Apertium(_LazyInfo):
    """Apertium via its `apertium` command; pairs from `apertium -l`; English<->French pivots on Spanish."""

    name = "apertium"
    binary = "apertium"
    packages = ("apertium", "apertium-eng-spa", "apertium-eng-cat", "apertium-fr-es")

    def __init__(
        self,
        pivots: dict[tuple[str, str], str] | None = None,
        timeout: float | None = 600.0,
        datadir: str | None = None,
    ) -> None:
        self.pivots = dict(DEFAULT_PIVOTS if pivots is None else pivots)
        self.timeout = timeout
        self.datadir = datadir

    # --- discovery ---------------------------------------------------------------------------------

    def _make_info(self) -> ModelInfo:
        version = "; ".join(f"{p} {_dpkg_version(p)}" for p in self.packages)
        return ModelInfo("apertium", version)

    def _base_args(self) -> list[str]:
        args = [self.binary]
        if self.datadir:
            args += ["-d", self.datadir]
        return args

    @functools.cached_property
    def _modes(self) -> dict[tuple[str, str], str]:
        """Direct (source, target) -> mode name, plain modes only (no variants such as eng-cat_valencia)."""
        try:
            r = subprocess.run([*self._base_args(), "-l"], capture_output=True, text=True, timeout=60, check=False)
        except FileNotFoundError as e:
            raise EngineUnavailable("apertium is not installed; run `make setup`") from e
        except subprocess.TimeoutExpired as e:
            raise EngineError("apertium: `apertium -l` timed out") from e
        if r.returncode != 0:
            raise EngineUnavailable(f"apertium: cannot list modes: {_tail(r.stderr) or r.returncode}")
        modes: dict[tuple[str, str], str] = {}
        for line in r.stdout.splitlines():
            m = _PLAIN_MODE.match(line.strip())
            if not m:
                continue
            src, tgt = to_iso1(m.group(1)), to_iso1(m.group(2))
            if src != tgt:
                modes.setdefault((src, tgt), line.strip())
        return modes

    @functools.cached_property
    def _routes(self) -> dict[tuple[str, str], Route]:
        modes = self._modes
        routes = {pair: Route(pair[0], pair[1], (mode,)) for pair, mode in modes.items()}
        for (src, tgt), via in self.pivots.items():
            if (src, tgt) in routes:
                continue
            first, second = modes.get((src, via)), modes.get((via, tgt))
            if first and second:
                routes[(src, tgt)] = Route(src, tgt, (first, second), via)
        return routes

    def routes(self) -> dict[tuple[str, str], Route]:
        """(source, target) -> Route, for every pair this Apertium does here."""
        return dict(self._routes)

    def pairs(self) -> list[tuple[str, str]]:
        return sorted(self._routes)

    def pair_labels(self) -> list[str]:
        """'en->es', 'en->fr (via es)', ... sorted."""
        return [self._routes[p].label for p in self.pairs()]

    def route(self, source: str, target: str) -> Route:
        key = (_base(source), _base(target))
        r = self._routes.get(key)
        if r is None:
            labels = self.pair_labels()
            raise EngineUnavailable(
                f"no translation engine for {source}->{target}; available: {', '.join(labels) if labels else 'none'}"
            )
        return r

    # --- translation -------------------------------------------------------------------------------

    def _run_mode(self, mode: str, text: str) -> str:
        args = [*self._base_args(), "-u", "-f", "txt", mode]
        try:
            r = subprocess.run(args, input=text, capture_output=True, text=True, encoding="utf-8", timeout=self.timeout)
        except FileNotFoundError as e:
            raise EngineUnavailable("apertium is not installed; run `make setup`") from e
        except subprocess.TimeoutExpired as e:
            raise EngineError(f"apertium {mode}: timed out after {self.timeout} s: {_tail(e.stderr)}") from e
        if r.returncode != 0:
            raise EngineError(
                f"apertium {mode}: failed with exit status {r.returncode}: {_tail(r.stderr) or '(no output)'}"
            )
        return r.stdout

    def _translate_one(self, mode: str, text: str) -> str:
        return " ".join(self._run_mode(mode, text + "\n").split())

    def _hop(self, mode: str, texts: Sequence[str]) -> list[str]:
        """Translate non-empty, single-line texts with one mode, batched in one process."""
        if not texts:
            return []
        if len(texts) == 1:
            return [self._translate_one(mode, texts[0])]
        out = self._run_mode(mode, "\n\n".join(texts) + "\n")
        parts = _PARAGRAPH_BREAK.split(out.strip("\n"))
        if len(parts) == len(texts):
            return [" ".join(p.split()) for p in parts]
        # The separator did not survive (a text came back empty or split): one process per text.
        return [self._translate_one(mode, t) for t in texts]

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        """Translate each text; same length and order; empty (whitespace-only) texts come back ''.
        Whitespace inside a text, newlines included, is collapsed to single spaces."""
        route = self.route(source, target)
        normalized = [" ".join(t.split()) for t in texts]
        idx = [i for i, t in enumerate(normalized) if t]
        batch = [normalized[i] for i in idx]
        for mode in route.modes:
            batch = self._hop(mode, batch)
        result = [""] * len(texts)
        for i, t in zip(idx, batch, strict=True):
            result[i] = t
        return result
