"""dubline_tasks.job_settings: a run's `profile` param applies to every task; explicit settings still win."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, get_args

import pytest

# as Airflow's DAG processor parses a bundle: its folder on sys.path (DAG files import dubline_tasks from it)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "dags"))

import dubline_tasks  # noqa: E402

from pipeline.core.config import Settings  # noqa: E402
from pipeline.core.profiles import PROFILE_NAMES  # noqa: E402
from pipeline.products.dubbing.contracts import Profile  # noqa: E402


def _in_a_task(monkeypatch: pytest.MonkeyPatch, params: Any) -> None:
    import airflow.sdk

    monkeypatch.setattr(airflow.sdk, "get_current_context", lambda: {"params": params})


def test_outside_a_task_the_settings_are_kept(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    assert dubline_tasks.job_settings(settings) is settings


def test_the_runs_profile_applies_and_explicit_settings_win(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    _in_a_task(monkeypatch, {"profile": "fast"})
    fast = dubline_tasks.job_settings(Settings(data_dir=tmp_path))
    assert (fast.profile, fast.separation, fast.qa_scope) == ("fast", "dsp", "changed")
    own = dubline_tasks.job_settings(Settings(data_dir=tmp_path, separation="spleeter"))
    assert (own.profile, own.separation, own.data_dir) == ("fast", "spleeter", tmp_path)


@pytest.mark.parametrize("params", [{"profile": ""}, {}, None, "not a mapping"])
def test_no_profile_param_keeps_the_workers_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, params: Any):
    _in_a_task(monkeypatch, params)
    settings = Settings(data_dir=tmp_path, profile="fast")
    assert dubline_tasks.job_settings(settings) is settings


def test_an_unknown_profile_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    _in_a_task(monkeypatch, {"profile": "turbo"})
    with pytest.raises(ValueError, match="turbo"):
        dubline_tasks.job_settings(Settings(data_dir=tmp_path))


def test_the_profile_names_agree_everywhere():
    """DubRequest's Literal, pipeline.core.profiles and the DAG param's enum name the same profiles."""
    assert get_args(Profile) == ("", *PROFILE_NAMES)
    text = (Path(__file__).resolve().parents[2] / "dags" / "dub_video.py").read_text()
    assert "enum=" + repr(["", *PROFILE_NAMES]).replace("'", '"') in text
