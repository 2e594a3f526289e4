"""Speech recognition adapters: faster-whisper (CTranslate2) and openai-whisper (PyTorch).

Both run fully offline: faster-whisper is given a local model folder (it never downloads then), and
openai-whisper a checkpoint file (its tokenizer and mel filters ship inside the `whisper` package).
Models load on first `transcribe` and are cached per process; heavy imports happen only then.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from models.base import ASR, AsrSegment, EngineError, EngineUnavailable, ModelInfo, Transcription, Word
from models.system import cache_forgetter, record_load, register_cache

SAMPLE_RATE = 16000
BACKENDS = ("faster-whisper", "whisper")

# Whisper's codes that are not ISO 639-1 although a two-letter code exists.
_LANGUAGE_FIXES = {"jw": "jv"}

_FW_CACHE: dict[tuple[str, str, int, str], Any] = {}
_OW_CACHE: dict[str, Any] = {}
_LOCK = threading.Lock()
register_cache("faster-whisper", cache_forgetter(_FW_CACHE, _LOCK))
register_cache("openai-whisper", cache_forgetter(_OW_CACHE, _LOCK))


def _iso(code: str) -> str:
    return _LANGUAGE_FIXES.get(code, code)


def _check_audio(audio_path: Path) -> Path:
    path = Path(audio_path)
    if not path.is_file():
        raise EngineError(f"audio file {path} does not exist")
    return path


def _word(text: str, start: float, end: float, probability: float) -> Word | None:
    text = text.strip()
    if not text:
        return None
    return Word(text=text, start=float(start), end=float(end), probability=float(probability))


def _guard_empty_alignment(find_alignment: Any) -> Any:
    """faster-whisper 1.2.1 raises IndexError in find_alignment when CTranslate2 returns an empty
    alignment for a segment (Whisper hallucinating a short segment past the end of the audio; upstream
    SYSTRAN/faster-whisper PR 1460). Align segment by segment instead, and give the one that cannot be
    aligned no word timestamps, which add_word_timestamps already handles."""

    def guarded(tokenizer: Any, text_tokens: list[list[int]], *args: Any, **kwargs: Any) -> list[Any]:
        try:
            return list(find_alignment(tokenizer, text_tokens, *args, **kwargs))
        except IndexError:
            out: list[Any] = []
            for tokens in text_tokens:
                try:
                    out.extend(find_alignment(tokenizer, [tokens], *args, **kwargs))
                except IndexError:
                    out.append([])
            return out

    return guarded


class FasterWhisperASR:
    """Whisper through faster-whisper / CTranslate2, from a local CTranslate2 model folder."""

    def __init__(
        self,
        model_dir: Path,
        model_id: str,
        version: str,
        sha256: str = "",
        device: str = "cpu",
        compute_type: str = "int8",
        beam_size: int = 5,
        cpu_threads: int = 0,
        vad_filter: bool = False,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.info = ModelInfo(id=model_id, version=version, sha256=sha256)
        self.device = device
        self.compute_type = compute_type
        self.beam_size = beam_size
        self.cpu_threads = cpu_threads
        self.vad_filter = vad_filter

    def _model(self) -> Any:
        key = (str(self.model_dir.resolve()), self.compute_type, self.cpu_threads, self.device)
        with _LOCK:
            model = _FW_CACHE.get(key)
            if model is not None:
                return model
            if not (self.model_dir / "model.bin").is_file():
                raise EngineUnavailable(
                    f"{self.model_dir} is not a CTranslate2 Whisper model folder (no model.bin); "
                    f"run `dubline models install` or point settings at a model folder"
                )
            t0 = time.perf_counter()  # a load is the library's import and the model's construction
            try:
                from faster_whisper import WhisperModel
            except ImportError as e:
                raise EngineUnavailable(f"faster-whisper is not installed ({e}); run `make setup`") from e
            try:
                model = WhisperModel(
                    str(self.model_dir),
                    device=self.device,
                    compute_type=self.compute_type,
                    cpu_threads=self.cpu_threads,
                    local_files_only=True,
                )
            except Exception as e:  # ctranslate2 raises RuntimeError/ValueError for bad folders or types
                raise EngineUnavailable(f"faster-whisper could not load {self.model_dir}: {e}") from e
            record_load("faster-whisper", time.perf_counter() - t0)
            model.find_alignment = _guard_empty_alignment(model.find_alignment)
            _FW_CACHE[key] = model
            return model

    def transcribe(self, audio_path: Path, language: str | None = None) -> Transcription:
        path = _check_audio(audio_path)
        model = self._model()
        try:
            segments_iter, info = model.transcribe(
                str(path),
                language=language,
                beam_size=self.beam_size,
                word_timestamps=True,
                vad_filter=self.vad_filter,
            )
            raw_segments = list(segments_iter)  # decoding happens while iterating
        except Exception as e:
            raise EngineError(f"faster-whisper failed on {path}: {e}") from e
        segments = []
        for s in raw_segments:
            words = tuple(
                w for w in (_word(x.word, x.start, x.end, x.probability) for x in (s.words or [])) if w is not None
            )
            segments.append(AsrSegment(start=float(s.start), end=float(s.end), text=s.text.strip(), words=words))
        return Transcription(
            language=_iso(info.language),
            language_probability=float(info.language_probability) if language is None else 1.0,
            segments=tuple(segments),
            duration=float(info.duration),
        )

    def detect_language(self, samples: Any) -> tuple[str, float]:
        import numpy as np

        try:
            lang, prob, _ = self._model().detect_language(audio=np.ascontiguousarray(samples, dtype=np.float32))
        except EngineUnavailable:
            raise
        except Exception as e:
            raise EngineError(f"faster-whisper could not detect the language: {e}") from e
        return _iso(str(lang)), float(prob)


class OpenAIWhisperASR:
    """Whisper through the openai-whisper package (PyTorch, CPU, fp32), from a `.pt` checkpoint."""

    def __init__(
        self,
        checkpoint: Path,
        model_id: str,
        version: str,
        sha256: str = "",
        beam_size: int | None = None,
    ) -> None:
        self.checkpoint = Path(checkpoint)
        self.info = ModelInfo(id=model_id, version=version, sha256=sha256)
        self.beam_size = beam_size

    def _model(self) -> Any:
        key = str(self.checkpoint.resolve())
        with _LOCK:
            model = _OW_CACHE.get(key)
            if model is not None:
                return model
            if not self.checkpoint.is_file():
                raise EngineUnavailable(
                    f"whisper checkpoint {self.checkpoint} is missing; run `dubline models convert-whisper`"
                )
            try:
                import torch
                import whisper
            except ImportError as e:
                raise EngineUnavailable(f"openai-whisper is not installed ({e}); run `make setup`") from e
            try:
                t0 = time.perf_counter()
                model = whisper.load_model(str(self.checkpoint), device="cpu")
                # Checkpoints made by models.whisper_convert carry the model's alignment heads (used for
                # word timestamps); whisper.load_model only knows them for its own downloads.
                extra = torch.load(str(self.checkpoint), map_location="cpu", mmap=True, weights_only=True)
                heads = extra.get("alignment_heads") if isinstance(extra, dict) else None
                del extra
                if isinstance(heads, str | bytes) and heads:
                    model.set_alignment_heads(heads.encode("ascii") if isinstance(heads, str) else heads)
            except Exception as e:
                raise EngineUnavailable(f"openai-whisper could not load {self.checkpoint}: {e}") from e
            model.eval()
            record_load("openai-whisper", time.perf_counter() - t0)
            _OW_CACHE[key] = model
            return model

    def transcribe(self, audio_path: Path, language: str | None = None) -> Transcription:
        path = _check_audio(audio_path)
        model = self._model()
        import torch
        import whisper

        try:
            audio = whisper.load_audio(str(path))  # ffmpeg -> 16 kHz mono float32
        except Exception as e:
            raise EngineError(f"could not decode {path}: {e}") from e
        duration = len(audio) / SAMPLE_RATE
        probability = 1.0
        if language is None:
            if model.is_multilingual:
                mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio), model.dims.n_mels)
                with torch.no_grad():
                    _, probs = model.detect_language(mel)
                language = max(probs, key=probs.get)
                probability = float(probs[language])
            else:
                language = "en"
        options: dict[str, Any] = {}
        if self.beam_size is not None:
            options["beam_size"] = self.beam_size
        try:
            with torch.no_grad():
                result = model.transcribe(
                    audio, language=language, word_timestamps=True, fp16=False, verbose=None, **options
                )
        except Exception as e:
            raise EngineError(f"openai-whisper failed on {path}: {e}") from e
        segments = []
        for s in result.get("segments", []):
            words = tuple(
                w
                for w in (_word(x["word"], x["start"], x["end"], x.get("probability", 1.0)) for x in s.get("words", []))
                if w is not None
            )
            segments.append(
                AsrSegment(start=float(s["start"]), end=float(s["end"]), text=str(s["text"]).strip(), words=words)
            )
        return Transcription(
            language=_iso(language),
            language_probability=probability,
            segments=tuple(segments),
            duration=duration,
        )

    def detect_language(self, samples: Any) -> tuple[str, float]:
        import numpy as np
        import torch
        import whisper

        model = self._model()
        if not model.is_multilingual:
            return "en", 1.0
        audio = whisper.pad_or_trim(np.ascontiguousarray(samples, dtype=np.float32))
        mel = whisper.log_mel_spectrogram(audio, model.dims.n_mels)
        with torch.no_grad():
            _, probs = model.detect_language(mel)
        lang = max(probs, key=probs.get)
        return _iso(str(lang)), float(probs[lang])


def make_asr(backend: str, model_dir_or_file: Path, **kw: Any) -> ASR:
    """An ASR adapter for `backend` ("faster-whisper": a CTranslate2 folder; "whisper": a .pt checkpoint
    or a folder holding exactly one). `model_id` defaults to the folder/file name, `version` to "local"."""
    if backend not in BACKENDS:
        raise EngineError(f"unknown ASR backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    path = Path(model_dir_or_file)
    if backend == "whisper" and path.is_dir():
        pts = sorted(path.glob("*.pt"))
        if len(pts) != 1:
            raise EngineUnavailable(f"{path} holds {len(pts)} .pt checkpoints; name the file")
        path = pts[0]
    kw.setdefault("model_id", path.stem if path.suffix == ".pt" else path.name)
    kw.setdefault("version", "local")
    if backend == "whisper":
        return OpenAIWhisperASR(path, **kw)
    return FasterWhisperASR(path, **kw)
