"""dubline_tasks.job_settings: a run's `profile` param applies to every task; explicit settings still win."""

from __future__ import annotations

import os
import subprocess
import sys
import types
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
    """A stand-in `airflow.sdk` whose task context holds `params`. The real Airflow is not imported in this
    process: it fixes its metadata database when first imported, and the in-process DAG runs of later tests
    (pipeline.cli.runner.prepare_airflow) must find it pointed at theirs."""
    fake = types.ModuleType("airflow.sdk")
    fake.get_current_context = lambda: {"params": params}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "airflow.sdk", fake)


def test_outside_a_task_the_settings_are_kept(tmp_path: Path):
    """With the real Airflow (in a process of its own): outside a task there is no context, and the settings
    are returned as they are."""
    code = (
        "import sys; sys.path.insert(0, 'dags'); import dubline_tasks\n"
        "from pipeline.core.config import Settings\n"
        f"s = Settings(data_dir={str(tmp_path)!r})\n"
        "assert dubline_tasks.job_settings(s) is s\n"
        "print('kept')\n"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow")}
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "kept" in done.stdout, done.stderr[-2000:]


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
