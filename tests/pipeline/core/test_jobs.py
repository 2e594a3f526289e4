"""Stages as idempotent transactions (pipeline/core/stagerun.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core import progress
from pipeline.core.config import Settings
from pipeline.core.errors import InputError, StageError
from pipeline.core.stagerun import StageResult, StageRun, digest, run_stage
from pipeline.core.storage import open_store


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


class Out(StageResult):
    uri: str = ""
    calls: int = 0
    ok: bool = False


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, run: StageRun) -> Out:
        self.calls += 1
        assert run.scratch.is_dir()
        (run.scratch / "tmp.txt").write_text("scratch")
        uri = run.put_bytes("out.txt", f"call {self.calls}".encode())
        return Out(uri=uri, calls=self.calls)


def _result_keys(settings: Settings) -> list[str]:
    store = open_store(settings.resolved_store_url)
    return [k for k in store.list("stages") if k.endswith("result.json")]


def test_same_material_returns_the_recorded_result(settings: Settings):
    fn = Counter()
    first = run_stage(settings, "mix", {"input": "abc", "gain": 1.0}, fn, Out, label="es")
    assert fn.calls == 1
    assert first.cached is False
    assert first.calls == 1
    assert first.stage == "mix" and first.label == "es"
    assert len(first.key) == 32
    assert first.uri.endswith(f"stages/mix/{first.key}/out.txt")

    second = run_stage(settings, "mix", {"gain": 1.0, "input": "abc"}, fn, Out, label="es")
    assert fn.calls == 1  # not run again
    assert second.cached is True
    assert second.model_dump(exclude={"cached"}) == first.model_dump(exclude={"cached"})
    assert _result_keys(settings) == [f"stages/mix/{first.key}/result.json"]
    assert not any((settings.data_dir / "work").iterdir())  # scratch folders are removed


def test_different_material_or_stage_runs_again(settings: Settings):
    fn = Counter()
    a = run_stage(settings, "mix", {"input": "abc"}, fn, Out)
    b = run_stage(settings, "mix", {"input": "abd"}, fn, Out)
    c = run_stage(settings, "mux", {"input": "abc"}, fn, Out)
    assert fn.calls == 3
    assert len({a.key, b.key, c.key}) == 3
    assert (b.cached, c.cached) == (False, False)


def test_failure_leaves_no_result_and_the_next_run_reruns(settings: Settings):
    attempts = []

    def flaky(run: StageRun) -> Out:
        attempts.append(1)
        run.put_bytes("partial.bin", b"x")
        if len(attempts) == 1:
            raise RuntimeError("engine crashed")
        return Out(ok=True)

    with pytest.raises(StageError, match="stage mix failed: RuntimeError: engine crashed") as info:
        run_stage(settings, "mix", {"input": 1}, flaky, Out)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert _result_keys(settings) == []

    again = run_stage(settings, "mix", {"input": 1}, flaky, Out)
    assert len(attempts) == 2
    assert again.ok is True and again.cached is False
    assert len(_result_keys(settings)) == 1


def test_dubline_errors_pass_through_unchanged(settings: Settings):
    def bad_input(run: StageRun) -> Out:
        raise InputError("input x.mp4 has no audio stream", "give a file with sound")

    with pytest.raises(InputError, match="no audio stream"):
        run_stage(settings, "mix", {"input": 2}, bad_input, Out)
    assert _result_keys(settings) == []


def test_progress_events(settings: Settings):
    events: list[tuple[str, str]] = []
    unsubscribe = progress.subscribe(lambda stage, event, info: events.append((stage, event)))
    try:
        run_stage(settings, "fit", {"x": 1}, lambda run: Out(), Out, label="fr")
        run_stage(settings, "fit", {"x": 1}, lambda run: Out(), Out, label="fr")
    finally:
        unsubscribe()
    assert events == [("fit[fr]", "start"), ("fit[fr]", "done"), ("fit[fr]", "cached")]


def test_unknown_stage_name_is_refused(settings: Settings):
    with pytest.raises(KeyError):
        run_stage(settings, "no-such-stage", {}, lambda run: Out(), Out)


def test_digest_is_stable_across_key_order():
    a = digest({"a": 1, "b": {"x": [1, 2], "y": "z"}, "p": Path("/x")})
    b = digest({"b": {"y": "z", "x": [1, 2]}, "p": Path("/x"), "a": 1})
    assert a == b
    assert len(a) == 64 and int(a, 16) >= 0
    assert digest({"a": 1}) != digest({"a": 2})
    assert digest({"a": [1, 2]}) != digest({"a": [2, 1]})


def test_a_stage_reports_the_models_it_loaded(settings: Settings):
    """Model loads inside a stage (models.system.record_load) are summed into its result, by engine; loads before
    it are not counted (under `dubline dub` the first stage to use a model pays for it, under a real executor
    every task does)."""
    from models.system import record_load

    record_load("before", 9.0)

    def loads(run: StageRun) -> Out:
        record_load("whisper", 0.5)
        record_load("whisper", 0.25)
        record_load("kokoro", 1.5)
        return Out()

    made = run_stage(settings, "synthesize", {"input": "loads"}, loads, Out, label="es")
    assert set(made.model_loads) == {"whisper", "kokoro"}
    assert made.model_loads["whisper"] == 0.75
    assert (made.model_loads["kokoro"], made.model_load_s) == (1.5, 2.25)
    assert run_stage(settings, "synthesize", {"input": "loads"}, loads, Out, label="es").model_loads == made.model_loads
    plain = run_stage(settings, "mix", {"input": "none"}, lambda run: Out(), Out)
    assert (plain.model_load_s, plain.model_loads) == (0.0, {})


def test_a_stage_drops_the_models_it_does_not_use(settings: Settings, monkeypatch: pytest.MonkeyPatch):
    """Before a stage of STAGE_ENGINES runs, the engines it does not use are dropped; a stage not listed, or a
    reused result, drops nothing."""
    from pipeline.core import stagerun

    kept: list[frozenset[str]] = []
    monkeypatch.setattr(stagerun, "forget_engines", lambda keep: kept.append(frozenset(keep)) or [])
    run_stage(settings, "mix", {"input": "m"}, lambda run: Out(), Out, label="es")
    run_stage(settings, "translate", {"input": "t"}, lambda run: Out(), Out, label="es")
    run_stage(settings, "synthesize", {"input": "s"}, lambda run: Out(), Out, label="es")
    run_stage(settings, "mix", {"input": "m"}, lambda run: Out(), Out, label="es")  # reused: nothing runs
    assert kept == [frozenset(), frozenset({"llama.cpp"})]
