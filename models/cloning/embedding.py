"""A person's reference speech for cloning: decoded, through Resemblyzer's preprocessing, split by time into
enrolment speech (what the search aims at) and held-out clips (never seen by the search), and the embeddings
and cosines every backend scores with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.base import EngineError

EMBED_RATE = 16000
MIN_REFERENCE_S = 10.0
HELD_OUT_FRACTION = 0.35
HELD_OUT_CLIP_S = 4.0


def resample(audio: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    if src_rate == dst_rate:
        return np.asarray(audio, dtype=np.float32)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(src_rate, dst_rate)
    return np.asarray(resample_poly(np.asarray(audio, dtype=np.float64), dst_rate // g, src_rate // g), np.float32)


class Embedder:
    """Resemblyzer embeddings of in-memory audio (the encoder of models/speaker.py, its weights verified)."""

    def __init__(self) -> None:
        from models.speaker import ResemblyzerEncoder

        self._enc = ResemblyzerEncoder()
        self.info = self._enc.info

    def speech(self, audio: np.ndarray, rate: int) -> np.ndarray:
        """Resemblyzer's preprocessing (16 kHz, volume normalisation, long silences trimmed)."""
        from resemblyzer import preprocess_wav

        return np.asarray(preprocess_wav(resample(audio, rate, EMBED_RATE), source_sr=EMBED_RATE), np.float32)

    def embed(self, audio: np.ndarray, rate: int) -> np.ndarray:
        wav = self.speech(audio, rate)
        if len(wav) < EMBED_RATE:
            raise EngineError(f"{len(wav) / EMBED_RATE:.1f} s of speech is too little to embed (1 s at least)")
        return np.asarray(self._enc.voice_encoder().embed_utterance(wav), dtype=np.float64)

    def embed_speech(self, wav16k: np.ndarray) -> np.ndarray:
        """Embedding of audio already through `speech()`."""
        return np.asarray(self._enc.voice_encoder().embed_utterance(np.asarray(wav16k, np.float32)), dtype=np.float64)


def unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n else v


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(unit(np.asarray(a, np.float64)) @ unit(np.asarray(b, np.float64)))


@dataclass
class ReferenceSplit:
    """A person's reference speech (16 kHz, silences trimmed) split by time for enrolment and held-out scoring."""

    enrolment: np.ndarray
    held_out: list[np.ndarray]
    total_s: float

    @property
    def enrolment_s(self) -> float:
        return len(self.enrolment) / EMBED_RATE

    @property
    def held_out_s(self) -> float:
        return sum(len(c) for c in self.held_out) / EMBED_RATE


def reference_speech(references: Sequence[Path], embedder: Embedder, min_s: float = MIN_REFERENCE_S) -> np.ndarray:
    """All references decoded, through Resemblyzer's preprocessing, joined; EngineError under `min_s` of speech."""
    from models.speaker import decode_audio

    if not references:
        raise EngineError(f"no reference recordings given; a voice needs {min_s:.0f} s of speech or more")
    parts = [embedder.speech(decode_audio(Path(p), EMBED_RATE), EMBED_RATE) for p in references]
    speech = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    raw_s = sum(
        len(decode_audio(Path(p), EMBED_RATE)) / EMBED_RATE for p in references
    )  # what the person recorded, pauses included
    got = len(speech) / EMBED_RATE
    if raw_s < min_s:
        raise EngineError(
            f"the references hold {raw_s:.1f} s of audio ({got:.1f} s of speech); a voice needs at least "
            f"{min_s:.0f} s of the person's speech: record {min_s - raw_s:.1f} s more"
        )
    return speech


def split_reference(
    speech: np.ndarray, held_out_fraction: float = HELD_OUT_FRACTION, clip_s: float = HELD_OUT_CLIP_S
) -> ReferenceSplit:
    """The last `held_out_fraction` of the speech (at least 3 s) as held-out clips of about `clip_s` seconds."""
    n = len(speech)
    held_n = max(int(n * held_out_fraction), 3 * EMBED_RATE)
    held_n = min(held_n, n // 2)
    enrol, held = speech[: n - held_n], speech[n - held_n :]
    k = max(1, min(6, int(len(held) / EMBED_RATE // clip_s)))
    clips = [c for c in np.array_split(held, k) if len(c) >= EMBED_RATE]
    return ReferenceSplit(enrol, clips, n / EMBED_RATE)


def enrolment_embedding(split: ReferenceSplit, embedder: Embedder, window_s: float = 3.0) -> np.ndarray:
    """The mean embedding of the enrolment speech's windows (about 3 s each, half overlapping)."""
    wav = split.enrolment
    win, hop = int(window_s * EMBED_RATE), int(window_s * EMBED_RATE / 2)
    starts = list(range(0, max(1, len(wav) - win + 1), hop))
    embs = [embedder.embed_speech(wav[s : s + win]) for s in starts]
    embs.append(embedder.embed_speech(wav))
    return unit(np.mean(np.asarray(embs), axis=0))


def held_out_similarity(clips_embs: Sequence[np.ndarray], speech_embs: Sequence[np.ndarray]) -> float:
    """Mean cosine over (synthesized sentence, held-out clip) pairs."""
    return float(np.mean([cos(a, b) for a in speech_embs for b in clips_embs]))
