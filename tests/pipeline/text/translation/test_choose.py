"""Choosing among translators (choose.py), with Apertium on the real Debian language pairs (eng-spa,
eng-cat, fr-es) behind the rule-based translator (rules.py)."""

from __future__ import annotations

import shutil

import pytest

from models.apertium import Apertium
from models.base import EngineUnavailable, ModelInfo
from pipeline.text.translation.choose import available_pairs, choose_translator
from pipeline.text.translation.rules import ApertiumTranslator


@pytest.fixture(scope="module")
def apertium() -> ApertiumTranslator:
    if shutil.which("apertium") is None:
        pytest.skip("apertium is not installed")
    tr = ApertiumTranslator(Apertium())
    if ("en", "es") not in tr.pairs():
        pytest.skip("apertium-eng-spa is not installed")
    return tr


def test_available_pairs_and_choose(apertium: ApertiumTranslator) -> None:
    pairs = available_pairs([apertium])
    assert pairs == sorted(pairs) and "fr->en (via es)" in pairs and "es->fr" in pairs
    assert choose_translator("en", "fr", [apertium]) is apertium
    assert choose_translator("es", "en", [apertium]) is apertium
    with pytest.raises(EngineUnavailable, match=r"no translation engine for en->de; available: ca->en"):
        choose_translator("en", "de", [apertium])
    with pytest.raises(EngineUnavailable, match="available: none"):
        choose_translator("en", "es", [])


def test_prefers_a_direct_translator_over_a_pivot(apertium: ApertiumTranslator) -> None:
    class DirectEnFr:
        info = ModelInfo("fake", "1")

        def pairs(self) -> list[tuple[str, str]]:
            return [("en", "fr")]

        def translate(self, texts: list[str], source: str, target: str) -> list[str]:
            return texts

    direct = DirectEnFr()
    assert choose_translator("en", "fr", [apertium, direct]) is direct
    assert choose_translator("en", "es", [apertium, direct]) is apertium
    assert "en->fr" in available_pairs([direct])
