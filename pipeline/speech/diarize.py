"""Diarization: a speaker for every line of the Script, from the speaker turns found in the job's audio
(pipeline.speech.speaker_turns: voice activity, speaker embeddings, clustering, turns).

The Script's ASR segments are re-split where a turn changes inside them, at the pause between words
closest to the change, and each segment gets a speaker "S1", "S2"... numbered by first appearance, with a
SpeakerInfo (speech seconds, centroid embedding, F0 median and range, low/high voice presentation).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.core.config import Settings
from pipeline.core.script import Script, Segment, SpeakerInfo, WordTiming
from pipeline.speech.speaker_turns import FRAME_S, SAMPLE_RATE, Diarization, Region, diarize_audio

SPLIT_SEARCH_S = 0.6  # a split goes to the longest pause between words within this of the turn change
LOW_VOICE_HZ, HIGH_VOICE_HZ = 160.0, 165.0
F0_MAX_SPEECH_S = 60.0  # F0 of a speaker is measured on at most this much of their speech


def _join(words: Sequence[WordTiming], original: str) -> str:
    return ("" if " " not in original.strip() else " ").join(w.text for w in words).strip()


def split_points(words: Sequence[WordTiming], changes: Sequence[float]) -> list[int]:
    """Indices i where a segment's words split (between words[i-1] and words[i]): for each turn change time,
    the longest pause between words within SPLIT_SEARCH_S of it, else the nearest pause."""
    cuts: set[int] = set()
    for t in changes:
        best: tuple[float, float, int] | None = None
        for i in range(1, len(words)):
            gap_a, gap_b = words[i - 1].end, max(words[i - 1].end, words[i].start)
            dist = 0.0 if gap_a <= t <= gap_b else min(abs(t - gap_a), abs(t - gap_b))
            key = (0.0 if dist <= SPLIT_SEARCH_S else dist, -(gap_b - gap_a), i)
            if best is None or key < best:
                best = key
        if best is not None:
            cuts.add(best[2])
    return sorted(cuts)


def split_segment(seg: Segment, dia: Diarization) -> list[tuple[Segment, int | None]]:
    """The segment as one or more parts, each with the label most of its speech has; consecutive parts with the
    same label are merged back, so a segment is split only where the speaker really changes."""
    changes = [
        b[0] for a, b in zip(dia.turns, dia.turns[1:], strict=False) if a[2] != b[2] and seg.start < b[0] < seg.end
    ]
    words = seg.words
    if not changes or len(words) < 2:
        return [(seg, dia.label_at(seg.start, seg.end))]
    bounds = [0, *split_points(words, changes), len(words)]
    parts: list[tuple[list[WordTiming], int | None]] = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        chunk = list(words[a:b])
        votes: dict[int, int] = {}
        for w in chunk:
            for k, v in dia.votes(w.start, max(w.end, w.start + FRAME_S)).items():
                votes[k] = votes.get(k, 0) + v
        label = max(sorted(votes), key=lambda k: votes[k]) if votes else dia.label_at(chunk[0].start, chunk[-1].end)
        if parts and (label == parts[-1][1] or label is None):
            parts[-1][0].extend(chunk)
        else:
            parts.append((chunk, label))
    if len(parts) == 1:
        return [(seg, parts[0][1])]
    out: list[tuple[Segment, int | None]] = []
    for chunk, label in parts:
        out.append(
            (
                Segment(
                    id=seg.id,
                    start=chunk[0].start,
                    end=max(chunk[0].start, chunk[-1].end),
                    speaker=seg.speaker,
                    text=_join(chunk, seg.text),
                    words=chunk,
                    prosody=None,
                ),
                label,
            )
        )
    return out


def f0_stats(samples: np.ndarray) -> tuple[float | None, float | None]:
    """(median F0 in Hz, 10th-90th percentile range in semitones) of the voiced frames (WORLD's DIO + StoneMask)."""
    if len(samples) < SAMPLE_RATE // 4:
        return None, None
    import pyworld

    x = np.asarray(samples, dtype=np.float64)
    f0, t = pyworld.dio(x, SAMPLE_RATE, f0_floor=60.0, f0_ceil=500.0, frame_period=10.0)
    f0 = pyworld.stonemask(x, f0, t, SAMPLE_RATE)
    voiced = f0[f0 > 0]
    if len(voiced) < 10:
        return None, None
    p10, p50, p90 = np.percentile(voiced, [10, 50, 90])
    return round(float(p50), 1), round(float(12 * math.log2(p90 / p10)), 2)


def presentation(f0_median_hz: float | None) -> str:
    """'low' (below LOW_VOICE_HZ), 'high' (above HIGH_VOICE_HZ), else 'unknown': for choosing a stock voice."""
    if f0_median_hz is None:
        return "unknown"
    return "low" if f0_median_hz < LOW_VOICE_HZ else "high" if f0_median_hz > HIGH_VOICE_HZ else "unknown"


def apply_diarization(script: Script, dia: Diarization, samples: np.ndarray | None = None) -> tuple[Script, dict]:
    """A revision of the Script whose segments carry speakers (re-split at turns, re-numbered s0001..) and whose
    speaker_info describes each; with one speaker (or none found) nothing is split. Returns it and a report."""
    new = script.revised("diarize")
    split = 0
    parts: list[tuple[Segment, int | None]] = []
    for seg in new.segments:
        pieces = split_segment(seg, dia) if dia.clusters > 1 else [(seg, 0 if dia.turns else None)]
        split += len(pieces) > 1
        parts.extend(pieces)
    names: dict[int, str] = {}
    for _, label in parts:
        if label is not None and label not in names:
            names[label] = f"S{len(names) + 1}"
    fallback = next(iter(names.values()), "S1")
    segments: list[Segment] = []
    for i, (seg, label) in enumerate(parts, start=1):
        segments.append(
            seg.model_copy(
                update={"id": f"s{i:04d}", "speaker": names.get(label, fallback) if label is not None else fallback}
            )
        )
    new.segments = segments
    new.speakers = list(dict.fromkeys(s.speaker for s in segments)) or ["S1"]
    info: dict[str, SpeakerInfo] = {}
    label_of = {name: label for label, name in names.items()}
    for name in new.speakers:
        label = label_of.get(name)
        turns = [(s, e) for s, e, lab in dia.turns if lab == label] if label is not None else []
        seconds = sum(e - s for s, e in turns) if turns else sum(s.end - s.start for s in segments if s.speaker == name)
        f0_med, f0_range = None, None
        if samples is not None:
            spans = turns or [(s.start, s.end) for s in segments if s.speaker == name]
            f0_med, f0_range = f0_stats(_gather(samples, spans, F0_MAX_SPEECH_S))
        emb = dia.centroids[label] if label is not None and dia.centroids.shape[1] else None
        info[name] = SpeakerInfo(
            id=name,
            seconds=round(seconds, 2),
            segments=sum(s.speaker == name for s in segments),
            f0_median_hz=f0_med,
            f0_range_st=f0_range,
            presentation=presentation(f0_med),
            embedding=[round(float(v), 6) for v in emb] if emb is not None else None,
        )
    new.speaker_info = info
    report = {
        "speakers": len(new.speakers),
        "clusters": dia.clusters,
        "turns": sum(1 for a, b in zip(segments, segments[1:], strict=False) if a.speaker != b.speaker) + 1
        if segments
        else 0,
        "seconds": {n: info[n].seconds for n in new.speakers},
        "split_segments": split,
        "segments": len(segments),
        "speech_s": round(sum(e - s for s, e in dia.regions), 2),
        "windows": dia.windows,
    }
    return new, report


def _gather(samples: np.ndarray, spans: Sequence[Region], limit_s: float) -> np.ndarray:
    chunks, total = [], 0
    for s, e in spans:
        chunk = samples[int(s * SAMPLE_RATE) : int(e * SAMPLE_RATE)]
        chunks.append(chunk[: max(0, int(limit_s * SAMPLE_RATE) - total)])
        total += len(chunks[-1])
        if total >= limit_s * SAMPLE_RATE:
            break
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def diarize_script(
    script: Script, audio_path: Path, settings: Settings, progress: Callable[[int, int, str], None] | None = None
) -> tuple[Script, dict[str, Any]]:
    """Diarize the job's 16 kHz audio and give every segment of the Script its speaker (see the module doc).
    Returns the revised Script and a report (speakers, turns, seconds per speaker, segments split)."""
    from models.speaker import decode_audio

    step = progress or (lambda done, total, label: None)
    step(0, 3, "decoding")
    samples = decode_audio(audio_path)
    step(1, 3, "voice activity, speaker embeddings, clustering")
    dia = diarize_audio(samples, settings)
    step(2, 3, "speakers of the lines")
    revised, report = apply_diarization(script, dia, samples)
    step(3, 3, f"{report['speakers']} speaker(s)")
    return revised, report
