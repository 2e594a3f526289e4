"""The `dubline` command: an audio-only dub end to end (bad input: test_bad_input.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DUBLINE = [sys.executable, "-m", "pipeline.cli.app"]


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DUBLINE, *args], capture_output=True, text=True, env=os.environ.copy(), cwd=cwd, timeout=900
    )


@pytest.mark.slow
def test_audio_only_input_gives_m4a(tmp_path: Path, sample_video: Path) -> None:
    wav = tmp_path / "talk.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(sample_video), "-vn", str(wav)], check=True)
    out = tmp_path / "out"
    proc = _run("dub", str(wav), "--to", "es", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "finished" in proc.stdout and str(out) in proc.stdout
    assert sorted(p.name for p in out.iterdir() if not p.name.endswith(".provenance.json")) == [
        "talk.dub.m4a",
        "talk.en.srt",
        "talk.en.vtt",
        "talk.es.srt",
        "talk.es.vtt",
        "talk.report.json",
    ]
    info = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(out / "talk.dub.m4a")],
            capture_output=True,
            text=True,
        ).stdout
    )
    assert [s["codec_type"] for s in info["streams"]] == ["audio", "audio"]
    assert [s["tags"]["language"] for s in info["streams"]] == ["eng", "spa"]
