"""Shared test set-up: an isolated data folder per test session, and the real recordings when present."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture(scope="session", autouse=True)
def _isolated_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Databases, store and Airflow home of the tests live in a temporary folder, never the user's."""
    data = tmp_path_factory.mktemp("dubline-data")
    os.environ["DUBLINE_DATA_DIR"] = str(data)
    # the public built-in watermark key, set explicitly as an operator would for tests: the marks (and the
    # figures that depend on them) are the same in every run; production uses its installation's own key
    os.environ.setdefault("DUBLINE_WATERMARK_KEY", "dubline-watermark-v1")
    from pipeline.core.config import reset_settings

    reset_settings()
    return data


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"real recordings not available ({FIXTURES} is absent; CI has them)")
    return FIXTURES


@pytest.fixture(autouse=True)
def _no_airflow_task_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow leaves AIRFLOW_CTX_* variables in the environment after a task runs in-process (dag.test);
    a later test must not see the context of an earlier test's DAG run."""
    for name in list(os.environ):
        if name.startswith("AIRFLOW_CTX_"):
            monkeypatch.delenv(name, raising=False)
