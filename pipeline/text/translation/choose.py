"""Choosing among translators, and translating with any of them.

DUBLINE_MT_ORDER names the engines per pair; the first one of the order that does the pair translates,
the next one that does is its fallback (choose_in_order). Without an order, a translator that does the
pair directly is preferred to one that pivots (choose_translator).
"""

from __future__ import annotations

from collections.abc import Sequence

from models.apertium import pair_label
from models.base import EngineUnavailable
from models.system import base_language
from pipeline.text.translation.base import LineContext, Rendering, Translator
from pipeline.text.translation.glossary import Glossary
from pipeline.text.translation.rules import ApertiumTranslator


def _labels(translators: Sequence[Translator]) -> list[str]:
    labels: dict[tuple[str, str], str] = {}
    for tr in translators:
        routes = tr.routes() if isinstance(tr, ApertiumTranslator) else {}
        for src, tgt in tr.pairs():
            if (src, tgt) in labels and "(via" not in labels[(src, tgt)]:
                continue
            r = routes.get((src, tgt))
            labels[(src, tgt)] = r.label if r is not None else pair_label(src, tgt)
    return [labels[k] for k in sorted(labels)]


def available_pairs(translators: Sequence[Translator]) -> list[str]:
    """All pairs the translators can do, as 'en->es', with pivots marked 'en->fr (via es)'."""
    return _labels(translators)


def unavailable_error(source: str, target: str, translators: Sequence[Translator]) -> EngineUnavailable:
    pairs = available_pairs(translators)
    return EngineUnavailable(
        f"no translation engine for {source}->{target}; available: {', '.join(pairs) if pairs else 'none'}"
    )


def translate_lines(
    translator: Translator,
    texts: list[str],
    source: str,
    target: str,
    budgets: list[int | None] | None = None,
    context: list[LineContext] | None = None,
    glossary: Glossary | None = None,
    budget_unit: str = "chars",
) -> list[Rendering]:
    """Translate with any Translator and say which engine made each line (an engine with fallbacks, such
    as the LLM translator, reports per line through its `translate_detailed`)."""
    detailed = getattr(translator, "translate_detailed", None)
    if detailed is not None:
        result: list[Rendering] = detailed(
            texts, source, target, budgets, context=context, glossary=glossary, budget_unit=budget_unit
        )
        return result
    out = translator.translate(
        texts, source, target, budgets, context=context, glossary=glossary, budget_unit=budget_unit
    )
    return [Rendering(t, translator.info.id) for t in out]


def engine_name(translator: Translator) -> str:
    """The name used in DUBLINE_MT_ORDER ('apertium', 'llm', ...)."""
    return str(getattr(translator, "name", translator.info.id))


def choose_in_order(
    source: str, target: str, translators: Sequence[Translator], order: Sequence[str]
) -> tuple[Translator, Translator | None]:
    """The first engine of `order` (names) that does source->target, and the next one that does (its
    fallback). Engines missing here (no weights, no runtime) are skipped. Raises EngineUnavailable."""
    key = (base_language(source), base_language(target))
    by_name = {engine_name(t): t for t in translators}
    able: list[Translator] = []
    for name in order:
        tr = by_name.get(name)
        if tr is not None and tr not in able and key in tr.pairs():
            able.append(tr)
    if not able:
        raise unavailable_error(source, target, translators)
    return able[0], (able[1] if len(able) > 1 else None)


def choose_translator(source: str, target: str, translators: Sequence[Translator]) -> Translator:
    """The first translator that does source->target directly, else the first that does it via a pivot."""
    key = (base_language(source), base_language(target))
    pivoting: Translator | None = None
    for tr in translators:
        if key not in tr.pairs():
            continue
        if isinstance(tr, ApertiumTranslator) and tr.route(*key).via:
            pivoting = pivoting or tr
            continue
        return tr
    if pivoting is not None:
        return pivoting
    raise unavailable_error(source, target, translators)
