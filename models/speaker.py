"""Speaker embeddings: who is speaking, as a unit vector; two recordings of one voice lie close (cosine).

The adapter wraps Resemblyzer's GE2E voice encoder (a 3-layer LSTM, 256-d embeddings; its weights ship
inside the `resemblyzer` wheel and are checked against the sha256 pinned here). Audio in any format
ffmpeg reads is decoded to 16 kHz mono; Resemblyzer's own preprocessing (volume normalisation, VAD
trimming of long silences) follows. The encoder loads on first use and is cached per process.

Cosine between Resemblyzer embeddings, measured on real recordings: same speaker 0.73-0.92, different
speakers 0.43-0.64 (but lecture_en_60s against jfk.flac scored 0.71); the consent check's default
threshold is 0.75.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import threading
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from models.base import EngineError, EngineUnavailable, ModelInfo
from models.system import cache_forgetter, record_load, register_cache

SAMPLE_RATE = 16000
RESEMBLYZER_WEIGHTS_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
MIN_SPEECH_S = 1.0

_CACHE: dict[str, Any] = {}
_LOCK = threading.Lock()
register_cache("resemblyzer", cache_forgetter(_CACHE, _LOCK))


@runtime_checkable
class SpeakerEncoder(Protocol):
    info: ModelInfo

    def embed(self, audio_path: Path) -> np.ndarray:
        """A unit-length embedding of the voice in `audio_path` (any format ffmpeg reads)."""
        ...


def cosine(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Cosine similarity of two vectors (0.0 when either is empty or zero, or their lengths differ)."""
    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if va.size == 0 or va.shape != vb.shape:
        return 0.0
    na, nb = float(np.linalg.norm(va)), float(np.linalg.norm(vb))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(va @ vb / (na * nb))


def mean_embedding(embeddings: list[np.ndarray] | list[list[float]]) -> np.ndarray:
    """The normalised mean of several embeddings of one voice (a voice profile)."""
    m = np.mean(np.asarray(embeddings, dtype=np.float64), axis=0)
    n = float(np.linalg.norm(m))
    return m / n if n else m


def decode_audio(path: Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 samples of any file ffmpeg reads."""
    path = Path(path)
    if not path.is_file():
        raise EngineError(f"audio file {path} does not exist")
    args = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path)]
    args += ["-vn", "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-"]
    try:
        r = subprocess.run(args, capture_output=True, timeout=600)
    except FileNotFoundError as e:
        raise EngineUnavailable("ffmpeg is not installed; run `make setup`") from e
    if r.returncode != 0:
        tail = r.stderr.decode("utf-8", "replace").strip()[-400:]
        raise EngineError(f"could not decode {path}: {tail or 'ffmpeg failed'}")
    return np.frombuffer(r.stdout, dtype=np.float32).copy()


def _weights_path() -> Path:
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or spec.origin is None:
        raise EngineUnavailable("resemblyzer is not installed; run `make setup`")
    return Path(spec.origin).parent / "pretrained.pt"


class ResemblyzerEncoder:
    """Resemblyzer's voice encoder on the CPU."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        try:
            version = metadata.version("resemblyzer")
        except metadata.PackageNotFoundError:
            version = "missing"
        self.info = ModelInfo(id="resemblyzer-ge2e", version=version, sha256=RESEMBLYZER_WEIGHTS_SHA256)

    def _encoder(self) -> Any:
        with _LOCK:
            enc = _CACHE.get(self.device)
            if enc is not None:
                return enc
            t0 = time.perf_counter()
            weights = _weights_path()
            if not weights.is_file():
                raise EngineUnavailable(f"Resemblyzer's weights {weights} are missing; reinstall resemblyzer")
            h = hashlib.sha256()
            with open(weights, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            if h.hexdigest() != RESEMBLYZER_WEIGHTS_SHA256:
                raise EngineUnavailable(
                    f"Resemblyzer's weights {weights} have sha256 {h.hexdigest()}, not the pinned "
                    f"{RESEMBLYZER_WEIGHTS_SHA256}; install resemblyzer=={self.info.version}"
                )
            try:
                import warnings

                with warnings.catch_warnings():  # webrtcvad imports pkg_resources, which warns
                    warnings.simplefilter("ignore")
                    from resemblyzer import VoiceEncoder
            except ImportError as e:
                raise EngineUnavailable(f"resemblyzer could not be imported ({e}); run `make setup`") from e
            enc = VoiceEncoder(self.device, verbose=False, weights_fpath=weights)
            record_load("resemblyzer", time.perf_counter() - t0)  # with the weights' hash check
            _CACHE[self.device] = enc
            return enc

    def voice_encoder(self) -> Any:
        """The loaded, sha256-verified Resemblyzer VoiceEncoder (cached per process), for callers that embed
        many windows or in-memory samples (diarization, the cloning search)."""
        return self._encoder()

    def embed(self, audio_path: Path) -> np.ndarray:
        encoder = self._encoder()
        from resemblyzer import preprocess_wav

        wav = preprocess_wav(decode_audio(audio_path), source_sr=SAMPLE_RATE)
        if len(wav) < MIN_SPEECH_S * SAMPLE_RATE:
            raise EngineError(
                f"{audio_path} has {len(wav) / SAMPLE_RATE:.1f} s of speech; a voice needs at least "
                f"{MIN_SPEECH_S:.0f} s"
            )
        emb = encoder.embed_utterance(wav)
        return np.asarray(emb, dtype=np.float64)
