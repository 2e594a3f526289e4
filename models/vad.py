"""Voice activity: where in a recording someone speaks, as (start, end) seconds.

The adapter wraps Silero VAD (PyPI `silero-vad`, MIT): its ONNX model ships inside the wheel
(`silero_vad/data/silero_vad.onnx`), is checked against the sha256 pinned here and runs through ONNX Runtime
with the library's own `OnnxWrapper` and `get_speech_timestamps`, so an operator's model file (another Silero
release, an opset-15 export) is a path change: `SileroVAD(model_path=..., sha256=...)`. The model loads on
first use and is cached per process (one per file); a lock serialises calls, since the wrapper keeps the
recurrent state of the stream it is reading.

Importing `silero_vad` sets torch's thread count to 1 for the whole process (its `model.py` does so at import
time); the import here puts the previous count back, so Resemblyzer and Whisper keep their threads.
"""

from __future__ import annotations

import importlib.util
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from models.base import EngineError, EngineUnavailable, ModelInfo
from models.registry import sha256_file

SAMPLE_RATE = 16000
SILERO_ONNX = "silero_vad.onnx"
SILERO_ONNX_SHA256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"  # silero-vad 6.2.3
MIN_SAMPLES = 512  # one model frame (32 ms): shorter audio has no speech to find

_CACHE: dict[str, Any] = {}
_LOCK = threading.Lock()


def packaged_model_path() -> Path:
    """The ONNX model inside the installed `silero-vad` wheel."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or spec.origin is None:
        raise EngineUnavailable("silero-vad is not installed; run `make setup`")
    return Path(spec.origin).parent / "data" / SILERO_ONNX


def _import_silero() -> tuple[Any, Any]:
    """(OnnxWrapper, get_speech_timestamps), without letting silero's import change torch's thread count."""
    try:
        import torch
    except ImportError as e:  # silero's utilities take torch tensors
        raise EngineUnavailable(f"torch could not be imported ({e}); run `make setup`") from e
    threads = torch.get_num_threads()
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from silero_vad.utils_vad import OnnxWrapper, get_speech_timestamps
    except ImportError as e:
        raise EngineUnavailable(f"silero-vad could not be imported ({e}); run `make setup`") from e
    finally:
        torch.set_num_threads(threads)
    return OnnxWrapper, get_speech_timestamps


class SileroVAD:
    """Silero VAD (ONNX, CPU). `model_path` None is the packaged model, verified by the pinned sha256; an
    operator's file is checked against `sha256` when one is given, and its hash is recorded either way."""

    def __init__(self, model_path: Path | None = None, sha256: str | None = None) -> None:
        self.model_path = Path(model_path) if model_path else None
        self.expected_sha256 = sha256 if model_path else SILERO_ONNX_SHA256
        try:
            version = metadata.version("silero-vad")
        except metadata.PackageNotFoundError:
            version = "missing"
        self.info = ModelInfo(id="silero-vad", version=version, sha256=self.expected_sha256 or "")

    def _path(self) -> Path:
        return self.model_path or packaged_model_path()

    def _model(self) -> tuple[Any, Any]:
        """The cached (model, get_speech_timestamps); call with _LOCK held."""
        path = self._path()
        key = str(path.resolve()) if path.exists() else str(path)
        cached = _CACHE.get(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        if not path.is_file():
            raise EngineUnavailable(f"Silero VAD model {path} is missing; reinstall silero-vad or fix the path")
        digest = sha256_file(path)
        if self.expected_sha256 and digest != self.expected_sha256:
            raise EngineUnavailable(
                f"Silero VAD model {path} has sha256 {digest}, not the expected {self.expected_sha256}; "
                "reinstall silero-vad==6.2.3 (the packaged model) or give the right file and its sha256"
            )
        if not self.expected_sha256:
            self.info = ModelInfo(id=self.info.id, version=self.info.version, sha256=digest)
        onnx_wrapper, get_speech_timestamps = _import_silero()
        try:
            model = onnx_wrapper(str(path), force_onnx_cpu=True)
        except Exception as e:  # onnxruntime's own errors: a damaged or foreign file
            raise EngineUnavailable(f"Silero VAD model {path} could not be loaded: {e}") from e
        _CACHE[key] = (model, get_speech_timestamps)
        return model, get_speech_timestamps

    def speech_regions(
        self,
        audio: np.ndarray,
        *,
        threshold: float = 0.5,
        min_speech_s: float = 0.25,
        min_silence_s: float = 0.1,
        pad_s: float = 0.03,
    ) -> list[tuple[float, float]]:
        """Speech in 16 kHz mono float samples, as ordered, disjoint (start, end) seconds."""
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim != 1:
            raise EngineError(f"voice activity needs mono samples, got an array of shape {samples.shape}")
        if not 0.0 < threshold < 1.0:
            raise EngineError(f"voice activity threshold {threshold} must lie between 0 and 1")
        if len(samples) < MIN_SAMPLES:
            return []
        import torch

        with _LOCK:
            model, get_speech_timestamps = self._model()
            stamps = get_speech_timestamps(
                torch.from_numpy(np.ascontiguousarray(samples)),
                model,
                threshold=threshold,
                sampling_rate=SAMPLE_RATE,
                min_speech_duration_ms=int(round(min_speech_s * 1000)),
                min_silence_duration_ms=int(round(min_silence_s * 1000)),
                speech_pad_ms=int(round(pad_s * 1000)),
            )
        duration = len(samples) / SAMPLE_RATE
        regions = [
            (round(max(0.0, s["start"] / SAMPLE_RATE), 3), round(min(duration, s["end"] / SAMPLE_RATE), 3))
            for s in stamps
        ]
        return [(s, e) for s, e in regions if e > s]


_DEFAULT: SileroVAD | None = None


def default_vad() -> SileroVAD:
    """The packaged Silero model (one adapter per process; the model itself is cached by path)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = SileroVAD()
    return _DEFAULT


def speech_regions(
    audio: np.ndarray, *, threshold: float = 0.5, min_speech_s: float = 0.25, min_silence_s: float = 0.1
) -> list[tuple[float, float]]:
    """Speech in 16 kHz mono float32 samples, as (start, end) seconds, with the packaged Silero model."""
    return default_vad().speech_regions(
        audio, threshold=threshold, min_speech_s=min_speech_s, min_silence_s=min_silence_s
    )
