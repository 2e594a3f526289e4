"""Choosing a translator is configuration: engines, their order per pair and the LLM's weights come from
settings (engines.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from models import registry
from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError
from pipeline.text.translation.engines import choose_translator, translator_provenance


def test_missing_pair_lists_the_available_ones() -> None:
    apertium_only = Settings(mt_engines=["apertium"])
    with pytest.raises(ConfigError) as err:
        choose_translator(apertium_only, "en", "de")
    assert "en->de" in str(err.value) and "en->es" in str(err.value)
    assert choose_translator(apertium_only, "en", "fr").info.id == "apertium"


LLM_ID = "qwen2.5-coder-1.5b-instruct-gguf"


def _llm_ready() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (make setup builds it)")
    if registry.status(registry.SPECS[LLM_ID], Settings().model_dir) != "ready":
        pytest.skip("the LLM weights are not unpacked (dubline models install)")


def test_default_order_llm_first_with_apertium_as_fallback() -> None:
    _llm_ready()
    s = Settings()
    tr = choose_translator(s, "en", "es")
    assert tr.info.id == LLM_ID and tr.info.prompt_version
    assert tr.info.sha256 == registry.SPECS[LLM_ID].main_sha256
    assert tr.fallback.info.id == "apertium"
    doc = translator_provenance(tr)
    assert doc["engine"] == "llm" and doc["prompt_version"] == tr.info.prompt_version
    assert doc["sha256"] == registry.SPECS[LLM_ID].main_sha256 and doc["fallback"]["id"] == "apertium"
    de = choose_translator(s, "en", "de")  # Apertium has no German: the LLM, without a fallback
    assert de.info.id == LLM_ID and de.fallback is None
    assert choose_translator(s, "en", "ca").info.id == "apertium"  # not measured for the LLM: Apertium first


def test_order_is_a_setting_per_pair() -> None:
    _llm_ready()
    s = Settings(mt_order={"en-es": ["apertium", "llm"], "*": ["llm", "apertium"]})
    assert choose_translator(s, "en", "es").info.id == "apertium"
    assert choose_translator(s, "es", "en").info.id == LLM_ID
    assert choose_translator(Settings(mt_engines=["apertium"]), "es", "en").info.id == "apertium"
    with pytest.raises(ConfigError, match="unknown translation engine 'marian'"):
        choose_translator(Settings(mt_engines=["marian", "apertium"]), "en", "es")


def test_without_llm_weights_apertium_takes_over(tmp_path: Path) -> None:
    s = Settings(model_dir=tmp_path / "no-models")
    assert choose_translator(s, "en", "es").info.id == "apertium"
    with pytest.raises(ConfigError, match="no translation engine for en->de"):
        choose_translator(s, "en", "de")


def test_operator_gguf_is_a_setting(tmp_path: Path) -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed")
    own = tmp_path / "my-mt.gguf"
    own.write_bytes(b"GGUF not really")  # never loaded here: choosing reads only its hash
    tr = choose_translator(Settings(mt_llm_model=str(own), mt_llm_languages=["en", "it"]), "en", "it")
    assert tr.info.id == "custom:my-mt.gguf" and tr.info.sha256 == registry.sha256_file(own)
    with pytest.raises(ConfigError, match="neither a registered model nor a .gguf file"):
        choose_translator(Settings(mt_llm_model=str(tmp_path / "absent.gguf")), "en", "es")
