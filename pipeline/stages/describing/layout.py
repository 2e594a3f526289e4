"""The spoken descriptions laid on a timeline: each final clip resampled to the mix rate (and stretched a
little where the engine's rate control fell short of its slot, pitch kept), put where placement decided, as a
48 kHz mono stem; with each cue's record as placed (PlacedCue) for the report and the as-placed scripts.

On the extended timeline the programme time of every point after a hold moves by the holds before it
(placement.to_extended_time); a line that needs a hold runs on while the picture is held."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from pipeline.audio.clips import render_clips
from pipeline.core.script import LineQA
from pipeline.text.descriptions.cues import Cue, PlacedCue
from pipeline.text.descriptions.dialogue import overlap_s
from pipeline.text.descriptions.placement import Decision, freeze_points, to_extended_time

RATE = 48000  # the mix rate (pipeline.stages.ingest.MIX_RATE)
STRETCH_MAX = 1.1  # the most a clip is time-stretched to meet its slot when the engine's rate fell short
SLACK_S = 0.02


@dataclasses.dataclass
class Spoken:
    """A clip of a description as spoken (text as meant, store URI, seconds, local WAV, engine rate)."""

    text: str
    uri: str
    seconds: float
    local: Path
    rate: float = 1.0
    qa: LineQA | None = None
    better: Spoken | None = None  # a re-synthesis QA preferred


@dataclasses.dataclass
class Layout:
    path: Path
    placed: list[PlacedCue]
    spans: list[tuple[float, float]]  # where the stem speaks, on its own timeline
    holds: list[tuple[float, float]]  # (programme time, seconds held): extended only


def _tempo(d: Decision, seconds: float) -> float:
    """The stretch that brings a clip into its slot (1.0 when it fits, or when the picture holds for it)."""
    if "extend" in d.steps or d.gap is None:
        return 1.0
    available = d.gap[1] - d.start
    if available <= 0 or seconds <= available + SLACK_S:
        return 1.0
    return min(seconds / available, STRETCH_MAX)


def lay_out(
    decisions: list[Decision],
    finals: dict[str, Spoken],
    cues: dict[str, Cue],
    texts: dict[str, str],
    condensed: dict[str, Any],
    dialogue: list[tuple[float, float]],
    duration: float,
    scratch: Path,
    *,
    name: str,
    extended: bool = False,
) -> Layout:
    holds = [(float(a), float(s)) for a, s in freeze_points(decisions)] if extended else []
    length = duration + sum(s for _, s in holds)
    tempos = [_tempo(d, finals[d.id].seconds) for d in decisions]
    clips = render_clips([finals[d.id].local for d in decisions], tempos, scratch, RATE)
    track = np.zeros(int(round(length * RATE)) + 1, dtype=np.float32)
    placed: list[PlacedCue] = []
    spans: list[tuple[float, float]] = []
    for d, tempo, clip in zip(decisions, tempos, clips, strict=True):
        spoken = finals[d.id]
        at = to_extended_time(d.start, holds) if extended else d.start
        a = int(round(at * RATE))
        piece = clip[: max(0, len(track) - a)]
        track[a : a + len(piece)] += piece
        seconds = len(clip) / RATE
        spans.append((round(at, 3), round(at + seconds, 3)))
        held = d.extend_s if "extend" in d.steps else 0.0
        end = d.start + seconds - held  # in programme time: the part said while the picture holds is not in it
        over = 0.0 if extended and "extend" in d.steps else overlap_s([(d.start, end)], dialogue)
        cue = cues[d.id]
        steps = [*d.steps, *(["stretch"] if tempo > 1.0 else [])]
        if over > 0.005 and "overrun" not in steps:
            steps.append("overrun")  # spoken longer than placed: flagged
        elif over <= 0.005 and "overrun" in steps and not extended:
            steps.remove("overrun")  # placed as an overrun, but the stretch brought it inside its gap
            steps.insert(steps.index("stretch") if "stretch" in steps else len(steps), "rate")
        placed.append(
            PlacedCue(
                id=d.id,
                asked=cue.start,
                text=cue.text,
                spoken_text=texts[d.id],
                start=round(d.start, 3),
                end=round(end, 3),
                gap=d.gap,
                rate=round(spoken.rate * tempo, 3),
                shortened=texts[d.id] != cue.text,
                shortening={k: v for k, v in condensed[d.id].items() if k != "original"} if d.id in condensed else None,
                extended_s=round(held, 3),
                overrun_s=round(over, 3) if over > 0.005 else 0.0,
                steps=steps,
                audio_uri=spoken.uri,
                desc_type=cue.desc_type,
                draft=cue.draft,
                qa=spoken.qa.model_dump(mode="json") if spoken.qa else None,
            )
        )
    peak = float(np.max(np.abs(track))) if track.size else 0.0
    if peak > 0.99:
        track *= 0.99 / peak
    path = scratch / name
    sf.write(str(path), track, RATE, subtype="FLOAT")
    return Layout(path=path, placed=placed, spans=spans, holds=holds)
