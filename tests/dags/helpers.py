"""What the DAG tests share: the environment of an Airflow subprocess that parses or runs this repository's
DAG folder."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    """Airflow at `home` on the repository's DAG folder, no examples, quiet; none of the developer's DUBLINE_*
    settings (a store or database of theirs) or Airflow task context; `extra` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUBLINE_", "AIRFLOW_CTX_"))}
    return {
        **env,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        **extra,
    }
