"""The audio-description DAGs: both parse with the DAG folder, light; describe_video's tasks run in stage
order and its params are DescribeRequest's; describe_batch maps one `start` (a trigger of describe_video)
per video and script pair."""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest

from tests.dags.helpers import REPO, airflow_env

PROBE = r"""
import json, sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
bag = BundleDagBag(dag_folder=sys.argv[1], bundle_path=Path(sys.argv[1]), bundle_name="dags-folder")
def describe(dag):
    if dag is None:
        return None
    return {
        "tasks": {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks},
        "mapped": sorted(t.task_id for t in dag.tasks if type(t).__name__.endswith("MappedOperator")),
        "params": {k: {**dag.params.get_param(k).schema, "description": dag.params.get_param(k).description,
                       "default": dag.params.get_param(k).value} for k in dag.params.keys()},
        "timetable": type(dag.timetable).__name__,
        "tags": sorted(dag.tags),
    }
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "heavy": sorted(m for m in ("torch", "numpy", "soundfile", "ffmpeg", "onnxruntime", "faster_whisper", "lxml",
                                "webvtt", "pytesseract", "PIL", "pipeline") if m in sys.modules),
    "describe_video": describe(bag.dags.get("describe_video")),
    "describe_batch": describe(bag.dags.get("describe_batch")),
}))
"""


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    env = airflow_env(tmp_path_factory.mktemp("parse"))
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO / "dags")], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    info: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return info


def test_both_dags_parse_light(parsed: dict[str, Any]) -> None:
    assert parsed["errors"] == {}
    assert parsed["describe_video"] is not None and parsed["describe_batch"] is not None
    assert parsed["heavy"] == [], f"DAG parsing imported {parsed['heavy']}"


def test_describe_video_runs_the_stages_in_order(parsed: dict[str, Any]) -> None:
    tasks = parsed["describe_video"]["tasks"]
    order = ["configure", "ingest", "read_script", "transcribe", "map_dialogue", "voice", "mix", "render", "publish"]
    assert sorted(tasks) == sorted(order)

    def reaches(a: str, b: str) -> bool:
        seen, todo = set(), [a]
        while todo:
            t = todo.pop()
            for d in tasks[t]:
                if d not in seen:
                    seen.add(d)
                    todo.append(d)
        return b in seen

    for a, b in zip(order, order[1:], strict=False):
        assert reaches(a, b), f"{b} does not follow {a}"
    assert tasks["publish"] == []
    assert parsed["describe_video"]["timetable"] == "NullTimetable"
    assert "audio_description" in parsed["describe_video"]["tags"]


def test_describe_video_params_are_the_describe_request(parsed: dict[str, Any]) -> None:
    from pipeline.products.description.contracts import DescribeRequest, Style

    params = parsed["describe_video"]["params"]
    assert sorted(params) == sorted(DescribeRequest.model_fields)
    assert sorted(params["style"]["enum"]) == sorted(typing.get_args(Style))
    assert all(p["description"] for p in params.values())
    defaults = {k: p["default"] for k, p in params.items()}
    request = DescribeRequest.from_params({**defaults, "video": "a.mp4", "script": "a.vtt"})
    assert request.duck_db == DescribeRequest.model_fields["duck_db"].default
    assert request.lookahead_s == DescribeRequest.model_fields["lookahead_s"].default
    assert request.containers == ["mp4"] and request.extended is False


def test_describe_batch_maps_one_run_per_pair(parsed: dict[str, Any]) -> None:
    dag = parsed["describe_batch"]
    assert dag["tasks"] == {"pairs": ["start"], "start": []}
    assert dag["mapped"] == ["start"]
    assert set(dag["params"]) >= {"folder", "output", "extended", "voice", "style", "language"}


RUN_BATCH = r"""
import importlib.util, json, sys
dags = sys.argv[1]
sys.path.append(dags)  # as Airflow does: the DAG file imports dubline_tasks
spec = importlib.util.spec_from_file_location("describe_batch_dag_file", f"{dags}/describe_batch.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from airflow.models.dagrun import DagRun
from airflow.settings import Session

def once(conf):
    dr = module.describe_batch_dag.test(run_conf=conf)
    session = Session()
    tis = sorted([t.task_id, t.map_index, str(t.state)] for t in dr.get_task_instances(session=session))
    found = session.query(DagRun).filter(DagRun.dag_id == "describe_video")
    runs = sorted([r.run_id, str(r.state), r.conf] for r in found)
    session.close()
    return {"state": str(dr.state), "tis": tis, "runs": runs}

conf = json.loads(sys.argv[2])
print(json.dumps([once(conf), once(conf)]))
"""


@pytest.mark.slow
def test_describe_batch_starts_one_run_per_pair_once(tmp_path: Path) -> None:
    """dag.test() of describe_batch over a folder of two video and script pairs (and a video without a
    script): two queued `describe_video` runs with the pairs' confs; started again, none."""
    from pipeline.products.description.contracts import DescribeRequest

    folder = tmp_path / "lectures"
    folder.mkdir()
    for name in ("a.mp4", "a.vtt", "b.mkv", "b.csv", "c.mp4"):
        (folder / name).write_text(name)
    env = airflow_env(tmp_path / "airflow", DUBLINE_DATA_DIR=str(tmp_path / "data"), DUBLINE_TASK_RETRIES="0")
    migrate = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
    )
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    conf = {"folder": str(folder), "output": str(tmp_path / "out"), "extended": True, "style": "calm"}
    proc = subprocess.run(
        [sys.executable, "-c", RUN_BATCH, str(REPO / "dags"), json.dumps(conf)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, second = json.loads(proc.stdout.strip().splitlines()[-1])
    assert first["state"] == "success"
    assert first["tis"] == [["pairs", -1, "success"], ["start", 0, "success"], ["start", 1, "success"]]
    runs = first["runs"]
    assert [r[1] for r in runs] == ["queued", "queued"]
    requests = [DescribeRequest.from_params(r[2]) for r in runs]
    assert sorted(Path(r.video).name for r in requests) == ["a.mp4", "b.mkv"]
    assert sorted(Path(r.script).name for r in requests) == ["a.vtt", "b.csv"]
    assert all(r.extended and r.style == "calm" for r in requests)
    assert sorted(r.output for r in requests) == [str(tmp_path / "out" / "a"), str(tmp_path / "out" / "b")]
    assert second["state"] == "success"
    assert second["runs"] == runs  # the same pairs: no new run
    assert [t[2] for t in second["tis"] if t[0] == "start"] == ["skipped", "skipped"]
