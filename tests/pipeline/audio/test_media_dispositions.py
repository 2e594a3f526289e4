"""mux(dispositions=...) (pipeline/audio/media.py): per-track dispositions for a described-media mux."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.audio.media import mux, streams


@pytest.fixture()
def inputs(ffmpeg_make: Callable[..., Path]) -> tuple[Path, Path, Path]:
    video = ffmpeg_make("disp_video.mp4", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=10:d=1", "-c:v", "libx264")
    main = ffmpeg_make("disp_main.wav", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "pcm_s16le")
    desc = ffmpeg_make("disp_desc.wav", "-f", "lavfi", "-i", "sine=frequency=880:duration=1", "-c:a", "pcm_s16le")
    return video, main, desc


def _audio(path: Path) -> list[dict[str, Any]]:
    return [s for s in streams(path) if s.get("codec_type") == "audio"]


def test_mux_with_dispositions_marks_the_described_track(tmp_path: Path, inputs: tuple[Path, Path, Path]):
    video, main, desc = inputs
    dest = mux(
        video,
        [(main, "eng", "English"), (desc, "eng", "English (audio description)")],
        tmp_path / "out.mp4",
        1.0,
        dispositions=["default", "visual_impaired+descriptions"],
    )
    first, second = _audio(dest)
    assert first["disposition"]["default"] == 1
    assert first["disposition"]["visual_impaired"] == 0
    assert second["disposition"]["visual_impaired"] == 1
    assert second["disposition"]["descriptions"] == 1
    assert second["disposition"]["default"] == 0
    assert second["tags"]["language"] == "eng"
    # mp4: the title travels as the handler name (ffmpeg's mp4 `title` is not read back)
    assert second["tags"]["handler_name"] == "English (audio description)"


def test_mux_dispositions_in_mkv_keep_visual_impaired(tmp_path: Path, inputs: tuple[Path, Path, Path]):
    video, main, desc = inputs
    dest = mux(
        video,
        [(main, "spa", "Español"), (desc, "spa", "Español (audiodescripción)")],
        tmp_path / "out.mkv",
        1.0,
        dispositions=["default", "visual_impaired"],
    )
    second = _audio(dest)[1]
    assert second["disposition"]["visual_impaired"] == 1
    assert second["tags"]["language"] == "spa"
    assert second["tags"]["title"] == "Español (audiodescripción)"


def test_mux_without_dispositions_is_unchanged(tmp_path: Path, inputs: tuple[Path, Path, Path]):
    video, main, desc = inputs
    dest = mux(video, [(main, "eng", "A"), (desc, "eng", "B")], tmp_path / "out.mp4", 1.0)
    first, second = _audio(dest)
    assert first["disposition"]["default"] == 1
    assert second["disposition"]["default"] == 0
    assert second["disposition"]["visual_impaired"] == 0


def test_mux_rejects_a_disposition_count_that_does_not_match(tmp_path: Path, inputs: tuple[Path, Path, Path]):
    video, main, _desc = inputs
    with pytest.raises(ValueError, match="1 audio tracks"):
        mux(video, [(main, "eng", "A")], tmp_path / "out.mp4", 1.0, dispositions=["default", "visual_impaired"])


def test_description_disposition_per_container() -> None:
    from pipeline.audio.media import description_disposition

    assert description_disposition("mp4") == "visual_impaired+descriptions"
    assert description_disposition(".m4a") == "visual_impaired+descriptions"
    assert description_disposition("MKV") == "visual_impaired"
