"""models/system.py: the engines' thread count."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from models.llama import default_threads
from models.system import engine_threads


def test_engine_threads_default_to_half_the_cores(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DUBLINE_ENGINE_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert engine_threads() == 4 and default_threads() == 4
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert engine_threads() == 1
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert engine_threads() == 1


def test_engine_threads_follow_the_variable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setenv("DUBLINE_ENGINE_THREADS", "6")
    assert engine_threads() == 6 and default_threads() == 6
    monkeypatch.setenv("DUBLINE_ENGINE_THREADS", "0")
    assert engine_threads() == 1
    monkeypatch.setenv("DUBLINE_ENGINE_THREADS", "many")  # unreadable: the default
    assert engine_threads() == 4


def test_dubline_dub_gives_the_engines_every_core(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """run_dag (dag.test runs one task at a time) sets every core unless the variable is set."""
    from pipeline.cli import runner
    from pipeline.core.config import Settings

    monkeypatch.delenv("DUBLINE_ENGINE_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    seen: list[str | None] = []
    monkeypatch.setattr(runner, "prepare_airflow", lambda s: None)
    monkeypatch.setattr(runner, "_run_dag", lambda *a: seen.append(os.environ.get("DUBLINE_ENGINE_THREADS")) or _done())
    runner.run_dag(Settings(data_dir=tmp_path), "dub_video", {"input": "x"})
    assert seen == ["8"]
    assert "DUBLINE_ENGINE_THREADS" not in os.environ  # the process environment is as it was
    monkeypatch.setenv("DUBLINE_ENGINE_THREADS", "3")
    runner.run_dag(Settings(data_dir=tmp_path), "dub_video", {"input": "x"})
    assert seen == ["8", "3"]
    assert os.environ["DUBLINE_ENGINE_THREADS"] == "3"


def _done() -> dict[str, object]:
    return {"state": "success", "run_id": "r", "wall_s": 1.0, "published": {}, "errors": []}


def test_forget_engines_drops_the_models_of_the_engines_not_kept():
    """What a stage does not use is dropped from the process's caches; what it keeps stays; the next use of a
    dropped engine loads it again (its loader finds the cache empty)."""
    import threading

    from models import system

    lock = threading.Lock()
    cache_a: dict[object, object] = {"a-model": object()}
    cache_b: dict[object, object] = {("hifigan", "x"): object(), ("sha", "x"): "abc"}
    saved = dict(system._FORGETTERS)
    try:
        system.register_cache("test-a", system.cache_forgetter(cache_a, lock))
        system.register_cache(
            "test-b", system.cache_forgetter(cache_b, lock, lambda k: isinstance(k, tuple) and k[0] == "hifigan")
        )
        assert "test-a" not in system.forget_engines(keep={"test-a", "test-b"} | set(saved))
        assert cache_a and len(cache_b) == 2
        dropped = system.forget_engines(keep=set(saved) | {"test-a"})
        assert dropped == ["test-b"]
        assert cache_a and cache_b == {("sha", "x"): "abc"}  # only the models, not the hashes beside them
        assert system.forget_engines(keep=set(saved)) == ["test-a"] and not cache_a
        assert system.forget_engines(keep=set(saved)) == []  # nothing left to drop
        cache_a["a-model"] = cache_b[("hifigan", "y")] = object()
        assert system.drop_engines({"test-b", "not-registered"}) == ["test-b"]  # only the named ones
        assert cache_a and cache_b == {("sha", "x"): "abc"}
    finally:
        system._FORGETTERS.clear()
        system._FORGETTERS.update(saved)


def test_every_cached_engine_registers_its_cache():
    """The engines that cache models per process can all be dropped (a cache not registered would stay resident
    under the mix of `dubline dub`)."""
    import models.asr
    import models.cloning.campp
    import models.cloning.vocoder
    import models.kokoro
    import models.llama
    import models.piper
    import models.speaker  # noqa: F401
    from models import system

    expected = {"faster-whisper", "openai-whisper", "kokoro", "piper", "llama.cpp", "resemblyzer", "campp"}
    assert expected | {"hifigan", "whisper-encoder"} <= set(system._FORGETTERS)
