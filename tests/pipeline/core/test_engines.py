"""Engine selection is configuration: backend, weights and voice order come from settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from models import registry
from pipeline.core.config import Settings
from pipeline.core.engines import choose_tts, get_asr
from pipeline.core.errors import ConfigError


def test_default_asr_is_faster_whisper_base() -> None:
    asr = get_asr(Settings())
    assert type(asr).__name__ == "FasterWhisperASR"
    assert asr.info.id == "whisper-base-ct2"
    assert asr.info.sha256 == registry.SPECS["whisper-base-ct2"].main_sha256


def test_whisper_backend_uses_the_converted_checkpoint() -> None:
    if registry.status(registry.SPECS["whisper-base-pt"], Settings().model_dir) != "ready":
        pytest.skip("the converted checkpoint is made by `make setup` (dubline models convert-whisper)")
    asr = get_asr(Settings(asr_backend="whisper"))
    assert type(asr).__name__ == "OpenAIWhisperASR"
    assert asr.info.id == "whisper-base-pt" and len(asr.info.sha256) == 64


def test_operator_folder_is_a_setting() -> None:
    folder = registry.model_path("whisper-tiny-en-ct2", Settings().model_dir)
    if not folder.is_dir():
        pytest.skip("tiny.en weights not unpacked")
    asr = get_asr(Settings(asr_model=str(folder)))
    assert asr.info.id == f"custom:{folder.name}"
    assert asr.info.sha256 == registry.SPECS["whisper-tiny-en-ct2"].main_sha256


def test_unknown_backend_and_missing_model_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown ASR backend"):
        get_asr(Settings(asr_backend="kaldi"))
    with pytest.raises(ConfigError, match="neither a registered model nor an existing path"):
        get_asr(Settings(asr_model=str(tmp_path / "nothing-here")))


def test_tts_preference_order_is_configurable() -> None:
    assert choose_tts(Settings(), "en").name == "piper"
    assert choose_tts(Settings(tts_preference={"en": ["pico"], "*": ["espeak"]}), "en").name == "pico"
    assert choose_tts(Settings(), "es").name == "kokoro"  # Kokoro-82M speaks Spanish; Pico after it
    assert choose_tts(Settings(), "fr").name == "pico"  # Kokoro's French is poor: not offered
    assert choose_tts(Settings(), "pl").name == "espeak"
