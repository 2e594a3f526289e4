"""The same-language shortener (pipeline/text/translation/condense.py): rules, the LLM's checked answers with a
scripted stand-in for llama.cpp, the fallback without an LLM, the cache; and the real GGUF when installed."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from models import registry
from models.base import EngineUnavailable
from models.llama import LlamaChat
from pipeline.core.config import Settings
from pipeline.text.translation import condense as cmod
from pipeline.text.translation.base import DiskCache
from pipeline.text.translation.condense import (
    Condensed,
    Condenser,
    check_answer,
    clause_cuts,
    condense,
    condense_by_rules,
    condense_many,
)

LLM_ID = "qwen2.5-coder-1.5b-instruct-gguf"
MARKET = "A woman in a red coat walks slowly across the crowded market square, looking for someone."


class FakeLlama:
    """Answers chat requests with `answer(messages)`; records every request."""

    def __init__(self, answer: Callable[[list[dict[str, str]]], str]) -> None:
        self.answer = answer
        self.calls: list[list[dict[str, str]]] = []

    def create_chat_completion(self, messages: list[dict[str, str]], **kw: Any) -> dict[str, Any]:
        assert kw["temperature"] == 0.0 and kw["stop"] == ["\n"]
        self.calls.append(messages)
        return {"choices": [{"message": {"role": "assistant", "content": self.answer(messages)}}]}


def _condenser(answers: list[str], cache: DiskCache | None = None) -> tuple[Condenser, FakeLlama]:
    replies = iter(answers)
    fake = FakeLlama(lambda _m: next(replies))
    model = LlamaChat(Path("/nonexistent/model.gguf"), "test-llm", "1", "ab" * 32, llama=fake)
    return Condenser(model, cache), fake


def _settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", model_dir=tmp_path / "models", **kw)


def test_unchanged_when_within_budget(tmp_path: Path) -> None:
    out = condense(_settings(tmp_path), "A door opens.", "en", 20)
    assert out == Condensed("A door opens.", "rules", "A door opens.", 20, True, ())


def test_rules_drop_asides_then_trailing_clauses() -> None:
    text = "The old man (her father) sits down, which makes the chair creak. Outside, rain falls, while a dog barks."
    assert condense_by_rules(text, "en", 100) == (
        "The old man sits down, which makes the chair creak. Outside, rain falls, while a dog barks."
    )
    # the last sentence's clause goes first; sentences are never dropped; "Outside," (two words) is no clause
    assert clause_cuts("The man sits down, which hurts. Outside, rain falls, while a dog barks.", "en") == [
        "The man sits down, which hurts. Outside, rain falls.",
        "The man sits down. Outside, rain falls.",
    ]
    assert condense_by_rules(text, "en", 45) == "The old man sits down. Outside, rain falls."
    assert condense_by_rules("Ana cruza la plaza del mercado, buscando a alguien.", "es", 40) == (
        "Ana cruza la plaza del mercado."
    )


def test_rule_path_needs_no_llm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_model(_s: Settings) -> Any:
        raise AssertionError("the LLM must not be looked up when the rules suffice")

    monkeypatch.setattr(cmod, "chat_model", no_model)
    out = condense(_settings(tmp_path), "Tom (in a hat) waves at Ann, smiling at the crowd.", "en", 20)
    assert out.text == "Tom waves at Ann." and out.engine == "rules" and out.within and out.flags == ()
    assert out.original == "Tom (in a hat) waves at Ann, smiling at the crowd." and out.budget == 20


def test_without_llm_the_rules_best_is_flagged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(_s: Settings) -> Any:
        raise EngineUnavailable("LLM weights are missing; run `dubline models install`")

    monkeypatch.setattr(cmod, "chat_model", unavailable)
    out = condense(_settings(tmp_path), MARKET, "en", 50)
    assert out.text == "A woman in a red coat walks slowly across the crowded market square."
    assert out.engine == "rules" and not out.within and out.flags == ("no-llm", "over-budget")
    # an operator's GGUF path that does not exist is a ConfigError: rules only, too
    many = condense_many(_settings(tmp_path, mt_llm_model=str(tmp_path / "absent.gguf")), [(MARKET, 50)], "en")
    assert many[0].flags == ("no-llm", "over-budget")


def test_registered_model_not_installed_means_no_llm(tmp_path: Path) -> None:
    out = condense(_settings(tmp_path), MARKET, "en", 50)
    assert out.engine == "rules" and "no-llm" in out.flags


def test_llm_answer_is_checked_and_cached(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "cache")
    c, fake = _condenser(["A woman in a red coat crosses the market square."], cache)
    out = c.condense(MARKET, "en", 50)
    assert out == Condensed("A woman in a red coat crosses the market square.", "test-llm", MARKET, 50, True, ())
    system, *_, request = fake.calls[0]
    assert "audio descriptions" in system["content"] and "present tense" in system["content"]
    assert "at most 50 characters" in request["content"] and MARKET in request["content"]
    again, fake2 = _condenser([], cache)  # a cached answer asks no model
    assert again.condense(MARKET, "en", 50) == out and fake2.calls == []
    other, fake3 = _condenser(["A woman in a red coat crosses the market."], cache)  # another budget: asked
    assert other.condense(MARKET, "en", 45).text == "A woman in a red coat crosses the market." and fake3.calls


def test_invented_content_is_retried_then_rejected() -> None:
    c, fake = _condenser(["A man with a gun runs to the police car.", "Police officers chase a thief."])
    out = c.condense(MARKET, "en", 50)
    assert len(fake.calls) == 2
    assert "adds words the description does not have" in fake.calls[1][-1]["content"]
    assert out.engine == "rules" and out.flags == ("llm-rejected", "over-budget")
    assert out.text == "A woman in a red coat walks slowly across the crowded market square."


def test_retry_reaches_the_budget_and_slightly_over_is_flagged() -> None:
    c, fake = _condenser(
        ["A woman in a red coat walks across the crowded market square.", "A woman in red walks across the market."]
    )
    out = c.condense(MARKET, "en", 40)
    assert "may have at most 40" in fake.calls[1][-1]["content"]
    assert out.text == "A woman in red walks across the market." and out.within and out.flags == ()
    c, _ = _condenser(["A woman in a red coat crosses the market square."])  # 48 chars, 10 % over 44 allowed
    over = c.condense(MARKET, "en", 44)
    assert over.engine == "test-llm" and not over.within and over.flags == ("over-budget",)


def test_check_answer() -> None:
    assert check_answer("A woman in a red coat crosses the market square.", MARKET, "en", 50) == []
    assert check_answer("", MARKET, "en", 50) == ["the answer is empty"]
    assert any("comment" in p for p in check_answer("Here is the short version: a woman.", MARKET, "en", 50))
    assert any("leaves out too much" in p for p in check_answer("A woman walks.", MARKET, "en", 50))
    assert any("not in" in p for p in check_answer("Una mujer cruza la plaza del mercado.", MARKET, "en", 50))


@pytest.mark.slow
def test_the_real_llm_shortens_a_description() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (make setup builds it from its sdist)")
    spec = registry.SPECS[LLM_ID]
    try:
        folder = registry.require(LLM_ID)
    except registry.WeightsError as e:
        pytest.skip(f"LLM weights not installed: {e}")
    model = LlamaChat(folder / spec.main_file, spec.id, spec.version, spec.main_sha256)
    out = Condenser(model).condense(MARKET, "en", 50)
    assert out.engine == LLM_ID, out
    assert len(out.text) <= 55 and "woman" in out.text.lower() and "market" in out.text.lower(), out


def test_head_cuts_keep_the_description_s_head() -> None:
    from pipeline.text.translation.condense import head_cuts

    text = (
        "An engraving fills the screen: a print shop where one man inks the type, another pulls the bar of the "
        "press, and a boy hangs the sheets to dry."
    )
    cuts = head_cuts(text)
    assert cuts[0] == (
        "An engraving fills the screen: a print shop where one man inks the type, another pulls the bar of the press."
    )
    assert "An engraving fills the screen: a print shop where one man inks the type." in cuts
    assert "An engraving fills the screen: a print shop." in cuts  # cut before "where"
    assert cuts[-1] == "An engraving fills the screen."
    assert all(len(a) >= len(b) for a, b in zip(cuts, cuts[1:], strict=False))
    first = head_cuts("Two sentences here. And a second one, with a clause.")[0]
    assert first == "Two sentences here. And a second one."
    assert head_cuts("Too, short") == []
    assert "Un hombre abre la puerta." in head_cuts("Un hombre abre la puerta con una llave de hierro.", "es")


def test_the_head_cut_is_the_last_resort_when_nothing_else_fits() -> None:
    from pipeline.text.translation.condense import Condenser

    text = "A crowded print shop where one man inks the type, another pulls the bar of the press, and a boy dries."
    got = Condenser(None).condense(text, "en", 60)
    assert got.within and got.text == "A crowded print shop where one man inks the type."
    assert "clauses-dropped" in got.flags
    assert "no-llm" in got.flags and got.original == text
    kept = Condenser(None, head_cut=False).condense(text, "en", 60)
    assert not kept.within and "over-budget" in kept.flags
    hopeless = Condenser(None).condense("Everything everywhere simultaneously.", "en", 10)
    assert not hopeless.within and "over-budget" in hopeless.flags
