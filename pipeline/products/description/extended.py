"""Extended description: where a description needs more time than the gap it sits in, the programme
pauses. The picture freezes on the last frame before the hold point and the programme audio goes silent
for the hold; the description is spoken over the pause. Everything after a hold moves later by it.

A `Hold` is (programme time, seconds). The same holds drive three things that must stay in sync:
the programme audio (`extend_audio`, silence inserted at the sample of each hold), the picture
(`render_extended_video`, frozen frames) and the report's time map (`time_map`, `to_extended`).

How the picture is rendered: one ffmpeg filter graph. The video is decoded once, its timestamps moved
to start at 0, cut to the programme duration, `split` into one branch per segment between hold points,
each branch `trim`med to its segment (frames with timestamp < t belong before a hold at t) and
re-timed with `setpts=PTS-STARTPTS`; a segment that ends at a hold gets `tpad=stop_mode=clone` (the
last frame repeated), and the segments are `concat`enated. The graph follows the timeline, so the branch
being read is the only one holding frames: memory stays flat for a long programme with many holds
(about 20 holds on a 10-minute 30 fps video is the designed scale). Holds are counted in whole frames,
rounded on the running total (not per hold), so the picture never drifts more than half a frame from
the audio, however many holds there are. Holds that fall between the same two frames are merged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg
import numpy as np

from pipeline.audio.media import require_ffmpeg, run
from pipeline.core.errors import InputError


@dataclass(frozen=True)
class Hold:
    """Pause the programme at `at` (programme seconds) for `seconds`."""

    at: float
    seconds: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.at) and self.at >= 0):
            raise ValueError(f"a hold must be at a time >= 0 s, not {self.at}")
        if not (math.isfinite(self.seconds) and self.seconds >= 0):
            raise ValueError(f"a hold must last >= 0 s, not {self.seconds}")


def normalize(holds: list[Hold]) -> list[Hold]:
    """Holds in time order, those at the same time merged, empty ones dropped."""
    merged: dict[float, float] = {}
    for h in holds:
        if h.seconds > 0:
            merged[h.at] = merged.get(h.at, 0.0) + h.seconds
    return [Hold(at, seconds) for at, seconds in sorted(merged.items())]


def extended_duration(duration: float, holds: list[Hold]) -> float:
    """The programme's length once every hold is added."""
    return duration + sum(h.seconds for h in holds)


def to_extended(t: float, holds: list[Hold]) -> float:
    """Where programme time `t` lands in the extended programme. Holds strictly before `t` push it
    later; a time exactly at a hold maps to the start of the pause (where a description placed there
    begins); the programme itself resumes `seconds` later."""
    return t + sum(h.seconds for h in holds if h.at < t)


def time_map(holds: list[Hold]) -> list[dict[str, float]]:
    """The report's map from programme time to extended time, one entry per (merged) hold:
    {"programme_s": at, "extended_s": where the pause starts in the extended programme, "hold_s": seconds}."""
    out: list[dict[str, float]] = []
    held = 0.0
    for h in normalize(holds):
        out.append({"programme_s": round(h.at, 3), "extended_s": round(h.at + held, 3), "hold_s": round(h.seconds, 3)})
        held += h.seconds
    return out


def extend_audio(samples: np.ndarray, rate: int, holds: list[Hold]) -> np.ndarray:
    """`samples` ((n,) or (n, channels)) with `seconds` of silence inserted at each hold's `at`.
    The sample at `at` plays after the silence; holds past the end append silence at the end.
    The dtype is kept."""
    if rate <= 0:
        raise ValueError(f"sample rate must be positive, not {rate}")
    n = samples.shape[0]
    pieces: list[np.ndarray] = []
    cursor = 0
    inserted = 0.0
    inserted_samples = 0
    for h in normalize(holds):
        at = min(round(h.at * rate), n)
        # round the running total, not each hold, so many holds never drift from the picture
        inserted += h.seconds
        count = round(inserted * rate) - inserted_samples
        inserted_samples += count
        pieces.append(samples[cursor:at])
        pieces.append(np.zeros((count, *samples.shape[1:]), dtype=samples.dtype))
        cursor = at
    pieces.append(samples[cursor:])
    return np.concatenate(pieces, axis=0)


def _frame_rate(src: Path) -> Fraction:
    """The video's frame rate (average, else nominal), or an InputError when it has no picture."""
    try:
        info = ffmpeg.probe(str(src))
    except ffmpeg.Error:
        raise InputError(
            f"video {src} is not a media file ffmpeg can read", "give a video file (mp4, mkv, mov)"
        ) from None
    videos = [
        s
        for s in info.get("streams", [])
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]
    if not videos:
        raise InputError(
            f"video {src} has no video stream, so it cannot be extended",
            "extended description pauses the picture: give the programme's video, or turn extended off",
        )
    for key in ("avg_frame_rate", "r_frame_rate"):
        try:
            rate = Fraction(videos[0].get(key, "0/0"))
        except (ValueError, ZeroDivisionError):
            continue
        if 0 < rate < 1000:
            return rate
    raise InputError(f"video {src} has no usable frame rate", "re-encode it to a constant frame rate")


@dataclass(frozen=True)
class _Plan:
    lead_frames: int  # frozen copies of the first frame before it (holds at or before the first frame)
    cuts: list[tuple[float, int]]  # (programme time of the cut, frozen frames inserted there)
    tail_frames: int  # frozen copies of the last frame after it (holds at or after the last frame)


def _plan(holds: list[Hold], duration: float, rate: Fraction) -> _Plan:
    """Holds as whole frames on the frame grid: cuts between frames, padding counted on the running
    total so the picture stays within half a frame of the audio."""
    fps = float(rate)
    total_frames = max(1, math.ceil(duration * fps - 1e-6))
    by_frame: dict[int, tuple[float, float]] = {}  # first frame after the hold -> (time, seconds)
    for h in normalize(holds):
        k = min(max(math.ceil(h.at * fps - 1e-6), 0), total_frames)
        at, seconds = by_frame.get(k, (h.at, 0.0))
        by_frame[k] = (at, seconds + h.seconds)
    lead = tail = 0
    cuts: list[tuple[float, int]] = []
    held = 0.0
    held_frames = 0
    for k in sorted(by_frame):
        at, seconds = by_frame[k]
        held += seconds
        frames = round(held * fps) - held_frames
        held_frames += frames
        if k == 0:
            lead += frames
        elif k >= total_frames:
            tail += frames
        else:
            cuts.append((at, frames))
    return _Plan(lead, cuts, tail)


def _graph(src: Path, duration: float, plan: _Plan) -> Any:
    video = ffmpeg.input(str(src)).video.filter("setpts", "PTS-STARTPTS").filter("trim", end=duration)
    bounds: list[float | None] = [0.0, *(at for at, _ in plan.cuts), None]
    pads = [frames for _, frames in plan.cuts] + [plan.tail_frames]
    branches = video.filter_multi_output("split", len(pads)) if len(pads) > 1 else None
    segments = []
    for i, pad in enumerate(pads):
        seg = branches[i] if branches is not None else video
        if len(pads) > 1:
            trim: dict[str, float] = {}
            start, end = bounds[i], bounds[i + 1]
            if i > 0 and start is not None:
                trim["start"] = start
            if end is not None:
                trim["end"] = end
            seg = seg.filter("trim", **trim).filter("setpts", "PTS-STARTPTS")
        # one tpad per segment: two in a row give the second one's clones the wrong timestamps
        tpad: dict[str, Any] = {}
        if i == 0 and plan.lead_frames:
            tpad.update(start_mode="clone", start=plan.lead_frames)
        if pad:
            tpad.update(stop_mode="clone", stop=pad)
        if tpad:
            seg = seg.filter("tpad", **tpad)
        segments.append(seg)
    return ffmpeg.concat(*segments, v=1, a=0) if len(segments) > 1 else segments[0]


def render_extended_video(src: Path, dest: Path, holds: list[Hold], duration: float) -> Path:
    """Write `dest`: the picture of `src` (cut to `duration` programme seconds) frozen at each hold on
    the last frame before `at` for `seconds`; no audio (the extended mix is muxed in later). H.264,
    yuv420p. Its length is `extended_duration(duration, holds)` to within a frame."""
    require_ffmpeg()
    if not src.is_file():
        raise InputError(f"video {src} does not exist", "check the path and try again")
    if duration <= 0:
        raise ValueError(f"programme duration must be positive, not {duration}")
    plan = _plan(holds, duration, _frame_rate(src))
    kwargs: dict[str, Any] = {"vcodec": "libx264", "preset": "veryfast", "crf": 20, "pix_fmt": "yuv420p", "an": None}
    if dest.suffix.lower() in (".mp4", ".mov", ".m4v"):
        kwargs["movflags"] = "+faststart"
    run(ffmpeg.output(_graph(src, duration, plan), str(dest), **kwargs), f"render the extended picture of {src.name}")
    return dest
