"""Translating dialogue line by line with a chat LLM (models.base.ChatModel, e.g. models/llama.py), with a
fallback translator for the lines it gets wrong.

Each line is translated on its own (prompt.py) with greedy decoding, so the same request always gives the
same answer. The answer is checked (checks.py: one line, the target language, no commentary, numbers,
glossary terms and names kept, length budget); a rejected answer is retried once with the reason, and a
line still rejected goes to the fallback translator when that one has the pair, or keeps the LLM's best
answer, flagged. Outcomes are cached under a hash of (line, context, glossary entries, budget, model
sha256, prompt version) in whatever cache the caller injects (TranslationCache): a re-run of the same lines
loads no model.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from models.base import ChatModel, EngineError, EngineUnavailable, GenerationError, ModelInfo
from models.system import base_language
from pipeline.text.translation.base import LineContext, Rendering, TranslationCache, Translator
from pipeline.text.translation.checks import Check, clean_output, measure, validate
from pipeline.text.translation.glossary import Glossary, fold
from pipeline.text.translation.prompt import (
    PROMPT_VERSION,
    LineRequest,
    build_messages,
    example_answer,
    example_source,
    language_name,
    retry_messages,
)

log = logging.getLogger(__name__)

DEFAULT_LANGUAGES = ("en", "es", "fr", "de")


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


class LLMTranslator:
    """Translator backed by a chat model (a chat GGUF through llama-cpp-python in practice)."""

    name = "llm"

    def __init__(
        self,
        model: ChatModel,
        languages: tuple[str, ...] | list[str] = DEFAULT_LANGUAGES,
        cache: TranslationCache | None = None,
        fallback: Translator | None = None,
    ) -> None:
        self.model = model
        self.info = ModelInfo(model.info.id, model.info.version, model.info.sha256, PROMPT_VERSION)
        self.languages = tuple(languages)
        self.cache = cache
        self.fallback = fallback
        self.stats = Stats()

    # --- discovery ---------------------------------------------------------------------------------

    def available(self) -> bool:
        return self.model.available()

    def pairs(self) -> list[tuple[str, str]]:
        if not self.available():
            return []
        return sorted((s, t) for s in self.languages for t in self.languages if s != t)

    def with_fallback(self, fallback: Translator | None, cache: TranslationCache | None = None) -> LLMTranslator:
        """The same translator (same loaded model and stats) with a fallback engine and a cache."""
        other = copy.copy(self)
        other.fallback = fallback
        other.cache = cache if cache is not None else self.cache
        return other

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
        source, target = base_language(source), base_language(target)
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
        key = req.key(self.info.sha256 or str(self.model.model_path))
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
        self.model.load()  # a model that cannot load fails the call (EngineUnavailable / EngineError)
        t0 = time.perf_counter()
        try:
            return self.model.generate(messages, max_tokens, stop=["\n"])
        except GenerationError as e:
            raise _GenerationError(f"the model failed on this line: {e}") from e
        finally:
            self.stats.seconds += time.perf_counter() - t0
            self.stats.model_calls += 1

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
