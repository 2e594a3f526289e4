"""The review gates of the real dub_video DAG under `dag.test()` (`dubline dub --review`): the run waits after
the transcript and after the translation; a reviewer approves the first from another process and hands in an
edited translation at the second (exported from the Script URI the gate shows); the dub then finishes with
that edit, and the report names who approved and who edited."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

DUBLINE = [sys.executable, "-m", "pipeline.cli.app"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*DUBLINE, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _wait_for(gate: str, dub: subprocess.Popen[str], timeout_s: float = 900) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert dub.poll() is None, "the dub ended before its review"
        waiting = json.loads(_cli("review", "list", "--json").stdout or "[]")
        mine = [w for w in waiting if w["task_id"] == gate]
        if mine:
            return dict(mine[0])
        time.sleep(3)
    raise AssertionError(f"{gate} never waited")


@pytest.mark.slow
def test_dub_review_waits_and_resumes(tmp_path: Path, sample_video: Path) -> None:
    out = tmp_path / "out"
    dub = subprocess.Popen(
        [*DUBLINE, "dub", str(sample_video), "--to", "es", "--out", str(out), "--review"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        first = _wait_for("review_transcript", dub)
        time.sleep(3)
        assert dub.poll() is None  # still waiting: nothing answered
        _cli("review", "approve", first["run_id"], "--by", "ana")

        second = _wait_for("review_translations", dub)
        assert second["run_id"] == first["run_id"]
        uri = re.search(r"`dubline script export '([^']+)' --lang es`", second["body"])
        assert uri, second["body"]
        vtt = tmp_path / "es.vtt"
        _cli("script", "export", uri.group(1), "--lang", "es", "--format", "vtt", "--out", str(vtt))
        blocks = vtt.read_text(encoding="utf-8").split("\n\n")
        cue = next(i for i, b in enumerate(blocks) if re.match(r"s\d{4}\n", b))
        ident, times, *_ = blocks[cue].split("\n")
        blocks[cue] = f"{ident}\n{times}\nUna línea que ha corregido una persona."
        vtt.write_text("\n\n".join(blocks), encoding="utf-8")
        _cli("review", "apply", first["run_id"], "--script", f"es={vtt}", "--by", "luis")
        stdout, stderr = dub.communicate(timeout=1200)
    finally:
        if dub.poll() is None:
            dub.kill()
    assert dub.returncode == 0, stdout + stderr
    assert "waiting review_transcript" in " ".join(stdout.split()), stdout
    report = json.loads((out / "talk.report.json").read_text())
    reviews = {r["gate"]: r for r in report["revisions"] if r["kind"] == "review"}
    assert reviews["review_transcript"]["approved_by"] == "ana" and not reviews["review_transcript"]["timed_out"]
    assert reviews["review_translations"]["approved_by"] == "luis"
    [edit] = [r for r in report["revisions"] if r["kind"] == "translation"]
    line = ident.split(".")[0]
    assert edit["editor"] == "luis" and edit["lines"] == [line]
    assert report["rendered"]["es"]["lines"][line] == "translation edited"
