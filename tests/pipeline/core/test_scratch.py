"""Scratch folders a killed run leaves (`work/<stage>-*`) are removed at the start of the next stage; a live
run's folder (its lock held) is never touched, whatever its age."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipeline.core.config import Settings
from pipeline.core.scratch import LOCK, UNLOCKED_STALE_S, stage_scratch, sweep
from pipeline.core.stagerun import StageResult, run_stage

REPO = Path(__file__).resolve().parents[3]


def _run_in_child(root: Path, stage: str, then: str) -> subprocess.Popen[str]:
    """A process in a stage's scratch folder: it prints the folder, then `then` (die, or wait)."""
    code = (
        "import os, signal, sys, time\n"
        "from pathlib import Path\n"
        "from pipeline.core.scratch import stage_scratch\n"
        f"with stage_scratch(Path({str(root)!r}), {stage!r}) as d:\n"
        "    (d / 'half.wav').write_bytes(b'x' * 1000)\n"
        "    print(d, flush=True)\n"
        f"    {then}\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True)


def test_a_killed_runs_folder_is_removed(tmp_path: Path) -> None:
    child = _run_in_child(tmp_path, "synthesize", "os.kill(os.getpid(), signal.SIGKILL)")
    assert child.stdout is not None
    left = Path(child.stdout.readline().strip())
    child.wait()
    assert left.is_dir() and (left / LOCK).is_file()  # kill -9: nothing cleaned up
    assert sweep(tmp_path, ["synthesize"]) == [left]
    assert not left.exists()


def test_a_live_runs_folder_is_left_alone_whatever_its_age(tmp_path: Path) -> None:
    child = _run_in_child(tmp_path, "transcribe", "time.sleep(60)")
    try:
        assert child.stdout is not None
        live = Path(child.stdout.readline().strip())
        os.utime(live, (0, 0))  # as old as can be
        assert sweep(tmp_path, ["transcribe"], now=time.time() + 10 * UNLOCKED_STALE_S) == []
        assert (live / "half.wav").is_file()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert sweep(tmp_path, ["transcribe"]) == [live]


def test_unlocked_folders_go_only_when_old_and_other_folders_stay(tmp_path: Path) -> None:
    old, young, other = tmp_path / "fit-old1", tmp_path / "fit-young", tmp_path / "inputs"
    for d in (old, young, other):
        d.mkdir()
    os.utime(old, (time.time() - UNLOCKED_STALE_S - 60,) * 2)
    os.utime(other, (0, 0))
    assert sweep(tmp_path, ["fit"]) == [old]
    assert young.is_dir() and other.is_dir()


def test_a_finished_stage_leaves_no_folder(tmp_path: Path) -> None:
    with stage_scratch(tmp_path, "mix") as d:
        (d / "x").write_text("x")
    assert list(tmp_path.iterdir()) == []


class Done(StageResult):
    pass


def test_a_stage_removes_what_a_killed_run_left(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    work = settings.data_dir / "work"
    child = _run_in_child(work, "fit", "os.kill(os.getpid(), signal.SIGKILL)")
    assert child.stdout is not None
    left = Path(child.stdout.readline().strip())
    child.wait()
    seen: list[Path] = []

    def stage(run: object) -> Done:
        seen.extend(work.iterdir())
        return Done()

    run_stage(settings, "fit", {"x": 1}, stage, Done)  # type: ignore[arg-type]
    assert not left.exists() and left not in seen
    assert [p.name.startswith("fit-") for p in seen] == [True]  # only the stage's own folder while it ran
    assert [p for p in work.iterdir() if p.name.startswith("fit-")] == []
