"""`dubline describe` refuses bad input before anything is spoken: one line naming the file (and the line or
element) and what to do, a non-zero exit code, nothing published. Fast: every case fails before Airflow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DUBLINE = [sys.executable, "-m", "pipeline.cli.app"]
GOOD = "WEBVTT\nKind: descriptions\n\nd1\n00:00:02.000 --> 00:00:03.000\nA lecturer walks in.\n"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ.copy()
    return subprocess.run([*DUBLINE, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("describe_bad")
    pic = ["-f", "lavfi", "-i", "testsrc2=d=10:s=160x120:r=10"]
    _ffmpeg(*pic, "-f", "lavfi", "-i", "sine=f=300:d=10", "-c:v", "libx264", "-c:a", "aac", "-shortest",
            str(root / "prog.mp4"))  # fmt: skip
    _ffmpeg(*pic, "-an", "-c:v", "libx264", str(root / "mute.mp4"))
    _ffmpeg("-f", "lavfi", "-i", "sine=d=3", str(root / "tone.wav"))
    (root / "ok.vtt").write_text(GOOD)
    return root


SCRIPTS = {
    "malformed.vtt": ("WEBVTT\n\nd1\n00:00:05.000 -> 00:00:07.000\nA lecturer.\n", ["malformed.vtt", "line 3"]),
    "badtime.vtt": ("WEBVTT\n\nd1\n00:00:5.0 --> 00:00:07.000\nA lecturer.\n", ["badtime.vtt", "line"]),
    "late.vtt": (
        "WEBVTT\n\nd1\n00:00:02.000 --> 00:00:03.000\nA lecturer.\n\nd2\n00:00:15.000 --> 00:00:17.000\nLate.\n",
        ["late.vtt", "cue d2 (line 7)", "end of the programme"],
    ),
    "empty.vtt": ("WEBVTT\nKind: descriptions\n\n", ["empty.vtt", "no cues"]),
    "notes.txt": ("some words\n", ["notes.txt", "unknown description script format", "WebVTT"]),
    "broken.xml": ('<tt xmlns="http://www.w3.org/ns/ttml"><body><div>\n', ["broken.xml", "not well-formed XML"]),
    "page.xml": ("<html><body><p>hi</p></body></html>\n", ["page.xml", "not TTML", "DAPT"]),
    "nolang.vtt": (GOOD.replace("Kind: descriptions", "Language: xx"), ["nolang.vtt", "no installed voice reads 'xx'"]),
    "bad.csv": ("start,text\nsoon,A lecturer.\n", ["bad.csv", "row 2", "not a time"]),
    "bad.json": ('[{"start": 2.0}]', ["bad.json", "text"]),
}


def _assert_refused(proc: subprocess.CompletedProcess[str], needles: list[str], out: Path) -> None:
    assert proc.returncode != 0, proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:"), lines
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not out.exists() or not any(out.iterdir()), "something was published"


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_a_bad_script_is_refused_naming_it(media: Path, tmp_path: Path, name: str) -> None:
    text, needles = SCRIPTS[name]
    script = tmp_path / name
    script.write_text(text)
    out = tmp_path / "out"
    _assert_refused(_run("describe", "prog.mp4", "--script", str(script), "--out", str(out), cwd=media), needles, out)


@pytest.mark.parametrize(
    ("video", "options", "needles"),
    [
        ("mute.mp4", [], ["mute.mp4 has no audio stream", "soundtrack"]),
        ("tone.wav", [], ["tone.wav has no picture"]),
        ("nope.mp4", [], ["nope.mp4 does not exist"]),
        ("prog.mp4", ["--language", "ja", "--voice", "pico:en-US"], ["ok.vtt", "does not read 'ja'"]),
        ("prog.mp4", ["--voice", "piper:nobody"], ["ok.vtt", "no voice 'nobody'"]),
        ("prog.mp4", ["--voice", "nobody"], ["voice", "ENGINE:VOICE"]),
        ("prog.mp4", ["--style", "shouting"], ["style"]),
    ],
)
def test_a_bad_programme_or_option_is_refused(
    media: Path, tmp_path: Path, video: str, options: list[str], needles: list[str]
) -> None:
    out = tmp_path / "out"
    proc = _run("describe", video, "--script", "ok.vtt", *options, "--out", str(out), cwd=media)
    _assert_refused(proc, needles, out)


def test_no_script_is_refused(media: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _assert_refused(_run("describe", "prog.mp4", "--out", str(out), cwd=media), ["--script"], out)


@pytest.mark.parametrize(
    ("video", "script", "needles"),
    [
        ("tone.wav", "ok.vtt", ["tone.wav has no picture to describe", "--describe"]),
        ("prog.mp4", "late.vtt", ["late.vtt", "cue d2 (line 7)", "end of the programme"]),
        ("prog.mp4", "missing.vtt", ["missing.vtt does not exist"]),
    ],
)
def test_dub_refuses_a_bad_describe_script_before_it_starts(
    media: Path, tmp_path: Path, video: str, script: str, needles: list[str]
) -> None:
    late = SCRIPTS["late.vtt"][0]
    (tmp_path / "late.vtt").write_text(late)
    (tmp_path / "ok.vtt").write_text(GOOD)
    out = tmp_path / "out"
    proc = _run("dub", video, "--to", "es", "--describe", str(tmp_path / script), "--out", str(out), cwd=media)
    _assert_refused(proc, needles, out)
