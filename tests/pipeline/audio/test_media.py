"""ffmpeg probing and stretching (pipeline/audio/media.py), on tiny files made with ffmpeg."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.audio.media import iso639_2, probe, stretch, wav_duration
from pipeline.core.errors import InputError


def test_probe_missing_file(tmp_path: Path):
    path = tmp_path / "nope.mp4"
    with pytest.raises(InputError, match="does not exist") as info:
        probe(path)
    assert str(path) in str(info.value)
    assert info.value.exit_code == 2


def test_probe_folder(tmp_path: Path):
    with pytest.raises(InputError, match="is not a file") as info:
        probe(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_probe_empty_file(tmp_path: Path):
    path = tmp_path / "empty.mp4"
    path.touch()
    with pytest.raises(InputError, match=r"empty \(0 bytes\)") as info:
        probe(path)
    assert str(path) in str(info.value)


def test_probe_text_file(tmp_path: Path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 20)
    with pytest.raises(InputError, match="not a media file") as info:
        probe(path)
    assert str(path) in str(info.value)
    assert "\n" not in info.value.one_line()


def test_probe_video_without_audio(ffmpeg_make: Callable[..., Path]):
    path = ffmpeg_make("silent.mp4", "-f", "lavfi", "-i", "testsrc2=d=1:s=64x64", "-an")
    with pytest.raises(InputError, match=r"no audio stream \(this video is silent\)") as info:
        probe(path)
    assert str(path) in str(info.value)


def test_probe_wav(sine_wav: Path):
    info = probe(sine_wav)
    assert info.path == str(sine_wav)
    assert info.duration == pytest.approx(2.0, abs=0.01)
    assert info.has_video is False and info.is_audio_only
    assert info.video_codec is None
    assert info.audio_codec == "pcm_s16le"
    assert info.sample_rate == 44100
    assert info.channels == 1
    assert "wav" in info.format_name


@pytest.mark.parametrize(
    ("code", "expected"),
    [("en", "eng"), ("es", "spa"), ("fr", "fre"), ("de", "ger"), ("ca", "cat"), ("xx", "und"), ("", "und")],
)
def test_iso639_2(code: str, expected: str):
    assert iso639_2(code) == expected


@pytest.mark.parametrize("engine", ["rubberband", "atempo"])
def test_stretch_makes_the_clip_shorter(sine_wav: Path, tmp_path: Path, engine: str):
    out = stretch(sine_wav, tmp_path / f"fast-{engine}.wav", 1.25, engine=engine)
    assert out == tmp_path / f"fast-{engine}.wav"
    assert wav_duration(out) == pytest.approx(2.0 / 1.25, rel=0.05)
