"""Apertium adapter on the real Debian language pairs (eng-spa, eng-cat, fr-es)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from models.apertium import Apertium, to_iso1
from models.base import EngineError, EngineUnavailable, ModelInfo, TextTranslator


@pytest.fixture(scope="module")
def apertium() -> Apertium:
    if shutil.which("apertium") is None:
        pytest.skip("apertium is not installed")
    tr = Apertium()
    if ("en", "es") not in tr.pairs():
        pytest.skip("apertium-eng-spa is not installed")
    return tr


class Counting(Apertium):
    """Records every apertium process started."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str]] = []

    def _run_mode(self, mode: str, text: str) -> str:
        self.calls.append((mode, text))
        return super()._run_mode(mode, text)


def test_protocol_and_info(apertium: Apertium) -> None:
    assert isinstance(apertium, TextTranslator)
    assert isinstance(apertium.info, ModelInfo)
    assert apertium.info.id == "apertium"
    assert "apertium-eng-spa" in apertium.info.version and "unknown" not in apertium.info.version


def test_pairs(apertium: Apertium) -> None:
    pairs = set(apertium.pairs())
    expected = {("en", "es"), ("es", "en"), ("en", "ca"), ("ca", "en"), ("fr", "es"), ("es", "fr")}
    assert expected <= pairs
    assert ("en", "fr") in pairs and ("fr", "en") in pairs  # pivots through es
    assert all(len(s) == 2 and len(t) == 2 for s, t in pairs)  # variants (eng-cat_valencia...) left out
    assert apertium.route("en", "fr").modes == ("eng-spa", "es-fr")
    assert apertium.route("fr", "en").modes == ("fr-es", "spa-eng")
    assert apertium.route("en-US", "es").modes == ("eng-spa",)
    labels = apertium.pair_labels()
    assert "en->fr (via es)" in labels and "en->es" in labels


def test_iso_codes() -> None:
    codes = ("eng", "spa", "cat", "fr", "es", "fra")
    assert [to_iso1(c) for c in codes] == ["en", "es", "ca", "fr", "es", "fr"]


def test_en_es(apertium: Apertium) -> None:
    [out] = apertium.translate(["Hello, how are you?"], "en", "es")
    assert "Hola" in out
    assert "*" not in out and "#" not in out


def test_en_fr_through_spanish(apertium: Apertium) -> None:
    out = apertium.translate(["Hello, how are you?", "The weather is nice today."], "en", "fr")
    assert len(out) == 2
    assert "comment" in out[0].lower()
    assert "aujourd'hui" in out[1].lower()


def test_fr_en_and_ca(apertium: Apertium) -> None:
    assert apertium.translate(["Le chat est noir."], "fr", "en") == ["The cat is black."]
    assert "Hola" in apertium.translate(["Hello, how are you?"], "en", "ca")[0]
    assert "Hello" in apertium.translate(["Hola, com estàs?"], "ca", "en")[0]


def test_batch_keeps_count_order_and_empties(apertium: Apertium) -> None:
    texts = ["Hello, how are you?", "", "I have a red", "car", "The dog sleeps in the house."]
    counting = Counting()
    out = counting.translate(texts, "en", "es")
    assert len(out) == 5
    assert out[1] == ""
    assert "Hola" in out[0] and "rojo" in out[2] and "perro" in out[4]
    assert len(counting.calls) == 1  # one apertium process for the whole batch
    # batching changes nothing: each text comes out as it would on its own (no words moved across texts)
    alone = [apertium.translate([t], "en", "es")[0] for t in texts]
    assert out == alone


def test_batch_through_pivot_is_one_process_per_hop(apertium: Apertium) -> None:
    texts = ["Good morning.", "   ", "Where is the station?", "Thank you very much.", "I am hungry."]
    counting = Counting()
    out = counting.translate(texts, "en", "fr")
    assert len(out) == 5 and out[1] == ""
    assert [m for m, _ in counting.calls] == ["eng-spa", "es-fr"]
    assert out == [apertium.translate([t], "en", "fr")[0] for t in texts]


def test_special_characters_and_newlines(apertium: Apertium) -> None:
    texts = ['What is this [thing] 50% & "quoted"', "two\nlines", "^a$ @b /c\\ <d>"]
    out = apertium.translate(texts, "en", "es")
    assert len(out) == 3
    assert "[cosa]" in out[0] and "50%" in out[0]
    assert "\n" not in out[1]
    assert "<d>" in out[2]


def test_falls_back_when_separator_is_lost(apertium: Apertium) -> None:
    class Merging(Counting):
        def _run_mode(self, mode: str, text: str) -> str:
            out = super()._run_mode(mode, text)
            return out.replace("\n\n", "\n", 1)  # as if apertium had eaten one separator

    texts = ["The house is big.", "I like the red car.", "Good night."]
    tr = Merging()
    assert tr.translate(texts, "en", "es") == [apertium.translate([t], "en", "es")[0] for t in texts]
    assert len(tr.calls) == 1 + len(texts)


def test_empty_input(apertium: Apertium) -> None:
    counting = Counting()
    assert counting.translate([], "en", "es") == []
    assert counting.translate(["", " "], "en", "es") == ["", ""]
    assert counting.calls == []


def test_unsupported_pair_lists_available(apertium: Apertium) -> None:
    with pytest.raises(EngineUnavailable) as info:
        apertium.translate(["Hello"], "en", "de")
    msg = str(info.value)
    assert msg.startswith("no translation engine for en->de; available: ")
    assert "en->es" in msg and "ca->en" in msg and "en->fr (via es)" in msg


def test_missing_binary(tmp_path: Path) -> None:
    tr = Apertium()
    tr.binary = str(tmp_path / "no-such-apertium")
    with pytest.raises(EngineUnavailable, match="not installed"):
        tr.pairs()


def test_failure_is_an_engine_error(apertium: Apertium, tmp_path: Path) -> None:
    tr = Apertium(datadir=str(tmp_path))  # no modes there
    tr._modes = {("en", "es"): "eng-spa"}  # pretend it was listed
    with pytest.raises(EngineError, match="apertium eng-spa: failed"):
        tr.translate(["Hello"], "en", "es")
