"""The LLM translator on the real GGUF (Qwen2.5-Coder-1.5B-Instruct) through llama-cpp-python: a few lines
into German, which Apertium cannot do here. Seconds on 2 cores; `make setup` installs both."""

from __future__ import annotations

import importlib.util
import time

import pytest

from models import registry
from models.llama import LlamaChat
from pipeline.text.translation.checks import language_scores
from pipeline.text.translation.glossary import Glossary
from pipeline.text.translation.llm import LLMTranslator

LLM_ID = "qwen2.5-coder-1.5b-instruct-gguf"


@pytest.fixture(scope="module")
def llm() -> LLMTranslator:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (make setup builds it from its sdist)")
    spec = registry.SPECS[LLM_ID]
    try:
        folder = registry.require(LLM_ID)
    except registry.WeightsError as e:
        pytest.skip(f"LLM weights not installed: {e}")
    return LLMTranslator(LlamaChat(folder / spec.main_file, spec.id, spec.version, spec.main_sha256))


def test_english_to_german(llm: LLMTranslator) -> None:
    lines = ["Where is the train station?", "I have two brothers and a sister.", "Thank you for your help, Anna."]
    t0 = time.perf_counter()
    out = llm.translate_detailed(lines, "en", "de", glossary=Glossary(keep=("Anna",)))
    took = time.perf_counter() - t0
    assert len(out) == 3 and all(r.text and "\n" not in r.text for r in out)
    for r in out:
        scores = language_scores(r.text)
        assert scores["de"] >= scores["en"], r
    assert "Anna" in out[2].text
    assert {r.engine for r in out} == {LLM_ID}
    assert took < 300, f"3 lines took {took:.0f} s"
