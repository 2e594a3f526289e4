"""The llama.cpp adapter (models/llama.py): greedy chat requests, per-request failures, availability; and
the real GGUF when it is installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from models import registry
from models.base import ChatModel, GenerationError
from models.llama import LlamaChat, load_seconds

LLM_ID = "qwen2.5-coder-1.5b-instruct-gguf"


class FakeLlama:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[dict[str, Any]] = []

    def create_chat_completion(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(kw)
        if self.fail:
            raise ValueError("Requested tokens (3000) exceed context window of 2048")
        return {"choices": [{"message": {"role": "assistant", "content": "Hola."}}]}


def test_requests_are_greedy_and_failures_are_per_request(tmp_path: Path) -> None:
    fake = FakeLlama()
    model = LlamaChat(tmp_path / "m.gguf", "test-llm", "1", "ab" * 32, llama=fake)
    assert isinstance(model, ChatModel) and model.available()
    assert model.info.as_dict() == {"id": "test-llm", "version": "1", "sha256": "ab" * 32}
    messages = [{"role": "user", "content": "Hello."}]
    assert model.generate(messages, 48, stop=["\n"]) == "Hola."
    assert fake.calls == [
        {
            "messages": messages,
            "temperature": 0.0,
            "top_k": 1,
            "top_p": 1.0,
            "repeat_penalty": 1.0,
            "max_tokens": 48,
            "stop": ["\n"],
            "seed": 0,
        }
    ]
    failing = LlamaChat(tmp_path / "m.gguf", "test-llm", "1", "", llama=FakeLlama(fail=True))
    with pytest.raises(GenerationError, match="exceed context window"):
        failing.generate(messages, 48)


def test_unavailable_without_weights(tmp_path: Path) -> None:
    assert not LlamaChat(tmp_path / "absent.gguf", "x", "1", "").available()


def test_the_real_gguf_answers_the_same_twice() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (make setup builds it from its sdist)")
    spec = registry.SPECS[LLM_ID]
    try:
        folder = registry.require(LLM_ID)
    except registry.WeightsError as e:
        pytest.skip(f"LLM weights not installed: {e}")
    model = LlamaChat(folder / spec.main_file, spec.id, spec.version, spec.main_sha256)
    model.load()
    assert str(model.model_path) in load_seconds()
    messages = [{"role": "user", "content": "Reply with the word: yes"}]
    first = model.generate(messages, 8, stop=["\n"])
    assert first.strip() and first == model.generate(messages, 8, stop=["\n"])
