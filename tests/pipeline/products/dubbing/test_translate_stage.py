"""The translate stage with a scripted LLM: context, glossary, up-front budget, provenance, fallback, and a
line cache in the object store that makes a re-run free."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from models.base import ModelInfo
from models.llama import LlamaChat
from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.core.script import Script, Segment, SourceInfo
from pipeline.core.storage import open_store
from pipeline.products.dubbing import translate as stage
from pipeline.stages.common import load_script
from pipeline.stages.contracts import Transcribed
from pipeline.text.mt_cache import StoreCache
from pipeline.text.translation.llm import LLMTranslator
from pipeline.text.translation.prompt import PROMPT_VERSION

LINES = ["Good morning, Anna.", "I have 3 tickets for the show.", "Dr. Okafor finished the dubbing."]
SPANISH = {
    LINES[0]: "Buenos días, Anna.",
    LINES[1]: "I have three tickets for the show.",  # English and a lost number: rejected, falls back
    LINES[2]: "Dr. Okafor terminó el doblaje.",
}


class FakeLlama:
    def __init__(self) -> None:
        self.prompts: list[str] = []

    def create_chat_completion(self, messages: list[dict[str, str]], **kw: Any) -> dict[str, Any]:
        last = messages[-1]["content"]
        self.prompts.append(last)
        if "Not quite" in last:
            last = messages[-3]["content"]
        line = last.rsplit("Line to translate: ", 1)[-1]
        return {"choices": [{"message": {"content": SPANISH[line]}}]}


class FakeApertium:
    name = "apertium"
    info = ModelInfo("apertium", "test")

    def pairs(self) -> list[tuple[str, str]]:
        return [("en", "es")]

    def translate(self, texts: list[str], source: str, target: str, budgets: Any = None, **kw: Any) -> list[str]:
        return ["Tengo 3 entradas para el espectáculo." for _ in texts]


def _transcribed(settings: Settings) -> Transcribed:
    store = open_store(settings.resolved_store_url)
    segs = [Segment(id=f"s{i}", start=2.0 * i, end=2.0 * i + 1.5, text=t) for i, t in enumerate(LINES)]
    script = Script(
        source=SourceInfo(uri="file:///x.wav", sha256="a" * 64, filename="x.wav", duration=9.0, has_video=False),
        segments=segs,
    )
    return Transcribed(
        language="en",
        key="k",
        script_uri=store.put_bytes("t/script.json", script.to_json()),
        language_probability=0.9,
        segments=len(segs),
        words=0,
        model={"id": "fake-asr"},
    )


@pytest.fixture
def llm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FakeLlama, Settings]:
    settings = Settings(data_dir=tmp_path / "data", mt_context_lines=1)
    fake = FakeLlama()
    tr = LLMTranslator(LlamaChat(tmp_path / "m.gguf", "test-llm", "1", "cd" * 32, llama=fake))
    cache = StoreCache(open_store(settings.resolved_store_url))
    monkeypatch.setattr(stage, "choose_translator", lambda s, a, b: tr.with_fallback(FakeApertium(), cache=cache))
    return fake, settings


GLOSSARY = json.dumps({"keep": ["Dr. Okafor"], "terms": [{"en": "dubbing", "es": "doblaje"}]})


def test_lines_context_glossary_and_provenance(llm: tuple[FakeLlama, Settings]) -> None:
    fake, settings = llm
    result = stage.translate(settings, _transcribed(settings), "es", GLOSSARY)
    script = load_script(open_store(settings.resolved_store_url), result.script_uri)
    tr = [s.translations["es"] for s in script.segments]
    assert [t.text for t in tr] == ["Buenos días, Anna.", "Tengo 3 entradas para el espectáculo.", SPANISH[LINES[2]]]
    assert tr[0].engine == "test-llm" and tr[0].model_sha256 == "cd" * 32 and tr[0].prompt_version == PROMPT_VERSION
    assert tr[1].engine == "apertium" and tr[1].prompt_version is None and "fallback" in tr[1].flags
    assert result.engine["prompt_version"] == PROMPT_VERSION and result.engine["sha256"] == "cd" * 32
    assert result.engine["fallback"]["id"] == "apertium"
    assert result.lines_by_engine == {"test-llm": 2, "apertium": 1} and result.fallbacks == 1
    middle = next(p for p in fake.prompts if p.endswith(LINES[1]))
    assert f"Previous line (context only): {LINES[0]}" in middle and f"Next line (context only): {LINES[2]}" in middle
    last = next(p for p in fake.prompts if p.endswith(LINES[2]))
    assert '"Dr. Okafor"' in last and 'translate "dubbing" as "doblaje"' in last


def test_a_rerun_is_answered_from_the_store(llm: tuple[FakeLlama, Settings]) -> None:
    fake, settings = llm
    transcribed = _transcribed(settings)
    stage.translate(settings, transcribed, "es", GLOSSARY)
    calls = len(fake.prompts)
    # another stage key (new context setting), same lines and requests: no model call at all
    settings2 = settings.model_copy(update={"mt_context_lines": 1, "mt_budget_unit": "chars"})
    again = stage.translate(settings2, transcribed.model_copy(update={"key": "other"}), "es", GLOSSARY)
    assert len(fake.prompts) == calls and again.cached_lines == 3
    assert open_store(settings.resolved_store_url).list("mt-cache")


def test_up_front_budget(llm: tuple[FakeLlama, Settings]) -> None:
    fake, settings = llm
    budgeted = settings.model_copy(update={"mt_budget_ratio": 1.1})
    result = stage.translate(budgeted, _transcribed(settings), "es")
    assert any("at most 21 characters" in p for p in fake.prompts)  # ceil(1.1 * 19)
    script = load_script(open_store(settings.resolved_store_url), result.script_uri)
    assert script.segments[0].translations["es"].budget_chars == 21
    assert result.budget is not None
    assert result.budget["ratio"] == 1.1 and result.budget["lines"] == 3


def test_glossary_files_and_errors(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    tsv = tmp_path / "g.tsv"
    tsv.write_text("en\tes\ndubbing\tdoblaje\nDr. Okafor\n", encoding="utf-8")
    g = stage.load_glossary(settings, str(tsv))
    assert g is not None and g.keep == ("Dr. Okafor",)
    assert stage.load_glossary(settings, None) is None
    assert stage.load_glossary(settings.model_copy(update={"mt_glossary": str(tsv)}), "") == g
    with pytest.raises(InputError, match="no such file"):
        stage.load_glossary(settings, str(tmp_path / "absent.tsv"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"keep": 3}')
    with pytest.raises(InputError, match="'keep' must be a list"):
        stage.load_glossary(settings, str(bad))


def test_neighbours() -> None:
    ctx = stage.neighbours(["a", "", "c", "d"], 1)
    assert ctx[0].before == () and ctx[0].after == ()  # the next line is empty
    assert ctx[2].before == () and ctx[2].after == ("d",)
    assert stage.neighbours(["a", "b", "c"], 2)[2].before == ("a", "b")
