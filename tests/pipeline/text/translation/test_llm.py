"""The LLM translator (pipeline/text/translation/llm.py) with a scripted stand-in for llama.cpp: prompts, validation,
retry, fallback, cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from models.base import ModelInfo
from models.llama import LlamaChat
from pipeline.text.translation.base import DiskCache, LineContext, Rendering, Translator
from pipeline.text.translation.choose import choose_in_order, translate_lines
from pipeline.text.translation.glossary import Glossary
from pipeline.text.translation.llm import LLMTranslator
from pipeline.text.translation.prompt import (
    PROMPT_VERSION,
    LineRequest,
    build_messages,
    retry_messages,
    system_message,
)


class FakeLlama:
    """Answers chat requests with `answer(messages)`; records every request."""

    def __init__(self, answer: Callable[[list[dict[str, str]]], str]) -> None:
        self.answer = answer
        self.calls: list[list[dict[str, str]]] = []

    def create_chat_completion(self, messages: list[dict[str, str]], **kw: Any) -> dict[str, Any]:
        assert kw["temperature"] == 0.0 and kw["stop"] == ["\n"]
        self.calls.append(messages)
        return {"choices": [{"message": {"role": "assistant", "content": self.answer(messages)}}]}


class FakeApertium:
    name = "apertium"
    info = ModelInfo("apertium", "test")

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs
        self.seen: list[str] = []

    def pairs(self) -> list[tuple[str, str]]:
        return self._pairs

    def translate(self, texts: list[str], source: str, target: str, budgets: Any = None, **kw: Any) -> list[str]:
        self.seen += texts
        return [f"[apertium] {t}" for t in texts]


def line_of(messages: list[dict[str, str]]) -> str:
    user = [m for m in messages if m["role"] == "user"]
    return user[-1]["content"].rsplit("Line to translate: ", 1)[-1]


def make(answer: Callable[[list[dict[str, str]]], str], **kw: Any) -> tuple[LLMTranslator, FakeLlama]:
    fake = FakeLlama(answer)
    tr = LLMTranslator(LlamaChat(Path("/nonexistent/model.gguf"), "test-llm", "1", "ab" * 32, llama=fake), **kw)
    return tr, fake


SPANISH = {
    "Where is the station?": "¿Dónde está la estación?",
    "I have 3 brothers and 2 sisters.": "Tengo 3 hermanos y 2 hermanas.",
    "We are leaving for Lyon tomorrow.": "Mañana nos vamos a Lyon.",
}


def spanish(messages: list[dict[str, str]]) -> str:
    return SPANISH.get(line_of(messages), "No sé qué decir de esto.")


def test_is_a_translator_with_provenance() -> None:
    tr, _ = make(spanish)
    assert isinstance(tr, Translator)
    assert tr.info.as_dict() == {
        "id": "test-llm",
        "version": "1",
        "sha256": "ab" * 32,
        "prompt_version": PROMPT_VERSION,
    }
    assert ("en", "de") in tr.pairs() and ("de", "en") in tr.pairs() and ("en", "en") not in tr.pairs()


def test_unavailable_without_weights_or_runtime(tmp_path: Path) -> None:
    tr = LLMTranslator(LlamaChat(tmp_path / "absent.gguf", "x", "1", ""))
    assert tr.pairs() == []


def test_prompt_has_context_glossary_budget_and_the_line_last() -> None:
    req = LineRequest(
        "Dr. Okafor finished the dubbing.",
        "en",
        "es",
        before=("Good morning.",),
        after=("Is it ready?",),
        keep=("Dr. Okafor",),
        fixed=(("dubbing", "doblaje"),),
        budget=35,
    )
    msgs = build_messages(req)
    assert msgs[0] == {"role": "system", "content": system_message("en", "es")}
    assert "from English into Spanish" in msgs[0]["content"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]  # one worked example
    assert msgs[2]["content"] == "Nos vemos en la estación a las 8, ¿vale?"
    last = msgs[-1]["content"]
    assert "Previous line (context only): Good morning." in last
    assert "Next line (context only): Is it ready?" in last
    assert 'translate "dubbing" as "doblaje"' in last and '"Dr. Okafor"' in last
    assert "at most 35 characters" in last
    assert last.endswith("Line to translate: Dr. Okafor finished the dubbing.")
    # the prefix (system + example) does not depend on the line: llama.cpp reuses its evaluation
    other = build_messages(LineRequest("Hello there, friend.", "en", "es"))
    assert other[:3] == msgs[:3]
    retry = retry_messages(req, "Aquí está: ...", ["the answer has a comment besides the translation"])
    assert retry[-2] == {"role": "assistant", "content": "Aquí está: ..."}
    assert "comment" in retry[-1]["content"] and "Spanish" in retry[-1]["content"]


def test_language_without_an_example_goes_zero_shot() -> None:
    msgs = build_messages(LineRequest("Hello there.", "en", "pl"))
    assert [m["role"] for m in msgs] == ["system", "user"] and "Polish" in msgs[0]["content"]


def test_cache_key_covers_every_input() -> None:
    base = LineRequest("Hi there, Anna.", "en", "es", ("a",), ("b",), ("Anna",), (("hi", "hola"),), 20)
    variants = [
        LineRequest("Hi there, Ana.", "en", "es", ("a",), ("b",), ("Anna",), (("hi", "hola"),), 20),
        LineRequest("Hi there, Anna.", "en", "fr", ("a",), ("b",), ("Anna",), (("hi", "hola"),), 20),
        LineRequest("Hi there, Anna.", "en", "es", ("x",), ("b",), ("Anna",), (("hi", "hola"),), 20),
        LineRequest("Hi there, Anna.", "en", "es", ("a",), ("b",), (), (("hi", "hola"),), 20),
        LineRequest("Hi there, Anna.", "en", "es", ("a",), ("b",), ("Anna",), (), 20),
        LineRequest("Hi there, Anna.", "en", "es", ("a",), ("b",), ("Anna",), (("hi", "hola"),), 21),
        LineRequest("Hi there, Anna.", "en", "es", ("a",), ("b",), ("Anna",), (("hi", "hola"),), 20, "syllables"),
    ]
    keys = {base.key("m1"), base.key("m2"), *(v.key("m1") for v in variants)}
    assert len(keys) == 2 + len(variants)
    assert base.key("m1") == LineRequest(
        "Hi there, Anna.", "en", "es", ("a",), ("b",), ("Anna",), (("hi", "hola"),), 20
    ).key("m1")


def test_translates_line_by_line_and_keeps_empty_lines() -> None:
    tr, fake = make(spanish)
    out = tr.translate(["Where is the station?", "  ", "I have 3 brothers and 2 sisters."], "en", "es")
    assert out == ["¿Dónde está la estación?", "", "Tengo 3 hermanos y 2 hermanas."]
    assert len(fake.calls) == 2


def test_context_and_glossary_reach_the_prompt() -> None:
    tr, fake = make(spanish)
    g = Glossary(keep=("Lyon",), terms=({"en": "tomorrow", "es": "mañana"},))
    ctx = [LineContext(("Where is the station?",), ())]
    out = translate_lines(tr, ["We are leaving for Lyon tomorrow."], "en", "es", context=ctx, glossary=g)
    assert out == [Rendering("Mañana nos vamos a Lyon.", "test-llm", ())]
    prompt = fake.calls[0][-1]["content"]
    assert "Previous line (context only): Where is the station?" in prompt
    assert '"Lyon"' in prompt and 'translate "tomorrow" as "mañana"' in prompt


def test_commentary_is_retried_with_the_reason() -> None:
    answers = iter(["Here is the translation: ¿Dónde está la estación?", "¿Dónde está la estación?"])
    tr, fake = make(lambda m: next(answers))
    assert tr.translate(["Where is the station?"], "en", "es") == ["¿Dónde está la estación?"]
    assert len(fake.calls) == 2 and "comment" in fake.calls[1][-1]["content"]
    assert tr.stats.retries == 1 and tr.stats.fallbacks == 0


def test_rejected_twice_falls_back_to_apertium() -> None:
    tr, fake = make(lambda m: "I have three brothers and two sisters, you know.")  # English, numbers lost
    apertium = FakeApertium([("en", "es")])
    tr = tr.with_fallback(apertium)
    out = tr.translate_detailed(["I have 3 brothers and 2 sisters.", "Where is the station?"], "en", "es")
    assert out[0].engine == "apertium" and out[0].text == "[apertium] I have 3 brothers and 2 sisters."
    assert "fallback" in out[0].flags and any("number 3" in f for f in out[0].flags)
    assert out[1].engine == "apertium"
    assert len(fake.calls) == 4  # a first try and a retry per line
    assert apertium.seen == ["I have 3 brothers and 2 sisters.", "Where is the station?"]  # one batch
    assert tr.stats.fallbacks == 2


def test_without_a_fallback_pair_the_best_answer_is_kept_and_flagged() -> None:
    tr, _ = make(lambda m: "Here is the translation: Ich habe 3 Brüder und 2 Schwestern.")
    tr = tr.with_fallback(FakeApertium([("en", "es")]))  # Apertium has no German
    [r] = tr.translate_detailed(["I have 3 brothers and 2 sisters."], "en", "de")
    assert r.engine == "test-llm" and r.flags[0] == "unvalidated"
    assert r.text.endswith("Ich habe 3 Brüder und 2 Schwestern.")


def test_budget_is_asked_again_then_kept_over_budget() -> None:
    long = "Mañana por la mañana nos marchamos todos juntos a la ciudad de Lyon."
    answers = iter([long, "Mañana nos vamos a Lyon."])
    tr, fake = make(lambda m: next(answers))
    [r] = tr.translate_detailed(["We are leaving for Lyon tomorrow."], "en", "es", budgets=[30])
    assert r.text == "Mañana nos vamos a Lyon." and r.flags == ()
    assert "at most 30 characters" in fake.calls[0][-1]["content"]
    assert "fewer words" in fake.calls[1][-1]["content"]
    tr2, _ = make(lambda m: long)
    [r2] = tr2.translate_detailed(["We are leaving for Lyon tomorrow."], "en", "es", budgets=[30])
    assert r2.text == long and r2.engine == "test-llm" and "over-budget" in r2.flags  # no fallback for length


def test_cache_answers_identical_requests_across_processes(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "cache")
    tr, fake = make(spanish, cache=cache)
    lines = ["Where is the station?", "I have 3 brothers and 2 sisters."]
    first = tr.translate(lines, "en", "es")
    assert len(fake.calls) == 2
    again, fake2 = make(spanish, cache=DiskCache(tmp_path / "cache"))  # a new process: a new translator
    assert again.translate(lines, "en", "es") == first
    assert fake2.calls == [] and again.stats.cached == 2
    # a different budget or context is a different request
    again.translate(lines[:1], "en", "es", budgets=[40])
    again.translate(lines[:1], "en", "es", context=[LineContext((), ("Thanks.",))])
    assert len(fake2.calls) == 2


def test_a_cache_hit_does_not_load_the_model(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    tr, _ = make(spanish, cache=cache)
    tr.translate(["Where is the station?"], "en", "es")
    model = LlamaChat(tmp_path / "weights.gguf", "test-llm", "1", "ab" * 32)
    cold = LLMTranslator(model, cache=cache)
    cold.available = lambda: True  # type: ignore[method-assign]
    assert cold.translate(["Where is the station?"], "en", "es") == ["¿Dónde está la estación?"]
    from models import llama

    assert str(tmp_path / "weights.gguf") not in {key[0] for key in llama._MODELS}


def test_choose_in_order_gives_the_next_able_engine_as_fallback() -> None:
    tr, _ = make(spanish)
    apertium = FakeApertium([("en", "es"), ("es", "en")])
    assert choose_in_order("en", "es", [apertium, tr], ["llm", "apertium"]) == (tr, apertium)
    assert choose_in_order("en", "es", [apertium, tr], ["apertium", "llm"]) == (apertium, tr)
    assert choose_in_order("en", "de", [apertium, tr], ["apertium", "llm"]) == (tr, None)
    with pytest.raises(Exception, match="no translation engine for en->it"):
        choose_in_order("en", "it", [apertium, tr], ["llm", "apertium"])


def test_repeating_the_worked_example_is_rejected() -> None:
    tr, fake = make(lambda m: "Nos vemos en la estación a las 8, ¿vale?")
    tr = tr.with_fallback(FakeApertium([("en", "es")]))
    [r] = tr.translate_detailed(["of where we actually are"], "en", "es")
    assert r.engine == "apertium" and any("worked example" in f for f in r.flags)


def test_an_answer_that_swallows_the_context_is_asked_again() -> None:
    answers = iter(["Y la respuesta que viene es, ¿cómo puedo llegar a Dublín?", "¿Cómo llego a Dublín?"])
    tr, fake = make(lambda m: next(answers))
    ctx = [LineContext(("And the answer that comes back is,",), ())]
    [r] = tr.translate_detailed(["How do I get to Dublin?"], "en", "es", context=ctx)
    assert r.text == "¿Cómo llego a Dublín?" and len(fake.calls) == 2
    assert "not its context" in fake.calls[1][-1]["content"]


def test_a_line_the_model_cannot_take_falls_back_and_is_not_cached(tmp_path: Path) -> None:
    def answer(messages: list[dict[str, str]]) -> str:
        if "sisters" in line_of(messages):
            raise ValueError("Requested tokens (3000) exceed context window of 2048")
        return spanish(messages)

    cache = DiskCache(tmp_path)
    tr, _ = make(answer, cache=cache)
    tr = tr.with_fallback(FakeApertium([("en", "es")]))
    out = tr.translate_detailed(["Where is the station?", "I have 3 brothers and 2 sisters."], "en", "es")
    assert out[0].engine == "test-llm" and out[1].engine == "apertium"
    assert any("context window" in f for f in out[1].flags)
    assert len(list(tmp_path.rglob("*.json"))) == 1  # only the good line is cached
