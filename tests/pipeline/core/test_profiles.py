"""Speed profiles (pipeline/core/profiles.py): what each sets, and that explicit settings win."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from models.base import Prosody
from pipeline.core.config import Settings
from pipeline.core.profiles import PROFILE_NAMES, PROFILES, SUMMARY
from pipeline.core.script import Clip
from pipeline.products.dubbing.contracts import DubRequest
from pipeline.products.dubbing.synthesize import _changed_a_lot
from pipeline.text.timing import Slot


def test_balanced_is_the_default_and_the_plain_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("DUBLINE_PROFILE", raising=False)
    s = Settings(data_dir=tmp_path)
    assert s.profile == "balanced"
    assert s.separation == "auto" and s.qa_scope == "all" and s.asr_beam_size == 5
    assert s.mt_order_for("en", "es") == ["llm", "apertium"]


def test_fast_sets_its_engines(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("DUBLINE_PROFILE", "fast")
    s = Settings(data_dir=tmp_path)
    assert s.profile == "fast"
    assert s.mt_order_for("en", "es") == ["apertium", "llm"]
    assert s.tts_order("es")[0] == "pico" and s.tts_order("en")[0] == "piper"
    assert s.separation == "dsp" and s.qa_scope == "changed" and s.asr_beam_size == 1
    assert s.asr_language_check is False


def test_an_explicit_setting_wins_over_the_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("DUBLINE_PROFILE", "fast")
    monkeypatch.setenv("DUBLINE_SEPARATION", "spleeter")
    s = Settings(data_dir=tmp_path, qa_scope="all")
    assert s.separation == "spleeter" and s.qa_scope == "all"
    assert s.asr_beam_size == 1  # what was not set is the profile's


def test_with_profile_keeps_explicit_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("DUBLINE_PROFILE", raising=False)
    s = Settings(data_dir=tmp_path, qa_retries=1)
    fast = s.with_profile("fast")
    assert fast.profile == "fast" and fast.separation == "dsp" and fast.qa_retries == 1
    assert fast.data_dir == tmp_path
    back = fast.with_profile("balanced")
    assert back.separation == "auto" and back.qa_scope == "all" and back.qa_retries == 1
    best = s.with_profile("best")
    assert best.qa_retries == 1  # explicit
    assert Settings(data_dir=tmp_path).with_profile("best").qa_retries == 3
    assert s.with_profile("balanced") is s


def test_unknown_profile_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("DUBLINE_PROFILE", "turbo")
    with pytest.raises(ValidationError, match="fast, balanced, best"):
        Settings(data_dir=tmp_path)
    monkeypatch.delenv("DUBLINE_PROFILE")
    with pytest.raises(ValueError, match="turbo"):
        Settings(data_dir=tmp_path).with_profile("turbo")


def test_every_profile_names_real_settings_and_has_a_summary():
    fields = set(Settings.model_fields)
    for name in PROFILE_NAMES:
        assert set(PROFILES[name]) <= fields, name
        assert SUMMARY[name]


def test_the_request_carries_the_profile():
    base = {"input": "a.mp4", "target_languages": ["es"]}
    assert DubRequest.from_params(base).profile == ""
    assert DubRequest.from_params({**base, "profile": " Fast "}).profile == "fast"
    with pytest.raises(Exception, match="profile"):
        DubRequest.from_params({**base, "profile": "turbo"})


def _clip(duration: float, rate: float = 1.0, steps: list[str] | None = None) -> Clip:
    return Clip(uri="file:///c.wav", duration=duration, engine="pico", voice="v", rate=rate, steps=steps or [])


def test_changed_a_lot_picks_the_lines_the_ladder_moved():
    slot, base = Slot(0.0, 2.0), Prosody()
    assert not _changed_a_lot(_clip(1.8), base, slot)  # fits as spoken
    assert not _changed_a_lot(_clip(2.1), base, slot)  # a 1.05x stretch
    assert _changed_a_lot(_clip(2.4), base, slot)  # a 1.2x stretch still to come
    assert _changed_a_lot(_clip(1.9, rate=1.15), base, slot)  # spoken 1.15x faster
    assert not _changed_a_lot(_clip(1.9, rate=1.15), Prosody(rate=1.1), slot)  # its delivery asked 1.1 already
    assert _changed_a_lot(_clip(1.0, steps=["shorten"]), base, slot)  # re-translated shorter
