"""Piper speech synthesis (VITS on onnxruntime, CPU), in-process through its Python API: 22.05 kHz mono
16-bit WAV. piper-tts is imported lazily; a loaded voice is cached per process."""

from __future__ import annotations

import functools
import math
import os
import threading
import time
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from models.base import EngineError, EngineUnavailable, ModelInfo, Prosody, Voice
from models.system import LazyInfo, base_language, cache_forgetter, record_load, register_cache
from models.tts import atomic_wav, check_prosody, check_voice, check_wav, require_text

if TYPE_CHECKING:  # pragma: no cover
    from piper import PiperVoice

_PIPER_CACHE: dict[tuple[str, str], PiperVoice] = {}
_PIPER_LOCK = threading.Lock()
register_cache("piper", cache_forgetter(_PIPER_CACHE, _PIPER_LOCK))
_PIPER_PID = os.getpid()


def _load_piper(model_path: Path, config_path: Path) -> PiperVoice:
    """Load (once per process) a Piper voice; a forked worker loads its own."""
    global _PIPER_PID
    key = (str(model_path), str(config_path))
    with _PIPER_LOCK:
        if _PIPER_PID != os.getpid():  # forked: an inherited onnxruntime session is not safe to use
            _PIPER_CACHE.clear()
            _PIPER_PID = os.getpid()
        voice = _PIPER_CACHE.get(key)
        if voice is None:
            t0 = time.perf_counter()  # a load is the library's import and the model's construction
            try:
                from piper import PiperVoice
            except ImportError as e:
                raise EngineUnavailable("piper: the piper-tts package is not installed; run `make setup`") from e
            try:
                # espeak-ng data for phonemisation ships inside piper-tts: nothing is downloaded.
                voice = PiperVoice.load(model_path, config_path=config_path)
            except Exception as e:  # onnxruntime raises its own types
                raise EngineError(f"piper: cannot load voice {model_path}: {e}") from e
            record_load("piper", time.perf_counter() - t0)
            _PIPER_CACHE[key] = voice
        return voice


# Piper's clip duration does not follow length_scale in proportion (each phoneme's frame count is rounded up,
# and short phonemes dominate): duration factor measured per length_scale (6 English sentences, geometric
# mean; one run is within about 5 % of it, Piper's duration noise). Used inverted: rate r asks 1/r duration.
_PIPER_LS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5, 1.7, 2.0)
_PIPER_DURATION = (0.632, 0.681, 0.776, 0.876, 0.952, 1.0, 1.045, 1.13, 1.234, 1.346, 1.505, 1.712)


def piper_length_scale(rate: float) -> float:
    """Piper's length_scale for a speaking-rate multiplier (clip duration 1/rate of the natural one); past the
    measured table, the power law of its last two points, within 0.25-4."""
    target = math.log(1.0 / rate)
    xs, ys = np.log(_PIPER_DURATION), np.log(_PIPER_LS)
    if xs[0] <= target <= xs[-1]:
        return float(math.exp(np.interp(target, xs, ys)))
    i = (0, 1) if target < xs[0] else (-2, -1)
    slope = (ys[i[1]] - ys[i[0]]) / (xs[i[1]] - xs[i[0]])
    end = 0 if target < xs[0] else -1
    return float(min(4.0, max(0.25, math.exp(ys[end] + slope * (target - xs[end])))))


class PiperTTS(LazyInfo):
    """Piper 1.8 (VITS on onnxruntime, CPU) with one voice model; English en_US-joe-medium here.

    Prosody: rate -> length_scale through a measured table (piper_length_scale; a plain 1/rate gave only
    about half the change: rate 1.15 made clips 0.93 x as long, not 0.87 x); volume -> Piper's volume
    multiplier (after peak normalisation). Piper has no pitch control: pitch and pitch_range are ignored
    here and applied by WORLD post-processing (models.worldfx.apply_prosody_post). Its durations are
    stochastic (the duration predictor's noise): a few percent from one run to the next.
    """

    name = "piper"

    def __init__(
        self,
        model_path: Path,
        config_path: Path | None = None,
        model_id: str = "piper-en_US-joe-medium",
        sha256: str | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.config_path = Path(config_path) if config_path else Path(f"{model_path}.json")
        self.model_id = model_id
        self._sha256 = sha256

    @classmethod
    def from_registry(cls, model_id: str = "piper-en_US-joe-medium", model_dir: Path | None = None) -> PiperTTS:
        """The installed registry voice (WeightsError, an EngineUnavailable, when it is not installed)."""
        from models import registry

        spec = registry.SPECS[model_id]
        folder = registry.require(model_id, model_dir)
        onnx = folder / spec.main_file
        return cls(onnx, Path(f"{onnx}.json"), model_id=model_id, sha256=spec.main_sha256)

    def _make_info(self) -> ModelInfo:
        sha = self._sha256
        if sha is None:
            from models import registry

            spec = registry.SPECS.get(self.model_id)
            sha = spec.main_sha256 if spec is not None else ""
            if not sha and self.model_path.is_file():
                sha = registry.sha256_file(self.model_path)
        try:
            from importlib.metadata import version

            piper_version = version("piper-tts")
        except Exception:
            piper_version = "unknown"
        return ModelInfo(self.model_id, f"{self.voice_id} (piper-tts {piper_version})", sha)

    @property
    def voice_id(self) -> str:
        name = self.model_path.name
        return name[: -len(".onnx")] if name.endswith(".onnx") else self.model_path.stem

    @functools.cached_property
    def _config(self) -> dict[str, Any]:
        import json

        try:
            with open(self.config_path, encoding="utf-8") as f:
                data: dict[str, Any] = json.load(f)
        except (OSError, ValueError) as e:
            raise EngineUnavailable(f"piper: cannot read voice config {self.config_path}: {e}") from e
        return data

    def languages(self) -> list[str]:
        cfg = self._config
        tag = (cfg.get("language") or {}).get("code") or (cfg.get("espeak") or {}).get("voice") or ""
        return [base_language(tag)] if tag else []

    def voice_for(self, language: str) -> Voice:
        base = base_language(language)
        if base not in self.languages():
            speaks = ", ".join(self.languages()) or "nothing"
            raise EngineUnavailable(f"piper voice {self.voice_id} speaks {speaks}, not '{language}'")
        return Voice(engine=self.name, id=self.voice_id, language=base)

    def synthesize(self, text: str, voice: Voice, out_path: Path, prosody: Prosody = Prosody()) -> Path:
        text = require_text(self.name, text)
        check_voice(self.name, voice)
        check_prosody(self.name, prosody)
        if voice.id != self.voice_id:
            raise EngineUnavailable(f"piper: voice {voice.id!r} is not loaded (this engine has {self.voice_id})")
        piper_voice = _load_piper(self.model_path, self.config_path)
        from piper import SynthesisConfig

        syn = SynthesisConfig(length_scale=piper_length_scale(prosody.rate), volume=prosody.volume)
        out_path = Path(out_path)
        with atomic_wav(out_path) as tmp:
            try:
                chunks = iter(piper_voice.synthesize(" ".join(text.split()), syn_config=syn))
                first = next(chunks, None)
                if first is None:
                    raise EngineError("piper: produced no audio (is the text only punctuation?)")
                with wave.open(str(tmp), "wb") as w:
                    w.setframerate(first.sample_rate)
                    w.setsampwidth(first.sample_width)
                    w.setnchannels(first.sample_channels)
                    w.writeframes(first.audio_int16_bytes)
                    for chunk in chunks:
                        w.writeframes(chunk.audio_int16_bytes)
            except EngineError:
                raise
            except Exception as e:
                raise EngineError(f"piper: synthesis failed: {type(e).__name__}: {e}") from e
            check_wav(self.name, tmp)
        return out_path
