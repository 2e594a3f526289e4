"""The rule-based translator: Apertium (models/apertium.py) with the length control a rule-based engine
allows. A rendering over its budget is shortened the only ways such an engine can: drop parentheticals and
fillers from the source and translate it again, abbreviate the translation (shorten.py); the shortest
candidate within the budget wins, else the shortest."""

from __future__ import annotations

from models.apertium import Apertium, Route
from models.base import ModelInfo
from models.system import base_language
from pipeline.text.translation.base import LineContext
from pipeline.text.translation.checks import measure
from pipeline.text.translation.glossary import Glossary
from pipeline.text.translation.shorten import abbreviate, drop_asides, shortest_within


class ApertiumTranslator:
    """A Translator over Apertium; its pairs and routes (pivots) are the engine's."""

    name = "apertium"

    def __init__(self, engine: Apertium | None = None) -> None:
        self.engine = engine if engine is not None else Apertium()

    @property
    def info(self) -> ModelInfo:
        return self.engine.info

    def pairs(self) -> list[tuple[str, str]]:
        return self.engine.pairs()

    def pair_labels(self) -> list[str]:
        """'en->es', 'en->fr (via es)', ... sorted."""
        return self.engine.pair_labels()

    def routes(self) -> dict[tuple[str, str], Route]:
        return self.engine.routes()

    def route(self, source: str, target: str) -> Route:
        return self.engine.route(source, target)

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
        """Translate each text; same length and order; empty (whitespace-only) texts come back ''.

        Whitespace inside a text, newlines included, is collapsed to single spaces. With `budgets`, a
        text whose translation is longer than its budget (characters, or syllables) is shortened with what
        a rule-based engine can do: drop parentheticals and fillers from the source, abbreviate the
        translation. `context` and `glossary` are ignored (a rule-based engine cannot use them).
        """
        out = self.engine.translate(texts, source, target)
        if not budgets:
            return out
        tgt = base_language(target)

        def size(text: str) -> int:
            return measure(text, budget_unit, tgt)

        over = [i for i, (t, b) in enumerate(zip(out, budgets, strict=True)) if b is not None and size(t) > b]
        if not over:
            return out
        trimmed_src = [drop_asides(texts[i], base_language(source)) for i in over]
        trimmed = self.engine.translate(trimmed_src, source, target)
        for i, alt in zip(over, trimmed, strict=True):
            budget = budgets[i]
            assert budget is not None
            candidates = [abbreviate(out[i], tgt), alt, abbreviate(alt, tgt)]
            best = shortest_within(candidates, budget, size)
            if size(best) < size(out[i]):
                out[i] = best
        return out
