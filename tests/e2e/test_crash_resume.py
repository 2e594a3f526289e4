"""`dubline dub` killed with SIGKILL in the middle of synthesis, then run again: the stages that finished are
reused, the clips already spoken are not spoken again (the report counts them), and the outputs equal an
uninterrupted run's (subtitles byte for byte; the dub track's decoded audio by md5)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

DUBLINE = [sys.executable, "-m", "pipeline.cli.app"]


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUBLINE_DATA_DIR", "DUBLINE_STORE_URL"))}
    return {**env, "DUBLINE_DATA_DIR": str(data)}


def _dub(src: Path, out: Path, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DUBLINE, "dub", str(src), "--to", "es", "--out", str(out)],
        capture_output=True,
        text=True,
        env=_env(data),
        timeout=1500,
    )


def _audio_md5(path: Path, stream: str) -> str:
    proc = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", stream, "-f", "md5", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def short_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipeline.audio.sample import make_sample
    from pipeline.core.config import get_settings

    return make_sample(tmp_path_factory.mktemp("short") / "talk.mp4", get_settings(), seconds=14.0)


@pytest.mark.slow
def test_a_dub_killed_mid_synthesis_resumes_and_equals_an_uninterrupted_one(short_sample: Path, tmp_path: Path) -> None:
    # the uninterrupted run, in its own data folder
    whole = _dub(short_sample, tmp_path / "whole-out", tmp_path / "whole-data")
    assert whole.returncode == 0, whole.stderr + whole.stdout

    # the run that is killed: once synthesis has made its first clips, SIGKILL to its whole process group
    data, out = tmp_path / "data", tmp_path / "out"
    clips = data / "store" / "clips"
    proc = subprocess.Popen(
        [*DUBLINE, "dub", str(short_sample), "--to", "es", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(data),
        start_new_session=True,
    )
    made = 0
    try:
        deadline = time.monotonic() + 1200
        while time.monotonic() < deadline and proc.poll() is None:
            made = len(list(clips.glob("*.wav"))) if clips.is_dir() else 0
            if made >= 1:
                break
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, (
        f"the run ended before it was killed:\n{proc.stdout.read() if proc.stdout else ''}"
    )
    assert made >= 1
    assert not out.exists() or not any(out.iterdir()), "a killed run published something"

    again = _dub(short_sample, out, data)
    assert again.returncode == 0, again.stderr + again.stdout
    report = json.loads((out / "talk.report.json").read_text())
    cached = {s["stage"] for s in report["stages"] if s["cached"]}
    assert {"ingest", "transcribe", "diarize", "translate"} <= cached, report["stages"]
    rendered = report["rendered"]["es"]
    print(f"\n  clips made before the kill: {made}; re-run: clips reused {rendered['clips_reused']}")
    assert rendered["clips_reused"] >= made

    # the same deliverables as the uninterrupted run
    for name in ("talk.en.srt", "talk.es.srt", "talk.es.vtt"):
        assert (out / name).read_bytes() == (tmp_path / "whole-out" / name).read_bytes(), name
    assert _audio_md5(out / "talk.dub.mp4", "0:a:1") == _audio_md5(tmp_path / "whole-out" / "talk.dub.mp4", "0:a:1")
    assert not list((data / "work").glob("synthesize-*")), "the killed run's scratch folder was left behind"
