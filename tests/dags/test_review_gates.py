"""The review gates (dags/dubline_review.py) on real Airflow: dub_video's wiring and params, and a small DAG
with the same gate operator run through dag.test() in a subprocess: with review off it passes at once; with
review on it waits (AWAITING_INPUT) until `dubline review apply` answers from another process, then hands
on who answered, what and when; unanswered, it approves when its time is up and records that it timed out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.dags.helpers import REPO, airflow_env

PROBE_DAG = """
from __future__ import annotations

from airflow.sdk import Param, dag, task
from dubline_review import ReviewGate


@dag(dag_id="review_probe", schedule=None, params={"review": Param(False, type="boolean")})
def review_probe():
    @task
    def cast():
        return {"script_uri": "file:///store/script.json", "language": "en"}

    gate = ReviewGate(
        task_id="review_transcript",
        subject="Review the transcript",
        body="The transcript is at {{ ti.xcom_pull(task_ids='cast')['script_uri'] }}",
        params={"script": Param("", type="string", description="the edited transcript")},
    )

    @task
    def revise(review):
        from dubline_review import edited_scripts

        return {"review": review, "scripts": edited_scripts(review, "en")}

    cast() >> gate
    revise(gate.output)


review_probe_dag = review_probe()
"""

RUN = r"""
import importlib.util, json, sys
from pathlib import Path
dags = sys.argv[1]
sys.path.append(dags)  # as Airflow does: the DAG file imports dubline_review
spec = importlib.util.spec_from_file_location("review_probe_file", f"{dags}/review_probe.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from airflow.models.hitl import HITLDetail
from airflow.models.xcom import XComModel
from airflow.settings import Session

dr = module.review_probe_dag.test(run_conf=json.loads(sys.argv[2]))
session = Session()
xcoms = {x.task_id: x.value for x in session.query(XComModel).filter(XComModel.run_id == dr.run_id)}
gates = session.query(HITLDetail).count()
print("RESULT " + json.dumps({"state": str(dr.state), "run_id": dr.run_id, "xcom": xcoms, "hitl_rows": gates},
                             default=str))
"""

DAG_PROBE = r"""
import json, sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
bag = BundleDagBag(dag_folder=sys.argv[1], bundle_path=Path(sys.argv[1]), bundle_name="dags-folder")
dag = bag.dags["dub_video"]
tasks = {t.task_id: {"down": sorted(t.downstream_task_ids), "up": sorted(t.upstream_task_ids)} for t in dag.tasks}
gates = {
    g: {"type": type(dag.get_task(g)).__name__, "options": dag.get_task(g).options,
        "defaults": dag.get_task(g).defaults, "params": sorted(dag.get_task(g).params.keys()),
        "timeout_s": dag.get_task(g).response_timeout.total_seconds(), "retries": dag.get_task(g).retries}
    for g in ("review_transcript", "review_translations")
}
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "tasks": tasks, "gates": gates,
                  "params": {k: dag.params.get_param(k).serialize() for k in dag.params.keys()}}))
"""


def test_dub_video_has_the_review_gates_wired_in_order(tmp_path: Path) -> None:
    env = airflow_env(tmp_path / "home")
    proc = subprocess.run(
        [sys.executable, "-c", DAG_PROBE, str(REPO / "dags")], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["errors"] == {}
    tasks = info["tasks"]
    assert tasks["cast"]["down"] == ["review_transcript", "revise_transcript"]
    assert tasks["revise_transcript"]["up"] == ["cast", "configure", "review_transcript"]
    # every later stage takes the revised transcript, none the cast's
    for name in ("translate", "separate", "describe", "mux", "publish"):
        assert "revise_transcript" in tasks[name]["up"] and "cast" not in tasks[name]["up"], name
    assert tasks["review_translations"]["up"] == ["translate"]
    assert tasks["revise_translation"]["up"] == ["configure", "review_translations", "translate"]
    assert "revise_translation" in tasks["synthesize"]["up"] and "translate" not in tasks["synthesize"]["up"]
    assert "revise_translation" in tasks["publish"]["up"]
    gates = info["gates"]
    for gate in gates.values():
        assert gate["type"] == "ReviewGate" and gate["retries"] == 0
        assert gate["options"] == ["Approve", "Apply edited script"] and gate["defaults"] == ["Approve"]
        assert gate["timeout_s"] == 24 * 3600
    assert gates["review_transcript"]["params"] == ["script"]  # the form: no DAG-level params leak in
    assert gates["review_translations"]["params"] == ["scripts"]
    params = info["params"]
    assert params["review"]["value"] is False and params["review"]["schema"]["type"] == "boolean"
    assert params["scripts"]["value"] == {} and params["scripts"]["schema"]["type"] == "object"
    assert params["retakes"]["value"] == {} and params["retakes"]["schema"]["type"] == "object"
    assert params["editor"]["value"] == "" and params["editor"]["schema"]["type"] == "string"
    assert all(params[k]["description"] for k in ("review", "scripts", "retakes", "editor"))


# --- a small DAG with the same gate, through dag.test() -----------------------------------------------


@pytest.fixture()
def probe(tmp_path: Path) -> dict[str, Any]:
    """A DAG folder with the probe DAG and dubline_review.py, an Airflow home, and how to run both sides."""
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "review_probe.py").write_text(PROBE_DAG)
    (dags / "dubline_review.py").symlink_to(REPO / "dags" / "dubline_review.py")
    home = tmp_path / "airflow"
    dubline_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))},
        "DUBLINE_DATA_DIR": str(tmp_path / "data"),
        "DUBLINE_AIRFLOW_HOME": str(home),
        "DUBLINE_DAGS_DIR": str(dags),
    }

    def dubline(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pipeline.cli.app", *args],
            capture_output=True,
            text=True,
            env=dubline_env,
            cwd=REPO,
            timeout=120,
        )

    # `dubline review list` migrates Airflow's database in the home, as `dubline dub` would, and finds nothing
    first = dubline("review", "list")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "no review waits" in first.stdout

    def start(conf: dict[str, Any], **extra: str) -> subprocess.Popen[str]:
        env = airflow_env(home, AIRFLOW__CORE__DAGS_FOLDER=str(dags), **extra)
        return subprocess.Popen(
            [sys.executable, "-c", RUN, str(dags), json.dumps(conf)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    return {"dubline": dubline, "start": start}


def _result(proc: subprocess.Popen[str], timeout: float = 120) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def test_without_review_the_gate_passes_at_once(probe: dict[str, Any]) -> None:
    t0 = time.monotonic()
    result = _result(probe["start"]({"review": False}))
    assert time.monotonic() - t0 < 60
    assert result["state"] == "success"
    review = result["xcom"]["review_transcript"]
    assert review["auto"] is True and review["chosen"] == "Approve" and review["approved_by"] == ""
    assert result["xcom"]["revise"]["scripts"] == {}
    assert result["hitl_rows"] == 0  # nobody was asked


def test_with_review_the_run_waits_for_dubline_review_apply(probe: dict[str, Any], tmp_path: Path) -> None:
    edited = tmp_path / "edited.srt"
    edited.write_text("1\n00:00:00,000 --> 00:00:01,000\nHello there.\n")
    run = probe["start"]({"review": True})
    try:
        waiting: list[dict[str, Any]] = []
        deadline = time.monotonic() + 90
        while not waiting and time.monotonic() < deadline:
            assert run.poll() is None, run.communicate()[1][-3000:]
            listed = probe["dubline"]("review", "list", "--json")
            assert listed.returncode == 0, listed.stderr[-2000:]
            waiting = json.loads(listed.stdout)
            time.sleep(1)
        assert len(waiting) == 1, "the gate never asked"
        gate = waiting[0]
        assert gate["dag_id"] == "review_probe" and gate["task_id"] == "review_transcript"
        assert gate["body"] == "The transcript is at file:///store/script.json"  # rendered for the reviewer
        assert gate["options"] == ["Approve", "Apply edited script"] and gate["form"] == {"script": ""}
        time.sleep(3)
        assert run.poll() is None  # still waiting for a person

        table = probe["dubline"]("review", "list")
        assert gate["run_id"] in table.stdout and "review_transcript" in table.stdout
        answer = probe["dubline"]("review", "apply", gate["run_id"], "--script", str(edited), "--by", "alice")
        assert answer.returncode == 0, answer.stderr[-2000:]
        assert "by alice" in answer.stdout
        result = _result(run)
    finally:
        if run.poll() is None:
            run.kill()
    assert result["state"] == "success"
    review = result["xcom"]["review_transcript"]
    assert review["chosen"] == "Apply edited script" and review["approved_by"] == "alice"
    assert review["timed_out"] is False and review["auto"] is False and review["at"]
    assert review["script"] == str(edited.resolve())
    assert result["xcom"]["revise"]["scripts"] == {"en": str(edited.resolve())}
    again = probe["dubline"]("review", "approve", gate["run_id"])
    assert again.returncode != 0 and "no review waits" in again.stderr


def test_unanswered_gate_approves_when_its_time_is_up(probe: dict[str, Any]) -> None:
    # 0.001 h = 3.6 s; dag.test() runs no scheduler: the gate's own timer resolves it as the scheduler would
    result = _result(probe["start"]({"review": True}, DUBLINE_REVIEW_TIMEOUT_H="0.001"))
    assert result["state"] == "success"
    review = result["xcom"]["review_transcript"]
    assert review["chosen"] == "Approve" and review["timed_out"] is True and review["approved_by"] == ""
    assert review["at"] and review["script"] == ""


HELPERS = r"""
import sys
sys.path.insert(0, sys.argv[1])
from dubline_review import edited_scripts, record

rec = record("review_translations", "Apply edited script", {"scripts": {"es": " /e/es.srt ", "fr": ""}})
assert rec["scripts"] == {"es": "/e/es.srt"}, rec
assert edited_scripts(rec) == {"es": "/e/es.srt"}
assert edited_scripts(record("review_transcript", params_input={"script": "/e/t.vtt"}), "en") == {"en": "/e/t.vtt"}
assert edited_scripts(record("review_transcript", auto=True), "en") == {}
assert edited_scripts(None) == {}
print("ok")
"""


def test_gate_records_and_edited_scripts(tmp_path: Path) -> None:
    """In a subprocess: importing Airflow here would fix its database for the rest of the session's tests."""
    proc = subprocess.run(
        [sys.executable, "-c", HELPERS, str(REPO / "dags")],
        capture_output=True,
        text=True,
        env=airflow_env(tmp_path / "airflow"),
        timeout=300,
    )
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stdout + proc.stderr
