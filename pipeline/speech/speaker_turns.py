"""Speaker turns: who speaks when in a job's 16 kHz audio (pipeline.speech.diarize gives the Script's lines
their speakers from these).

Silero VAD finds the speech; Resemblyzer embeds sliding windows over it (DUBLINE_DIARIZE_WINDOW_S, hop
DUBLINE_DIARIZE_HOP_S); agglomerative clustering (average linkage on cosine distance) cut at
DUBLINE_DIARIZE_THRESHOLD counts the speakers, or gives DUBLINE_DIARIZE_SPEAKERS clusters when that is set;
a few spherical k-means passes refine it and clusters too small to be a voice are folded into the nearest one.
Every 50 ms speech frame then takes the speaker whose centroid the windows around it (weighted towards
their centres) resemble most, and turns shorter than MIN_TURN_S are absorbed by their neighbours.

The model calls (`vad`, `embed`) are parameters of `diarize_audio`, so the logic is tested with fakes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from pipeline.core.config import Settings

SAMPLE_RATE = 16000
FRAME_S = 0.05  # label grid
MIN_WINDOW_S = 0.5  # speech shorter than this is not embedded; it takes its neighbours' speaker
MIN_TURN_S = 1.0  # shorter turns are absorbed by the neighbour they resemble most
MIN_CLUSTER_WINDOWS = 3  # a cluster needs this many windows (and MIN_CLUSTER_SHARE of them) to be a speaker
MIN_CLUSTER_SHARE = 0.03

Region = tuple[float, float]
VadFn = Callable[[np.ndarray], list[Region]]
EmbedFn = Callable[[np.ndarray, list[Region]], np.ndarray]


@dataclass
class Diarization:
    """Speaker labels (cluster indices, numbered by first appearance) of the audio's speech frames."""

    duration: float
    regions: list[Region]
    labels: np.ndarray  # per FRAME_S frame: cluster index, -1 where nobody speaks
    centroids: np.ndarray  # (clusters, dims), unit rows
    windows: int = 0
    turns: list[tuple[float, float, int]] = field(default_factory=list)

    @property
    def clusters(self) -> int:
        return int(self.centroids.shape[0])

    def votes(self, start: float, end: float) -> dict[int, int]:
        """Speech frames per label in [start, end)."""
        a, b = (
            int(math.floor(start / FRAME_S)),
            max(int(math.ceil(end / FRAME_S)), int(math.floor(start / FRAME_S)) + 1),
        )
        seg = self.labels[max(0, a) : max(0, b)]
        values, counts = np.unique(seg[seg >= 0], return_counts=True)
        return {int(v): int(c) for v, c in zip(values, counts, strict=True)}

    def label_at(self, start: float, end: float) -> int | None:
        """The label of most speech frames in [start, end); else the nearest speech frame's; None without speech."""
        votes = self.votes(start, end)
        if votes:
            return max(sorted(votes), key=lambda k: votes[k])
        speech = np.flatnonzero(self.labels >= 0)
        if not len(speech):
            return None
        mid = (start + end) / 2 / FRAME_S
        return int(self.labels[speech[int(np.argmin(np.abs(speech - mid)))]])


# --- windows and clustering ----------------------------------------------------------------------------------------


def make_windows(regions: Sequence[Region], window_s: float, hop_s: float) -> list[Region]:
    """Sliding windows over each speech region, evenly spread so the last one ends at the region's end; a region
    shorter than a window is one window; one shorter than MIN_WINDOW_S none."""
    out: list[Region] = []
    for s, e in regions:
        d = e - s
        if d < MIN_WINDOW_S:
            continue
        if d <= window_s:
            out.append((s, e))
            continue
        n = math.ceil((d - window_s) / hop_s - 1e-9) + 1
        out.extend((float(t), float(t) + window_s) for t in np.linspace(s, e - window_s, n))
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.asarray(x / np.where(n == 0, 1.0, n))


def _centroids(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the labels renumbered 0..k-1 by first appearance, the unit centroid of each)."""
    order = list(dict.fromkeys(int(v) for v in labels))
    remap = {old: new for new, old in enumerate(order)}
    labels = np.array([remap[int(v)] for v in labels])
    return labels, _unit(np.stack([x[labels == k].mean(axis=0) for k in range(len(order))]))


def cluster_embeddings(
    x: np.ndarray, *, threshold: float, speakers: int = 0, max_speakers: int = 8, refine: int = 10
) -> np.ndarray:
    """A speaker label per embedding (rows of x), 0.. numbered by first appearance.

    Average-linkage agglomerative clustering on cosine distance, cut at `threshold` (or into `speakers`
    clusters when > 0; never more than max_speakers), then spherical k-means passes from those centroids; with
    an estimated count, clusters with fewer than MIN_CLUSTER_WINDOWS windows or MIN_CLUSTER_SHARE of them are
    folded into the nearest other cluster (a cough, a laugh, a window across two voices)."""
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=int)
    if n == 1:
        return np.zeros(1, dtype=int)
    from scipy.cluster.hierarchy import fcluster, linkage

    x = _unit(np.asarray(x, dtype=np.float64))
    tree = linkage(x, method="average", metric="cosine")
    if speakers > 0:
        labels = fcluster(tree, t=min(speakers, max_speakers, n), criterion="maxclust")
    else:
        labels = fcluster(tree, t=threshold, criterion="distance")
        if len(set(labels)) > max_speakers:
            labels = fcluster(tree, t=max_speakers, criterion="maxclust")
    labels, cents = _centroids(x, labels)
    for _ in range(refine):
        new = np.argmax(x @ cents.T, axis=1)
        if speakers <= 0:
            sizes = np.bincount(new, minlength=len(cents))
            small = [k for k in range(len(cents)) if sizes[k] < max(MIN_CLUSTER_WINDOWS, MIN_CLUSTER_SHARE * n)]
            if small and len(small) < len(cents):
                scores = x @ cents.T
                scores[:, small] = -np.inf
                new = np.argmax(scores, axis=1)
        if np.array_equal(new, labels):
            break
        labels, cents = _centroids(x, new)
    return _centroids(x, labels)[0]


# --- frame labels and turns ----------------------------------------------------------------------------------------


def frame_labels(
    duration: float, regions: Sequence[Region], windows: Sequence[Region], scores: np.ndarray
) -> np.ndarray:
    """A label per FRAME_S frame: -1 outside speech; inside, the cluster with the highest score summed over the
    windows covering the frame, each weighted by closeness to its centre (a triangle); frames no window covers
    take the nearest window's scores."""
    n = max(1, int(math.ceil(duration / FRAME_S)))
    labels = np.full(n, -1, dtype=int)
    if not len(windows):
        return labels
    k = scores.shape[1]
    acc = np.zeros((n, k))
    t = (np.arange(n) + 0.5) * FRAME_S
    for (ws, we), sc in zip(windows, scores, strict=True):
        a, b = int(ws / FRAME_S), min(n, int(math.ceil(we / FRAME_S)))
        half = max((we - ws) / 2, FRAME_S)
        w = np.clip(1.0 - np.abs(t[a:b] - (ws + we) / 2) / half, 0.05, 1.0)
        acc[a:b] += w[:, None] * sc[None, :]
    centres = np.array([(s + e) / 2 for s, e in windows])
    for s, e in regions:
        a, b = int(s / FRAME_S), min(n, int(math.ceil(e / FRAME_S)))
        for i in range(a, b):
            row = acc[i] if acc[i].any() else scores[int(np.argmin(np.abs(centres - t[i])))]
            labels[i] = int(np.argmax(row))
    return labels


def smooth_labels(labels: np.ndarray, scores_of: Callable[[int, int], np.ndarray], min_frames: int) -> np.ndarray:
    """Absorb runs of speech frames shorter than min_frames (counted over speech only, pauses skipped) into the
    neighbouring run whose label `scores_of(first, last)` prefers; shortest runs first."""
    labels = labels.copy()
    speech = np.flatnonzero(labels >= 0)
    while len(speech):
        seq = labels[speech]
        cuts = np.flatnonzero(np.diff(seq)) + 1
        starts, ends = np.r_[0, cuts], np.r_[cuts, len(seq)]
        if len(starts) == 1:
            break
        lengths = ends - starts
        i = int(np.argmin(lengths))
        if lengths[i] >= min_frames:
            break
        neighbours = [seq[starts[j]] for j in (i - 1, i + 1) if 0 <= j < len(starts)]
        sc = scores_of(int(speech[starts[i]]), int(speech[ends[i] - 1]))
        best = max(neighbours, key=lambda lab: sc[lab])
        labels[speech[starts[i] : ends[i]]] = best
    return labels


def turns_of(labels: np.ndarray) -> list[tuple[float, float, int]]:
    """Contiguous runs of one label (pauses end a turn), as (start, end, label) seconds."""
    out: list[tuple[float, float, int]] = []
    i, n = 0, len(labels)
    while i < n:
        if labels[i] < 0:
            i += 1
            continue
        j = i
        while j < n and labels[j] == labels[i]:
            j += 1
        out.append((round(i * FRAME_S, 3), round(j * FRAME_S, 3), int(labels[i])))
        i = j
    return out


def diarize_audio(
    samples: np.ndarray,
    settings: Settings,
    *,
    vad: VadFn | None = None,
    embed: EmbedFn | None = None,
    min_turn_s: float = MIN_TURN_S,
) -> Diarization:
    """Who speaks when in 16 kHz mono samples. `vad` and `embed` default to Silero and Resemblyzer."""
    duration = len(samples) / SAMPLE_RATE
    if vad is None:
        from models.vad import speech_regions

        vad = speech_regions
    regions = vad(samples)
    windows = make_windows(regions, settings.diarize_window_s, settings.diarize_hop_s)
    empty = Diarization(duration, regions, np.full(max(1, math.ceil(duration / FRAME_S)), -1), np.zeros((0, 0)))
    if not windows:
        if regions:  # speech, but too little to tell voices apart: one speaker
            empty.labels = frame_labels(duration, regions, [(0.0, duration)], np.ones((1, 1)))
            empty.centroids = np.zeros((1, 0))
            empty.turns = turns_of(empty.labels)
        return empty
    x = _unit(np.asarray((embed or embed_windows)(samples, windows), dtype=np.float64))
    labels = cluster_embeddings(
        x,
        threshold=settings.diarize_threshold,
        speakers=settings.diarize_speakers,
        max_speakers=settings.diarize_max_speakers,
    )
    _, cents = _centroids(x, labels)
    scores = x @ cents.T
    frames = frame_labels(duration, regions, windows, scores)
    centres = np.array([(s + e) / 2 for s, e in windows])

    def scores_of(first: int, last: int) -> np.ndarray:
        t0, t1 = first * FRAME_S - 0.5, (last + 1) * FRAME_S + 0.5
        near = (centres >= t0) & (centres <= t1)
        return np.asarray(scores[near].sum(axis=0) if near.any() else scores[np.argmin(np.abs(centres - t0))])

    frames = smooth_labels(frames, scores_of, max(1, round(min_turn_s / FRAME_S)))
    used = list(dict.fromkeys(int(v) for v in frames[frames >= 0]))
    remap = np.full(len(cents) + 1, -1)
    for new, old in enumerate(used):
        remap[old] = new
    frames = remap[frames]  # -1 maps to the extra slot, which stays -1
    dia = Diarization(duration, regions, frames, cents[used], windows=len(windows))
    dia.turns = turns_of(frames)
    return dia


def embed_windows(samples: np.ndarray, windows: Sequence[Region]) -> np.ndarray:
    """Resemblyzer embeddings (rows) of each window of 16 kHz samples: the mel spectrogram of each speech stretch
    (windows that touch, volume-normalised as Resemblyzer's own preprocessing does) is computed once and
    the windows are run through the LSTM in batches of equal length."""
    import torch
    from resemblyzer.audio import normalize_volume, wav_to_mel_spectrogram

    from models.speaker import ResemblyzerEncoder

    encoder = ResemblyzerEncoder().voice_encoder()  # the cached, sha256-verified VoiceEncoder
    hop = SAMPLE_RATE // 100
    out = np.zeros((len(windows), 256), dtype=np.float32)
    groups: dict[int, list[tuple[int, np.ndarray]]] = {}
    i = 0
    while i < len(windows):  # stretches of overlapping windows share one spectrogram
        j, end = i + 1, windows[i][1]
        while j < len(windows) and windows[j][0] < end:
            end = max(end, windows[j][1])
            j += 1
        a = int(windows[i][0] * SAMPLE_RATE)
        wav = normalize_volume(np.asarray(samples[a : int(end * SAMPLE_RATE)], dtype=np.float32), -30)
        mel = wav_to_mel_spectrogram(wav)
        for w in range(i, j):
            f0 = int(round((windows[w][0] * SAMPLE_RATE - a) / hop))
            nf = max(1, int(round((windows[w][1] - windows[w][0]) * 100)))
            m = mel[f0 : f0 + nf]
            if len(m):
                groups.setdefault(len(m), []).append((w, m))
        i = j
    with torch.no_grad():
        for items in groups.values():
            for b in range(0, len(items), 128):
                batch = items[b : b + 128]
                emb = encoder(torch.from_numpy(np.stack([m for _, m in batch]).astype(np.float32))).numpy()
                for (w, _), e in zip(batch, emb, strict=True):
                    out[w] = e
    return out
