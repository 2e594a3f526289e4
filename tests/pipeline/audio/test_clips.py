"""The batched rendering of speech clips (one ffmpeg run for many): repeated lines render once."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipeline.audio.clips import render_clips


def test_repeated_clips_and_tempos(tmp_path: Path) -> None:
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    for path, freq in ((a, 440), (b, 660)):
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency={freq}:duration=1",
                "-ar",
                "22050",
                str(path),
            ],
            check=True,
        )
    out = render_clips([a, b, a, a, b], [1.0, 1.2, 1.0, 1.25, 1.2], tmp_path)
    assert len(out) == 5
    assert abs(len(out[0]) / 48000 - 1.0) < 0.02 and abs(len(out[3]) / 48000 - 0.8) < 0.05
    assert (out[0] == out[2]).all() and (out[1] == out[4]).all()
