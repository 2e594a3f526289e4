"""`dubline dub` on bad input: one line naming the input and the fix, the README's exit code (2 input, 3
configuration or language), no traceback, nothing in --out, and no work started.

Odd but whole inputs (8 channels at 96 kHz, 8 kHz mu-law, a variable frame rate, two audio tracks, names with
spaces, quotes, unicode or a leading dash) pass the same checks: `dub --check` reads them whole and says it is
ready, with a warning where something will not be delivered. Inputs that only a transcription can tell apart
(music only, white noise) run the real job and end with the same one line (marked slow).

A damaged input (truncated, corrupted mid-file, declaring more than it holds) is refused, never dubbed in part.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

DUBLINE = [sys.executable, "-m", "pipeline.cli.app"]


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-v", "error", "-y", *args], check=True)


def _video(path: Path, seconds: float = 10.0, *extra: str) -> Path:
    """A picture with a tone: valid media (the checks before a run do not listen for speech)."""
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=d={seconds}:s=320x240:r=25",
        "-f", "lavfi", "-i", f"sine=f=220:d={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", *extra, str(path),
    )  # fmt: skip
    return path


def _tone(seconds: float, rate: int = 16000, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


# --- makers: each writes its input in a folder and returns the argument to give `dub` ---------------------------


def zero_bytes(d: Path) -> str:
    (d / "empty.mp4").write_bytes(b"")
    return str(d / "empty.mp4")


def truncated_mp4(d: Path) -> str:
    """The first 30 % of an mp4 whose index is at the front (as a cut download has): it still probes."""
    whole = _video(d / "whole.mp4", 10.0, "-movflags", "+faststart")
    data = whole.read_bytes()
    (d / "cut.mp4").write_bytes(data[: int(len(data) * 0.3)])
    return str(d / "cut.mp4")


def truncated_mp4_index_at_end(d: Path) -> str:
    whole = _video(d / "whole.mp4", 10.0)
    data = whole.read_bytes()
    (d / "cut.mp4").write_bytes(data[: int(len(data) * 0.3)])
    return str(d / "cut.mp4")


def corrupted_mid_file(d: Path) -> str:
    whole = _video(d / "whole.mp4", 10.0, "-movflags", "+faststart")
    data = bytearray(whole.read_bytes())
    a, b = int(len(data) * 0.4), int(len(data) * 0.6)
    data[a:b] = np.random.default_rng(7).integers(0, 256, b - a, dtype=np.uint8).tobytes()
    (d / "corrupt.mp4").write_bytes(bytes(data))
    return str(d / "corrupt.mp4")


def text_named_mp4(d: Path) -> str:
    (d / "notes.mp4").write_text("this is not a video\n" * 20)
    return str(d / "notes.mp4")


def text_named_wav(d: Path) -> str:
    (d / "notes.wav").write_text("RIFF? no, just words\n" * 20)
    return str(d / "notes.wav")


def header_only_wav(d: Path) -> str:
    sf.write(str(d / "header.wav"), np.zeros(0, dtype=np.float32), 16000)
    return str(d / "header.wav")


def image_named_mp4(d: Path) -> str:
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=320x240", "-frames:v", "1", "-c:v", "png", "-f", "image2", str(d / "still.mp4")
    )
    return str(d / "still.mp4")


def video_without_audio(d: Path) -> str:
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=d=2:s=160x120", "-an", str(d / "mute.mp4"))
    return str(d / "mute.mp4")


def half_second(d: Path) -> str:
    sf.write(str(d / "blip.wav"), _tone(0.5), 16000)
    return str(d / "blip.wav")


def ten_minutes_silence(d: Path) -> str:
    _ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "600", str(d / "silence.wav"))
    return str(d / "silence.wav")


def three_hours_declared(d: Path) -> str:
    """An mp4 whose movie header declares three hours over two seconds of streams (a broken remux): the job
    would pad the soundtrack to three hours."""
    data = bytearray(_video(d / "short.mp4", 2.0, "-movflags", "+faststart").read_bytes())
    i = data.find(b"mvhd")
    assert data[i + 4] == 0, "a version-0 movie header"
    timescale = struct.unpack(">I", data[i + 16 : i + 20])[0]
    data[i + 20 : i + 24] = struct.pack(">I", 3 * 3600 * timescale)
    (d / "long.mp4").write_bytes(bytes(data))
    return str(d / "long.mp4")


def wav_header_longer_than_data(d: Path) -> str:
    """A WAV whose header declares three hours and holds two seconds: ffmpeg reads the two seconds it has,
    which is a whole (short) programme, so this one is accepted."""
    pcm = (_tone(2.0) * 32767).astype("<i2").tobytes()
    declared = 3 * 3600 * 16000 * 2
    header = b"RIFF" + struct.pack("<I", 36 + declared) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
    header += b"data" + struct.pack("<I", declared)
    (d / "long.wav").write_bytes(header + pcm)
    return str(d / "long.wav")


def missing(d: Path) -> str:
    return str(d / "nope.mp4")


def directory(d: Path) -> str:
    (d / "folder.mp4").mkdir()
    return str(d / "folder.mp4")


def fifo(d: Path) -> str:
    os.mkfifo(d / "pipe.mp4")
    return str(d / "pipe.mp4")


def dangling_link(d: Path) -> str:
    (d / "link.mp4").symlink_to(d / "gone.mp4")
    return str(d / "link.mp4")


def unreadable(d: Path) -> str:
    p = _video(d / "locked.mp4", 2.0)
    p.chmod(0)
    return str(p)


def tone_wav(d: Path) -> str:
    sf.write(str(d / "tone.wav"), _tone(2.0), 16000)
    return str(d / "tone.wav")


def http_url(d: Path) -> str:
    return "http://example.com/talk.mp4"


def s3_without_credentials(d: Path) -> str:
    return "s3://dubline-inbox/talk.mp4"


# odd but whole


def eight_channels_96k(d: Path) -> str:
    sf.write(str(d / "surround.wav"), _tone(3.0, 96000, 8), 96000, subtype="PCM_24")
    return str(d / "surround.wav")


def mulaw_8k(d: Path) -> str:
    sf.write(str(d / "phone.wav"), _tone(3.0, 8000), 8000, subtype="ULAW")
    return str(d / "phone.wav")


def variable_frame_rate(d: Path) -> str:
    """Frames dropped at random times, timestamps kept: a phone recording's variable frame rate."""
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=d=4:s=320x240:r=30", "-f", "lavfi", "-i", "sine=f=220:d=4",
        "-vf", "select='not(eq(mod(n\\,7)\\,3)+eq(mod(n\\,11)\\,5))'", "-fps_mode", "vfr",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(d / "vfr.mp4"),
    )  # fmt: skip
    return str(d / "vfr.mp4")


def two_audio_tracks(d: Path) -> str:
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=d=3:s=320x240", "-f", "lavfi", "-i", "sine=f=220:d=3",
        "-f", "lavfi", "-i", "sine=f=330:d=3", "-map", "0:v", "-map", "1:a", "-map", "2:a",
        "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fre",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(d / "bilingual.mp4"),
    )  # fmt: skip
    return str(d / "bilingual.mp4")


def named(name: str) -> Callable[[Path], str]:
    """A valid video of that name, given by its name alone (the command runs in its folder)."""

    def make(d: Path) -> str:
        return _video(d / name, 2.0).name

    return make


@dataclass(frozen=True)
class Case:
    make: Callable[[Path], str]
    code: int  # the README's exit code; 0: accepted (with --check)
    needle: str  # in the one error line (or, accepted, in the output)
    options: tuple[str, ...] = ("--to", "es")
    env: dict[str, str] = field(default_factory=dict)
    before: tuple[str, ...] = ()  # arguments before the input (after `--` for a name with a leading dash)
    names_input: bool = True  # the line names the input file


NO_S3 = {
    "AWS_ACCESS_KEY_ID": "",
    "AWS_SECRET_ACCESS_KEY": "",
    "DUBLINE_S3_ACCESS_KEY": "",
    "DUBLINE_S3_SECRET_KEY": "",
    "DUBLINE_S3_ENDPOINT": "http://127.0.0.1:9",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}

REFUSED = {
    "zero bytes": Case(zero_bytes, 2, "is empty (0 bytes)"),
    "truncated mp4 (index in front)": Case(truncated_mp4, 2, "is damaged"),
    "truncated mp4 (index at the end)": Case(truncated_mp4_index_at_end, 2, "not a media file"),
    "corrupted bytes mid-file": Case(corrupted_mid_file, 2, "is damaged"),
    "text named .mp4": Case(text_named_mp4, 2, "not a media file"),
    "text named .wav": Case(text_named_wav, 2, "not a media file"),
    "header-only wav": Case(header_only_wav, 2, "zero-length audio track"),
    "image named .mp4": Case(image_named_mp4, 2, "is a still image (png), not a video"),
    "video without audio": Case(video_without_audio, 2, "has no audio stream"),
    "half a second of audio": Case(half_second, 2, "too short to dub"),
    "ten minutes of silence": Case(ten_minutes_silence, 2, "silent audio track"),
    "three-hour declared duration": Case(three_hours_declared, 2, "it declares 10800.0 s but its streams hold 2.0 s"),
    "missing path": Case(missing, 2, "does not exist"),
    "a directory": Case(directory, 2, "is not a file"),
    "a named pipe": Case(fifo, 2, "is not a file"),
    "a dangling symlink": Case(dangling_link, 2, "does not exist"),
    "an unreadable file": Case(unreadable, 2, "cannot be read"),
    "http:// input": Case(http_url, 2, "unsupported scheme", names_input=False),
    "s3:// without credentials": Case(s3_without_credentials, 3, "no S3 credentials", env=NO_S3),
    "s3:// with an unknown AWS profile": Case(
        s3_without_credentials, 3, "AWS profile 'nosuch'", env={**NO_S3, "AWS_PROFILE": "nosuch"}, names_input=False
    ),
    "unknown target language": Case(tone_wav, 3, "'xx' is not a language code", ("--to", "xx"), names_input=False),
    "unknown source language": Case(
        tone_wav, 3, "'qq' is not a language code", ("--from", "qq", "--to", "es"), names_input=False
    ),
    "identical languages": Case(
        tone_wav, 3, "target language en is the source language", ("--from", "en", "--to", "en"), names_input=False
    ),
    "empty --to": Case(tone_wav, 3, "no target language given", ("--to", ""), names_input=False),
    "a pair no engine translates": Case(tone_wav, 3, "en->pl", ("--from", "en", "--to", "pl"), names_input=False),
    "a target no engine translates into": Case(
        tone_wav, 3, "no installed engine translates into pl", ("--to", "pl"), names_input=False
    ),
    "glossary not JSON": Case(tone_wav, 2, "glossary", ("--to", "es", "--glossary", "@bad.json"), names_input=False),
    "glossary not UTF-8": Case(tone_wav, 2, "glossary", ("--to", "es", "--glossary", "@latin1.tsv"), names_input=False),
    "glossary missing": Case(
        tone_wav, 2, "no such file", ("--to", "es", "--glossary", "@none.json"), names_input=False
    ),
    "--out is a file": Case(
        tone_wav, 2, "outfile is a file, not a folder", ("--to", "es", "--out", "@outfile"), names_input=False
    ),
    "--out under /proc": Case(
        tone_wav,
        2,
        "--out /proc/dubline-out cannot be written",
        ("--to", "es", "--out", "/proc/dubline-out"),
        names_input=False,
    ),
    "--out on a read-only file system": Case(
        tone_wav, 2, "--out /sys/out cannot be written", ("--to", "es", "--out", "/sys/out"), names_input=False
    ),
    "a name with a leading dash, without --": Case(named("-take1.mp4"), 2, "Put `--` before an input"),
    "no --to at all": Case(tone_wav, 2, "Missing option '--to'", (), names_input=False),
    "an unknown option": Case(tone_wav, 2, "No such option: --too", ("--too", "es"), names_input=False),
    "negative speaker count": Case(tone_wav, 2, "--speakers", ("--to", "es", "--speakers", "-1"), names_input=False),
    "a description script that is missing": Case(
        named("film.mp4"), 2, "missing.vtt", ("--to", "es", "--describe", "@missing.vtt"), names_input=False
    ),
}

ACCEPTED = {
    "8 channels at 96 kHz": Case(eight_channels_96k, 0, "audio, 3.0 s"),
    "8 kHz mu-law": Case(mulaw_8k, 0, "audio, 3.0 s"),
    "a WAV header longer than its data": Case(wav_header_longer_than_data, 0, "long.wav: audio, 2.0 s"),
    "variable frame rate": Case(variable_frame_rate, 0, "video, 4."),
    "two audio tracks": Case(two_audio_tracks, 0, "the input has 2 audio tracks (eng, fre): the first is dubbed"),
    "a name with spaces": Case(named("my talk final.mp4"), 0, "my talk final.mp4: video"),
    "a name with quotes": Case(named("""it's "final".mp4"""), 0, """it's "final".mp4: video"""),
    "a unicode name": Case(named("charla_añeja_日本.mp4"), 0, "charla_añeja_日本.mp4: video"),
    "a name with a leading dash, after --": Case(named("-take1.mp4"), 0, "-take1.mp4: video", before=("--",)),
}


def _args(case: Case, d: Path, out: Path, *extra: str) -> list[str]:
    """The command line: `@name` in an option stands for a file of the case's folder, made here."""
    (d / "bad.json").write_text('{"terms": [unclosed', encoding="utf-8")
    (d / "latin1.tsv").write_bytes("café\tcafé\n".encode("latin-1"))
    (d / "outfile").write_text("not a folder")
    opts = [str(d / o[1:]) if o.startswith("@") else o for o in case.options]
    if "--out" not in opts:
        opts += ["--out", str(out)]
    target = case.make(d)
    return ["dub", *opts, *extra, *case.before, target] if case.before else ["dub", target, *opts, *extra]


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true", **env}
    return subprocess.run([*DUBLINE, *args], capture_output=True, text=True, env=full, cwd=cwd, timeout=600)


def _out_empty(out: Path) -> bool:
    return not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("name", list(REFUSED))
def test_bad_input_is_refused_in_one_line(name: str, tmp_path: Path) -> None:
    case = REFUSED[name]
    if name == "an unreadable file" and os.geteuid() == 0:
        pytest.skip("root reads a file of mode 000; run the tests as a user to check this case")
    d = tmp_path / "in"
    d.mkdir()
    out = tmp_path / "out"
    args = _args(case, d, out)
    proc = _run(args, case.env, d)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == case.code, (proc.returncode, proc.stderr, proc.stdout)
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert case.needle in lines[0], lines[0]
    if case.names_input:
        assert Path(args[1] if args[1] != "--" else args[-1]).name in lines[0] or args[1] in lines[0], lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert _out_empty(out), f"something was written to --out: {list(out.iterdir())}"
    assert "dubline" not in proc.stdout or "finished" not in proc.stdout  # no run was started or reported done


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_odd_but_whole_input_is_accepted(name: str, tmp_path: Path) -> None:
    case = ACCEPTED[name]
    d = tmp_path / "in"
    d.mkdir()
    out = tmp_path / "out"
    proc = _run(_args(case, d, out, "--check"), case.env, d)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    text = " ".join(proc.stdout.split())
    assert case.needle in text, proc.stdout
    assert "checked: ready to dub" in text
    assert "Traceback" not in proc.stderr + proc.stdout
    assert _out_empty(out)


def test_the_readme_documents_the_exit_codes_the_cases_use() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert "2 input, 3" in " ".join(readme.split())
    assert {c.code for c in REFUSED.values()} == {2, 3}
    assert len(REFUSED) + len(ACCEPTED) >= 30


def _wav_noise(d: Path) -> str:
    x = np.random.default_rng(5).standard_normal(16000 * 8).astype(np.float32) * 0.2
    sf.write(str(d / "hiss.wav"), x, 16000)
    return str(d / "hiss.wav")


def _music(d: Path) -> str:
    subprocess.run(
        [*DUBLINE, "compose", "--mood", "calm", "--seconds", "12", "--seed", "3", "--out", str(d / "bed.wav")],
        check=True,
        capture_output=True,
    )
    return str(d / "bed.wav")


@pytest.mark.slow
@pytest.mark.parametrize(("name", "make"), [("white noise", _wav_noise), ("music only", _music)])
def test_input_without_speech_runs_and_ends_in_one_line(name: str, make: Callable[[Path], str], tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    out = tmp_path / "out"
    src = make(d)
    proc = _run(["dub", src, "--to", "es", "--out", str(out)], {}, d)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, proc.stderr + proc.stdout
    assert lines and lines[-1].startswith("error: ") and "no speech was found" in lines[-1], proc.stderr
    assert Path(src).name in lines[-1]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert _out_empty(out)
    assert len(lines) == 1, proc.stderr  # the line is all the user sees
