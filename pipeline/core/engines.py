"""Builds the engines a run uses from settings. Engines are cached per worker process.

Which backend and which weights are configuration: a registry model id resolves to the verified folder
under the model directory; anything else is taken as an operator's own folder or file.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path
from typing import Any

from models import registry
from models.base import ASR, TTS, EngineUnavailable, Prosody, Voice
from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError, SetupError


def _resolve_asr(settings: Settings) -> tuple[Path, str, str, str]:
    """(path, model id, version, weights sha256) of the ASR weights for the configured backend."""
    name = settings.asr_model
    backend = settings.asr_backend
    if backend == "whisper" and name == "whisper-base-ct2":
        name = "whisper-base-pt"  # same weights, converted to the openai-whisper layout
    if name in registry.SPECS:
        spec = registry.SPECS[name]
        try:
            folder = registry.require(name, settings.model_dir)
        except EngineUnavailable as e:
            raise SetupError(str(e), "run `make setup` or `dubline models install`") from None
        path = folder / spec.main_file if backend == "whisper" else folder
        sha = spec.main_sha256
        if spec.derived_from and path.is_file():
            sha = registry.sha256_file(path)
        return path, spec.id, spec.version, sha
    path = Path(name).expanduser()
    if not path.exists():
        raise ConfigError(
            f"ASR model {name!r} is neither a registered model nor an existing path",
            f"set DUBLINE_ASR_MODEL to one of {', '.join(s for s in registry.SPECS if s.startswith('whisper'))} "
            "or to your own model folder (faster-whisper) or .pt file (whisper)",
        )
    main = path / "model.bin" if path.is_dir() else path
    sha = registry.sha256_file(main) if main.is_file() else ""
    return path, f"custom:{path.name}", "operator-provided", sha


@lru_cache(maxsize=4)
def _asr_cached(
    backend: str,
    path: str,
    model_id: str,
    version: str,
    sha: str,
    compute: str,
    beam: int,
    threads: int,
    vad: bool = True,
) -> ASR:
    from models.asr import make_asr

    if backend == "faster-whisper":
        return make_asr(
            backend,
            Path(path),
            model_id=model_id,
            version=version,
            sha256=sha,
            compute_type=compute,
            beam_size=beam,
            cpu_threads=threads,
            vad_filter=vad,
        )
    if backend == "whisper":
        return make_asr(backend, Path(path), model_id=model_id, version=version, sha256=sha)
    raise ConfigError(f"unknown ASR backend {backend!r}", "set DUBLINE_ASR_BACKEND to faster-whisper or whisper")


def get_asr(settings: Settings) -> ASR:
    if settings.asr_backend not in ("faster-whisper", "whisper"):
        raise ConfigError(
            f"unknown ASR backend {settings.asr_backend!r}", "set DUBLINE_ASR_BACKEND to faster-whisper or whisper"
        )
    path, mid, version, sha = _resolve_asr(settings)
    return _asr_cached(
        settings.asr_backend,
        str(path),
        mid,
        version,
        sha,
        settings.asr_compute_type,
        settings.asr_beam_size,
        settings.asr_threads,
        settings.asr_vad,
    )


@lru_cache(maxsize=2)
def _tts_engines(model_dir: str) -> tuple[TTS, ...]:
    from models.espeak import EspeakTTS
    from models.pico import PicoTTS
    from models.piper import PiperTTS

    engines: list[TTS] = []
    spec = registry.SPECS["piper-en_US-joe-medium"]
    if registry.status(spec, Path(model_dir)) == "ready":
        folder = registry.model_path(spec.id, Path(model_dir))
        engines.append(PiperTTS(folder / "en_US-joe-medium.onnx", folder / "en_US-joe-medium.onnx.json"))
    if registry.status(registry.SPECS["kokoro-82m-int8-onnx"], Path(model_dir)) == "ready":
        from models.kokoro import KokoroTTS

        engines.append(KokoroTTS.from_registry(Path(model_dir)))
    if registry.SPECS["svox-pico"].check and registry.SPECS["svox-pico"].check():  # type: ignore[misc]
        engines.append(PicoTTS())
    engines.append(EspeakTTS())
    return tuple(engines)


def get_tts_engines(settings: Settings) -> list[TTS]:
    return list(_tts_engines(str(settings.model_dir)))


def choose_tts(settings: Settings, language: str) -> TTS:
    from models.tts import choose_tts as choose

    try:
        tts = choose(language, get_tts_engines(settings), settings.tts_order(language))
    except EngineUnavailable as e:
        raise ConfigError(str(e), "install a voice for that language or change DUBLINE_TTS_PREFERENCE") from None
    person = settings.person_voices.get(language)
    return PersonVoiceTTS(tts, person) if person else tts


class PersonVoiceTTS:
    """A stock engine voice standing in for a person's (cloned) voice, configured by DUBLINE_PERSON_VOICES:
    its voices carry the person's id, so the consent gate applies. A stand-in until voice cloning."""

    def __init__(self, tts: TTS, person_id: str) -> None:
        self._tts = tts
        self.person_id = person_id
        self.name = tts.name
        self.info = tts.info

    def languages(self) -> list[str]:
        return self._tts.languages()

    def voice_for(self, language: str) -> Voice:
        return dataclasses.replace(self._tts.voice_for(language), person_id=self.person_id)

    def synthesize(self, text: str, voice: Voice, out_path: Path, prosody: Prosody = Prosody()) -> Path:
        return self._tts.synthesize(text, voice, out_path, prosody)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tts, name)
