"""Machine translation with a local instruction-tuned LLM (a GGUF file run by llama.cpp), Apertium as fallback.

The registry's default is Qwen2.5-Coder-1.5B-Instruct (Q4_K_M); any chat GGUF an operator provides works
the same way (its chat template comes from the file). The model is loaded lazily, once per worker process,
and only when a line is not already in the cache: a re-run of the same lines loads nothing.

Each line is translated on its own (models/llm_prompt.py) with greedy decoding, so the same request always
gives the same answer. The answer is checked (models/mt_check.py: one line, the target language, no
commentary, numbers, glossary terms and names kept, length budget); a rejected answer is retried once with
the reason, and a line still rejected goes to the fallback engine when that engine has the pair, or keeps
the LLM's best answer, flagged. Outcomes are cached under a hash of (line, context, glossary entries,
budget, model sha256, prompt version) in whatever cache the caller injects (TranslationCache).
"""

from __future__ import annotations

import atexit
import copy
import importlib.util
import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.base import EngineError, EngineUnavailable, LineContext, ModelInfo, Rendering, TranslationCache, Translator
from models.glossary import Glossary, fold
from models.llm_prompt import (
    PROMPT_VERSION,
    LineRequest,
    build_messages,
    example_answer,
    example_source,
    language_name,
    retry_messages,
)
from models.mt_check import Check, clean_output, measure, validate

log = logging.getLogger(__name__)

DEFAULT_LANGUAGES = ("en", "es", "fr", "de")
_MODELS: dict[tuple[str, int, int], Any] = {}
_LOAD_SECONDS: dict[tuple[str, int, int], float] = {}
_LOCK = threading.Lock()


def runtime_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def default_threads() -> int:
    """Half the cores, at least one: llama.cpp's threads spin at barriers, so when other work shares the
    cores (Airflow runs tasks side by side) all-core decoding slows down several times (measured on 2
    shared cores: 1 thread 1.6 s a line, 2 threads 6 s)."""
    return max(1, (os.cpu_count() or 2) // 2)


def load_llama(path: Path, n_ctx: int = 2048, n_threads: int = 0) -> Any:
    """The llama_cpp.Llama for a GGUF file, loaded once per process (and per context size / threads)."""
    key = (str(path), n_ctx, n_threads)
    with _LOCK:
        if key in _MODELS:
            return _MODELS[key]
        try:
            import llama_cpp
        except ImportError as e:
            raise EngineUnavailable("llama-cpp-python is not installed; run `make setup`") from e
        if not path.is_file():
            raise EngineUnavailable(f"LLM weights {path} are missing; run `dubline models install`")
        threads = n_threads or default_threads()
        t0 = time.perf_counter()
        try:
            llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                seed=0,
                verbose=False,
            )
        except (ValueError, RuntimeError) as e:
            raise EngineError(f"cannot load the LLM {path}: {e} (is it a GGUF file llama.cpp supports?)") from e
        _LOAD_SECONDS[key] = time.perf_counter() - t0
        if not _MODELS:
            atexit.register(_close_all)
        _MODELS[key] = llm
        return llm


def _close_all() -> None:
    """Free the models before the interpreter tears modules down (llama-cpp-python's own finalizer then
    fails with a TypeError that is printed at exit)."""
    with _LOCK:
        for llm in _MODELS.values():
            close = getattr(llm, "close", None)
            if close is not None:
                close()
        _MODELS.clear()


def load_seconds() -> dict[str, float]:
    """How long each model loaded in this process took to load."""
    return {k[0]: v for k, v in _LOAD_SECONDS.items()}


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
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(value)
        os.replace(tmp, path)


@dataclass
class Stats:
    """What the translator did in this process (for evaluation and logs)."""

    lines: int = 0
    cached: int = 0
    generated: int = 0  # lines that went to the model
    model_calls: int = 0  # first tries and retries
    retries: int = 0
    fallbacks: int = 0
    flagged: int = 0
    seconds: float = 0.0  # spent in the model
    problems: dict[str, int] = field(default_factory=dict)


class _GenerationError(EngineError):
    """The model could not answer one request (the other lines may still be translated)."""


class LlamaTranslator:
    """Translator backed by a chat GGUF through llama-cpp-python."""

    name = "llm"

    def __init__(
        self,
        model_path: Path,
        model_id: str,
        version: str,
        sha256: str,
        languages: tuple[str, ...] | list[str] = DEFAULT_LANGUAGES,
        n_ctx: int = 2048,
        n_threads: int = 0,
        cache: TranslationCache | None = None,
        fallback: Translator | None = None,
        llama: Any = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.info = ModelInfo(model_id, version, sha256, PROMPT_VERSION)
        self.languages = tuple(languages)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.cache = cache
        self.fallback = fallback
        self._llama = llama  # injected (tests) or loaded on first use
        self.stats = Stats()

    # --- discovery ---------------------------------------------------------------------------------

    def available(self) -> bool:
        return self._llama is not None or (self.model_path.is_file() and runtime_available())

    def pairs(self) -> list[tuple[str, str]]:
        if not self.available():
            return []
        return sorted((s, t) for s in self.languages for t in self.languages if s != t)

    def with_fallback(self, fallback: Translator | None, cache: TranslationCache | None = None) -> LlamaTranslator:
        """The same translator (same loaded model and stats) with a fallback engine and a cache."""
        other = copy.copy(self)
        other.fallback = fallback
        other.cache = cache if cache is not None else self.cache
        return other

    @property
    def llama(self) -> Any:
        if self._llama is None:
            self._llama = load_llama(self.model_path, self.n_ctx, self.n_threads)
        return self._llama

    # --- translation -------------------------------------------------------------------------------

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
        rendered = self.translate_detailed(
            texts, source, target, budgets, context=context, glossary=glossary, budget_unit=budget_unit
        )
        return [r.text for r in rendered]

    def translate_detailed(
        self,
        texts: list[str],
        source: str,
        target: str,
        budgets: list[int | None] | None = None,
        *,
        context: list[LineContext] | None = None,
        glossary: Glossary | None = None,
        budget_unit: str = "chars",
    ) -> list[Rendering]:
        """Translate each line; say per line which engine made it and what was flagged."""
        source, target = _base(source), _base(target)
        if (source, target) not in self.pairs():
            raise EngineUnavailable(
                f"the LLM translator does not do {source}->{target} here "
                f"(languages: {', '.join(self.languages)}; runtime and weights present: {self.available()})"
            )
        n = len(texts)
        budgets = budgets or [None] * n
        context = context or [LineContext()] * n
        if len(budgets) != n or len(context) != n:
            raise ValueError("budgets and context must have one entry per text")
        out: list[Rendering | None] = [None] * n
        failed: list[int] = []
        for i, raw in enumerate(texts):
            text = " ".join(raw.split())
            if not text:
                out[i] = Rendering("", self.info.id)
                continue
            keep, fixed = glossary.for_line(text, source, target) if glossary else ([], [])
            req = LineRequest(
                text,
                source,
                target,
                tuple(" ".join(c.split()) for c in context[i].before if c.strip()),
                tuple(" ".join(c.split()) for c in context[i].after if c.strip()),
                tuple(keep),
                tuple(fixed),
                budgets[i],
                budget_unit,
            )
            outcome = self._outcome(req)
            flags = tuple(outcome.get("flags", []))
            if outcome["ok"]:
                out[i] = Rendering(outcome["text"], self.info.id, flags)
            else:
                failed.append(i)
                out[i] = Rendering(outcome["text"], self.info.id, ("unvalidated", *outcome["problems"]))
        if failed:
            self._fall_back(failed, texts, source, target, budgets, budget_unit, out)
        return [r if r is not None else Rendering("", self.info.id) for r in out]

    def _fall_back(
        self,
        failed: list[int],
        texts: list[str],
        source: str,
        target: str,
        budgets: list[int | None],
        unit: str,
        out: list[Rendering | None],
    ) -> None:
        fb = self.fallback
        if fb is None or (source, target) not in fb.pairs():
            self.stats.flagged += len(failed)
            for i in failed:
                log.warning("LLM translation of line %d kept unvalidated: %s", i, out[i])
            return
        alt = fb.translate([texts[i] for i in failed], source, target, [budgets[i] for i in failed], budget_unit=unit)
        for i, text in zip(failed, alt, strict=True):
            prior = out[i]
            problems = tuple(f for f in (prior.flags if prior else ()) if f != "unvalidated")
            out[i] = Rendering(text, fb.info.id, ("fallback", *problems))
        self.stats.fallbacks += len(failed)

    def _outcome(self, req: LineRequest) -> dict[str, Any]:
        """The cached or freshly generated outcome for one line: text, ok, problems, flags."""
        self.stats.lines += 1
        key = req.key(self.info.sha256 or str(self.model_path))
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                try:
                    doc: dict[str, Any] = json.loads(hit)
                    if {"text", "ok", "problems"} <= doc.keys():
                        self.stats.cached += 1
                        return doc
                except ValueError:
                    pass
        try:
            doc = self._render(req)
        except _GenerationError as e:  # this line only (too long for the context window, ...): not cached
            log.warning("LLM translation of %r failed: %s", req.text[:60], e)
            return {"text": "", "ok": False, "problems": [str(e)], "flags": []}
        if self.cache is not None:
            self.cache.put(key, json.dumps(doc, ensure_ascii=False))
        return doc

    def _generate(self, messages: list[dict[str, str]], max_tokens: int) -> str:
        llama = self.llama  # a model that cannot load fails the call (EngineUnavailable / EngineError)
        t0 = time.perf_counter()
        try:
            result = llama.create_chat_completion(
                messages=messages,
                temperature=0.0,
                top_k=1,
                top_p=1.0,
                repeat_penalty=1.0,
                max_tokens=max_tokens,
                stop=["\n"],
                seed=0,
            )
        except (ValueError, RuntimeError) as e:  # e.g. the prompt exceeds the context window
            raise _GenerationError(f"the model failed on this line: {e}") from e
        finally:
            self.stats.seconds += time.perf_counter() - t0
            self.stats.model_calls += 1
        content = result["choices"][0]["message"].get("content") or ""
        return str(content)

    def _check(self, raw: str, req: LineRequest) -> Check:
        text = clean_output(raw, req.text)
        check = validate(text, req.text, req.source, req.target, list(req.keep), list(req.fixed), req.budget, req.unit)
        example = example_answer(req.source, req.target)
        if example and fold(text) == fold(example) and fold(req.text) != fold(example_source(req.source)):
            check.problems.append("the answer repeats the worked example instead of translating the line")
        if (req.before or req.after) and len(text) > 1.5 * len(req.text) + 10:
            check.warnings.append("the answer is much longer than the line: translate only the line, not its context")
        return check

    def _render(self, req: LineRequest) -> dict[str, Any]:
        self.stats.generated += 1
        src_len = measure(req.text, req.unit, req.source)
        max_tokens = max(48, len(req.text) // 2 + 48)
        first_raw = self._generate(build_messages(req, src_len), max_tokens)
        checks = [self._check(first_raw, req)]
        first = checks[0]
        if first.problems or first.warnings or first.over_budget:
            reasons = first.problems + first.warnings
            if first.over_budget and req.budget is not None:
                what = "syllables" if req.unit == "syllables" else "characters"
                reasons.append(
                    f"it has {first.length} {what} but may have at most {req.budget}: say it in fewer words in "
                    f"{language_name(req.target)}"
                )
            self.stats.retries += 1
            raw = self._generate(retry_messages(req, first_raw.strip() or "(empty)", reasons, src_len), max_tokens)
            checks.append(self._check(raw, req))
        best = min(checks, key=lambda c: c.score)
        for p in best.problems:
            kind = p.split(" (")[0].split(" '")[0]
            self.stats.problems[kind] = self.stats.problems.get(kind, 0) + 1
        flags = [*best.warnings, *(["over-budget"] if best.over_budget else [])]
        return {
            "text": best.text,
            "ok": best.ok,
            "problems": best.problems,
            "flags": flags,
            "attempts": len(checks),
        }


def _base(language: str) -> str:
    return language.strip().replace("_", "-").split("-")[0].lower()
