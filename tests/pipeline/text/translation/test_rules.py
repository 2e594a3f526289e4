"""The rule-based translator (rules.py): Apertium's output, shortened only where a line has a budget."""

from __future__ import annotations

from models.apertium import Apertium
from pipeline.text.translation.base import Translator
from pipeline.text.translation.rules import ApertiumTranslator
from pipeline.text.translation.shorten import drop_asides

LINE = "Well, you know, I really like the red car (the old one)."
FULL = "Bueno, sabes, realmente me gusta el coche rojo (el viejo)."
SHORT = "Me gusta el coche rojo."


class Scripted(Apertium):
    """Answers from a table instead of running apertium; records every call."""

    def __init__(self, answers: dict[str, str]) -> None:
        super().__init__()
        self.answers = answers
        self.calls: list[list[str]] = []

    def pairs(self) -> list[tuple[str, str]]:
        return [("en", "es")]

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        self.calls.append(list(texts))
        return [self.answers.get(t, t) for t in texts]


def test_without_a_budget_it_is_the_engine() -> None:
    engine = Scripted({LINE: FULL})
    tr = ApertiumTranslator(engine)
    assert isinstance(tr, Translator) and tr.name == "apertium" and tr.pairs() == [("en", "es")]
    assert tr.translate([LINE, ""], "en", "es") == [FULL, ""]
    assert engine.calls == [[LINE, ""]]


def test_a_line_over_its_budget_is_translated_again_without_its_asides() -> None:
    trimmed = drop_asides(LINE, "en")
    assert "(" not in trimmed and "you know" not in trimmed
    engine = Scripted({LINE: FULL, trimmed: SHORT})
    tr = ApertiumTranslator(engine)
    assert tr.translate([LINE], "en", "es", [len(FULL)]) == [FULL]  # within its budget: untouched
    assert tr.translate([LINE], "en", "es", [30]) == [SHORT]
    assert engine.calls[-1] == [trimmed]
    syllables = tr.translate([LINE], "en", "es", [8], budget_unit="syllables")
    assert syllables == [SHORT]  # the shortest candidate when none is within the budget
