"""The `dubline` command: an audio-only dub end to end, and every kind of bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

DUBLINE = [sys.executable, "-m", "pipeline.cli.app"]


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DUBLINE, *args], capture_output=True, text=True, env=os.environ.copy(), cwd=cwd, timeout=900
    )


def _assert_clean_failure(proc: subprocess.CompletedProcess[str], needle: str, out: Path) -> None:
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:"), lines
    assert needle in lines[0], lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not out.exists() or not any(out.iterdir()), "something was published"


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


def test_missing_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _assert_clean_failure(
        _run("dub", str(tmp_path / "nope.mp4"), "--to", "es", "--out", str(out)), "nope.mp4 does not exist", out
    )


def test_not_media(tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video\n" * 20)
    out = tmp_path / "out"
    _assert_clean_failure(_run("dub", str(bad), "--to", "es", "--out", str(out)), "not a media file", out)


def test_video_without_audio(tmp_path: Path) -> None:
    vid = tmp_path / "mute.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=d=2:s=160x120", "-an", str(vid)], check=True
    )
    out = tmp_path / "out"
    _assert_clean_failure(_run("dub", str(vid), "--to", "es", "--out", str(out)), "has no audio stream", out)


def test_zero_length_audio(tmp_path: Path) -> None:
    wav = tmp_path / "empty.wav"
    sf.write(str(wav), np.zeros(0, dtype=np.float32), 16000)
    out = tmp_path / "out"
    _assert_clean_failure(_run("dub", str(wav), "--to", "es", "--out", str(out)), "zero-length", out)


@pytest.mark.slow
def test_silent_audio(tmp_path: Path) -> None:
    wav = tmp_path / "silence.wav"
    sf.write(str(wav), np.zeros(16000 * 3, dtype=np.float32), 16000)
    out = tmp_path / "out"
    _assert_clean_failure(_run("dub", str(wav), "--to", "es", "--out", str(out)), "silent audio track", out)


def test_pair_without_engine(tmp_path: Path) -> None:
    wav = tmp_path / "tone.wav"
    t = np.arange(16000) / 16000
    sf.write(str(wav), (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    out = tmp_path / "out"
    proc = _run("dub", str(wav), "--from", "en", "--to", "pl", "--out", str(out))
    _assert_clean_failure(proc, "en->pl", out)
    assert "en->es" in proc.stderr  # the message lists the pairs that exist
