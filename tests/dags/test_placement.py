"""Queues and pools: what the DAG processor parses is what the scheduler routes by. With docker/cluster.env's
settings every DAG's heavy tasks go to the heavy queue and pool and the rest to Airflow's default queue; an
operator's DUBLINE_STAGE_QUEUES sends single tasks to `gpu`; with nothing set (`dubline dub`, standalone) no
task names a queue or a pool of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dags.helpers import REPO, airflow_env

PROBE = r"""
import json, sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
bag = BundleDagBag(dag_folder=sys.argv[1], bundle_path=Path(sys.argv[1]), bundle_name="dags-folder")
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "tasks": {f"{d.dag_id}.{t.task_id}": [t.queue, t.pool] for d in bag.dags.values() for t in d.tasks},
}))
"""

HEAVY = {
    "dub_video.transcribe",
    "dub_video.translate",
    "dub_video.synthesize",
    "dub_video.separate",
    "describe_video.transcribe",
    "describe_video.voice",
    "audiobook.narrate",
    "enroll_voice.enroll",
}


def _parse(tmp_path: Path, **settings: str) -> dict[str, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO / "dags")],
        capture_output=True,
        text=True,
        env=airflow_env(tmp_path, AIRFLOW__OPERATORS__DEFAULT_QUEUE="default", **settings),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["errors"] == {}, info["errors"]
    return dict(info["tasks"])


def _cluster_settings() -> dict[str, str]:
    lines = (REPO / "docker" / "cluster.env").read_text().splitlines()
    pairs = [ln.split("=", 1) for ln in lines if ln.strip() and not ln.startswith("#")]
    return {k: v for k, v in pairs if k.startswith("DUBLINE_") and k in {"DUBLINE_HEAVY_QUEUE", "DUBLINE_HEAVY_POOL"}}


def test_cluster_settings_put_heavy_tasks_on_the_heavy_queue_and_pool(tmp_path: Path) -> None:
    settings = _cluster_settings()
    assert settings == {"DUBLINE_HEAVY_QUEUE": "heavy", "DUBLINE_HEAVY_POOL": "heavy"}
    tasks = _parse(tmp_path, **settings)
    assert HEAVY <= set(tasks)
    for name, (queue, pool) in tasks.items():
        if name in HEAVY:
            assert (queue, pool) == ("heavy", "heavy"), name
        else:
            assert (queue, pool) == ("default", "default_pool"), name


def test_an_operator_routes_single_tasks_to_the_gpu_queue(tmp_path: Path) -> None:
    tasks = _parse(
        tmp_path,
        DUBLINE_HEAVY_QUEUE="heavy",
        DUBLINE_HEAVY_POOL="heavy",
        DUBLINE_STAGE_QUEUES="transcribe=gpu, synthesize=gpu",
    )
    assert tasks["dub_video.transcribe"] == ["gpu", "heavy"]
    assert tasks["describe_video.transcribe"] == ["gpu", "heavy"]
    assert tasks["dub_video.synthesize"] == ["gpu", "heavy"]
    assert tasks["dub_video.translate"] == ["heavy", "heavy"]
    assert tasks["dub_video.mix"] == ["default", "default_pool"]
    json_routes = _parse(tmp_path, DUBLINE_STAGE_QUEUES='{"mix": "gpu"}')
    assert json_routes["dub_video.mix"] == ["gpu", "default_pool"]
    assert json_routes["dub_video.transcribe"] == ["default", "default_pool"]


def test_without_settings_no_task_names_a_queue_or_pool_of_its_own(tmp_path: Path) -> None:
    tasks = _parse(tmp_path)
    assert {tuple(v) for v in tasks.values()} == {("default", "default_pool")}


@pytest.mark.parametrize("bad", ["transcribe", "transcribe=", "=gpu", '{"transcribe": ""}'])
def test_a_malformed_route_is_an_import_error_that_says_how_to_write_it(tmp_path: Path, bad: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO / "dags")],
        capture_output=True,
        text=True,
        env=airflow_env(tmp_path, DUBLINE_STAGE_QUEUES=bad),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    errors = json.loads(proc.stdout.strip().splitlines()[-1])["errors"]
    assert errors and all("DUBLINE_STAGE_QUEUES" in e for e in errors.values()), errors
