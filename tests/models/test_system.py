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
    monkeypatch.setattr(
        runner, "_run_dag", lambda *a: seen.append(os.environ.get("DUBLINE_ENGINE_THREADS")) or _done()
    )
    runner.run_dag(Settings(data_dir=tmp_path), "dub_video", {"input": "x"})
    assert seen == ["8"]
    assert "DUBLINE_ENGINE_THREADS" not in os.environ  # the process environment is as it was
    monkeypatch.setenv("DUBLINE_ENGINE_THREADS", "3")
    runner.run_dag(Settings(data_dir=tmp_path), "dub_video", {"input": "x"})
    assert seen == ["8", "3"]
    assert os.environ["DUBLINE_ENGINE_THREADS"] == "3"


def _done() -> dict[str, object]:
    return {"state": "success", "run_id": "r", "wall_s": 1.0, "published": {}, "errors": []}
