"""Extended description (pipeline/products/description/extended.py): frozen picture, silence in the
programme audio, and the time map, on a tiny generated video."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import ffmpeg
import numpy as np
import pytest

from pipeline.core.errors import InputError
from pipeline.products.description.extended import (
    Hold,
    extend_audio,
    extended_duration,
    render_extended_video,
    time_map,
    to_extended,
)

W, H = 160, 90
HOLDS = [Hold(1.0, 0.5), Hold(2.0, 1.0)]


@pytest.fixture()
def src(ffmpeg_make: Callable[..., Path]) -> Path:
    """3 s of testsrc at 10 fps (every frame differs: it draws a counter), with a sine track."""
    return ffmpeg_make(
        "ext_src.mp4",
        "-f", "lavfi", "-i", f"testsrc=size={W}x{H}:rate=10:duration=3",
        "-f", "lavfi", "-i", "sine=duration=3",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
    )  # fmt: skip


def _frames(path: Path) -> np.ndarray:
    """Every frame of `path` as 8-bit gray, shape (frames, H, W)."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, H, W)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal up to the encoder's noise (both sides went through lossy H.264)."""
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16)))) < 2.0


def test_extended_video_length_and_frozen_frames(src: Path, tmp_path: Path):
    dest = render_extended_video(src, tmp_path / "ext.mp4", HOLDS, 3.0)
    info = ffmpeg.probe(str(dest))
    assert [s["codec_type"] for s in info["streams"]] == ["video"]  # no audio
    assert info["streams"][0]["codec_name"] == "h264"
    assert info["streams"][0]["pix_fmt"] == "yuv420p"
    assert float(info["format"]["duration"]) == pytest.approx(4.5, abs=0.15)

    orig, ext = _frames(src), _frames(dest)
    assert len(orig) == 30 and len(ext) == 45
    assert not _same(orig[9], orig[10])  # the counter moves: frames are told apart
    # before the first hold: unchanged
    assert _same(ext[9], orig[9])
    # inside the first hold (1.0 .. 1.5 s): the frame just before 1.0 s, never the one at 1.0 s
    for i in range(10, 15):
        assert _same(ext[i], orig[9]) and not _same(ext[i], orig[10])
    # after it, the programme resumes with the frame at 1.0 s
    assert _same(ext[15], orig[10])
    # the second hold (2.0 s programme = 2.5 s extended, for 1 s) freezes the frame at 1.9 s
    for i in range(25, 35):
        assert _same(ext[i], orig[19])
    assert _same(ext[35], orig[20])
    assert _same(ext[44], orig[29])


def test_extended_video_holds_at_the_edges(src: Path, tmp_path: Path):
    holds = [Hold(0.0, 0.3), Hold(3.0, 0.4), Hold(1.0, 0.2), Hold(1.0, 0.1)]  # same time: merged
    dest = render_extended_video(src, tmp_path / "edges.mp4", holds, 3.0)
    orig, ext = _frames(src), _frames(dest)
    assert len(ext) == 30 + 3 + 4 + 3
    assert all(_same(ext[i], orig[0]) for i in range(4))  # the first frame held before it plays
    assert _same(ext[12], orig[9]) and _same(ext[16], orig[10])
    assert all(_same(ext[i], orig[29]) for i in range(36, 40))  # the last frame held at the end


def test_extended_video_without_holds_is_the_programme(src: Path, tmp_path: Path):
    dest = render_extended_video(src, tmp_path / "plain.mp4", [], 2.0)
    assert len(_frames(dest)) == 20


def test_extended_video_rejects_an_audio_file(ffmpeg_make: Callable[..., Path], tmp_path: Path):
    wav = ffmpeg_make("ext_only_audio.wav", "-f", "lavfi", "-i", "sine=duration=1")
    with pytest.raises(InputError, match="no video stream") as info:
        render_extended_video(wav, tmp_path / "x.mp4", HOLDS, 1.0)
    assert str(wav) in str(info.value)


def test_extended_duration():
    assert extended_duration(3.0, HOLDS) == pytest.approx(4.5)
    assert extended_duration(3.0, []) == 3.0


def test_extend_audio_mono_places_silence():
    rate = 100
    samples = np.ones(300, dtype=np.float32)
    out = extend_audio(samples, rate, HOLDS)
    assert out.dtype == np.float32 and out.shape == (450,)
    assert np.all(out[:100] == 1) and np.all(out[100:150] == 0)
    assert np.all(out[150:250] == 1) and np.all(out[250:350] == 0)
    assert np.all(out[350:] == 1)


def test_extend_audio_multichannel_keeps_samples_in_order():
    rate = 10
    samples = np.stack([np.arange(30), -np.arange(30)], axis=1).astype(np.float32)
    out = extend_audio(samples, rate, [Hold(2.0, 0.5), Hold(1.0, 0.3), Hold(5.0, 0.2)])
    assert out.shape == (30 + 3 + 5 + 2, 2)
    assert np.array_equal(out[:10], samples[:10])
    assert not out[10:13].any()
    assert np.array_equal(out[13:23], samples[10:20])
    assert not out[23:28].any()
    assert np.array_equal(out[28:38], samples[20:])
    assert not out[38:].any()  # a hold past the end: silence appended


def test_extend_audio_many_holds_do_not_drift():
    rate = 48000
    holds = [Hold(float(i), 1 / 3) for i in range(1, 21)]
    out = extend_audio(np.zeros(rate * 25, dtype=np.float32), rate, holds)
    assert out.shape[0] == rate * 25 + round(20 / 3 * rate)


def test_time_map_and_to_extended():
    assert time_map([Hold(2.0, 1.0), Hold(1.0, 0.5)]) == [
        {"programme_s": 1.0, "extended_s": 1.0, "hold_s": 0.5},
        {"programme_s": 2.0, "extended_s": 2.5, "hold_s": 1.0},
    ]
    assert time_map([]) == []
    assert to_extended(0.5, HOLDS) == 0.5
    assert to_extended(1.0, HOLDS) == 1.0  # the pause starts here
    assert to_extended(1.5, HOLDS) == 2.0
    assert to_extended(2.5, HOLDS) == 4.0


def test_hold_rejects_negative_values():
    with pytest.raises(ValueError):
        Hold(-1.0, 1.0)
    with pytest.raises(ValueError):
        Hold(1.0, -0.5)
