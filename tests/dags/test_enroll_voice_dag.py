"""The enroll_voice DAG parses with the DAG folder, light, with its three tasks in order and its params."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
# as Airflow's DAG processor parses a bundle: its folder on sys.path (DAG files import dubline_tasks from it)
bag = BundleDagBag(dag_folder=sys.argv[1], bundle_path=Path(sys.argv[1]), bundle_name="dags-folder")
dag = bag.dags.get("enroll_voice")
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "heavy": sorted(m for m in ("torch", "numpy", "resemblyzer", "kokoro", "pyworld", "onnxruntime")
                    if m in sys.modules),
    "tasks": {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks} if dag else {},
    "params": sorted(dag.params.keys()) if dag else [],
}))
"""


def test_enroll_voice_dag_imports_with_its_tasks_and_params(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO / "dags")], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["errors"] == {}
    assert info["heavy"] == [], f"DAG parsing imported {info['heavy']}"
    assert info["tasks"] == {"check_consent": ["enroll", "record"], "enroll": ["record"], "record": []}
    assert info["params"] == ["backend", "budget_s", "language", "person", "references", "use"]
