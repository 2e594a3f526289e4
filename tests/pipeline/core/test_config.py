"""The typed settings object (pipeline/core/config.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline.core.config import Settings, get_settings, reset_settings


def test_env_vars_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("DUBLINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DUBLINE_STRETCH_MAX", "1.5")
    monkeypatch.setenv("DUBLINE_MT_ENGINES", '["llm", "apertium"]')
    s = Settings()
    assert s.data_dir == tmp_path / "data"
    assert s.stretch_max == 1.5
    assert s.mt_engines == ["llm", "apertium"]
    assert s.resolved_store_url == (tmp_path / "data" / "store").resolve().as_uri()
    assert s.resolved_db_url == f"sqlite:///{(tmp_path / 'data' / 'dubline.db').resolve()}"
    assert s.resolved_airflow_home == tmp_path / "data" / "airflow"


def test_defaults_without_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("DUBLINE_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    s = Settings()
    assert s.data_dir == tmp_path / "dubline"
    assert s.stretch_max == 1.25
    assert s.fit_min_gap_s == 0.08
    assert s.store_url == ""


def test_explicit_urls_win(tmp_path: Path):
    s = Settings(data_dir=tmp_path, store_url="s3://bucket/p", db_url="postgresql://h/db")
    assert s.resolved_store_url == "s3://bucket/p"
    assert s.resolved_db_url == "postgresql://h/db"


@pytest.mark.parametrize("value", ["3", "0.9", "2.01"])
def test_invalid_stretch_max_from_env(monkeypatch: pytest.MonkeyPatch, value: str):
    monkeypatch.setenv("DUBLINE_STRETCH_MAX", value)
    with pytest.raises(ValidationError, match="stretch_max must lie between 1.0 and 2.0"):
        Settings()


def test_invalid_stretch_max_direct():
    with pytest.raises(ValidationError, match="stretch_max"):
        Settings(stretch_max=3)
    assert Settings(stretch_max=2.0).stretch_max == 2.0
    assert Settings(stretch_max=1.0).stretch_max == 1.0


def test_tts_order_falls_back_to_star():
    s = Settings()
    assert s.tts_order("en") == ["piper", "kokoro", "pico", "espeak"]
    assert s.tts_order("fr") == ["kokoro", "pico", "espeak"]  # the engine list; Kokoro itself offers en, es only
    s = Settings(tts_preference={"de": ["kokoro"], "*": ["espeak"]})
    assert s.tts_order("de") == ["kokoro"]
    assert s.tts_order("es") == ["espeak"]
    assert Settings(tts_preference={"de": ["kokoro"]}).tts_order("es") == ["espeak"]


def test_tts_preference_from_env(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DUBLINE_TTS_PREFERENCE", '{"es": ["pico"], "*": ["espeak"]}')
    s = Settings()
    assert s.tts_order("es") == ["pico"]
    assert s.tts_order("ca") == ["espeak"]


def test_get_settings_is_cached_until_reset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    reset_settings()
    try:
        monkeypatch.setenv("DUBLINE_DATA_DIR", str(tmp_path / "one"))
        first = get_settings()
        monkeypatch.setenv("DUBLINE_DATA_DIR", str(tmp_path / "two"))
        assert get_settings() is first
        reset_settings()
        assert get_settings().data_dir == tmp_path / "two"
    finally:
        reset_settings()
