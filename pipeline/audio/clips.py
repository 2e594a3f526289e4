"""Speech clips made ready for a timeline: resampled to the mix rate, mono float32, time-stretched (pitch
kept) where a line must be said faster. Shared by every product that lays clips on a programme."""

from __future__ import annotations

from pathlib import Path

import ffmpeg
import numpy as np
import soundfile as sf

from pipeline.audio import media

BATCH = 48  # clips per ffmpeg run


def render_clips(sources: list[Path], tempos: list[float], scratch: Path, rate: int = 48000) -> list[np.ndarray]:
    """Each clip at `rate` (the mix rate), mono float32, time-stretched by its tempo (rubberband, pitch kept;
    ffmpeg's atempo if rubberband fails), converted in a few ffmpeg runs rather than one per clip.
    A repeated line (the same clip at the same tempo) is rendered once."""
    unique: dict[tuple[str, float], int] = {}
    for src, tempo in zip(sources, tempos, strict=True):
        unique.setdefault((str(src), round(tempo, 4)), len(unique))
    jobs = list(unique)
    rendered: list[np.ndarray] = []
    for lo in range(0, len(jobs), BATCH):
        chunk = list(range(lo, min(lo + BATCH, len(jobs))))
        for engine in ("rubberband", "atempo"):
            outputs = []
            for i in chunk:
                clip_path, tempo = jobs[i]
                stream = ffmpeg.input(clip_path).audio
                if abs(tempo - 1.0) > 1e-3:
                    stream = (
                        stream.filter("rubberband", tempo=tempo, pitchq="quality")
                        if engine == "rubberband"
                        else stream.filter("atempo", tempo)
                    )
                outputs.append(ffmpeg.output(stream, str(scratch / f"fit{i}.wav"), ar=rate, ac=1, acodec="pcm_f32le"))
            try:
                media.run(ffmpeg.merge_outputs(*outputs), "convert and stretch the speech clips")
                break
            except Exception:
                if engine == "atempo":
                    raise
        for i in chunk:
            data, _ = sf.read(str(scratch / f"fit{i}.wav"), dtype="float32")
            rendered.append(np.asarray(data, dtype=np.float32))
    return [rendered[unique[(str(src), round(tempo, 4))]] for src, tempo in zip(sources, tempos, strict=True)]
