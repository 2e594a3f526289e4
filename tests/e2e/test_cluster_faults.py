"""Faults on a real cluster (tools/cluster.py), during one `dub_video` run triggered through the REST API:

(d) PostgreSQL (Airflow's metadata and the project's ledger) stopped for 20 s while `transcribe` runs, then
    started again;
(c) the S3 server (SeaweedFS) stopped for 25 s as `translate` starts, then started again on the same data: the
    task fails, Airflow retries it, the retry succeeds;
(a) `kill -9` of the heavy worker (every process of it) once `synthesize` has put its first clip in the store;
    its supervisor starts a new one: the scheduler fails the task for its missing heartbeats, retries it on
    the new worker, and the clips already made are reused (the report counts them).

Every Airflow service and worker runs under tools/supervise.py, the stand-in for compose's
`restart: unless-stopped`: the scheduler, dag-processor and triggerer exit when PostgreSQL goes away, and are
started again.

The run must succeed; its subtitles and dub audio must equal the same job's `dubline dub` (in-process, SQLite
and a local folder); the audit chain must verify (`dubline audit verify`); and the store must hold no
half-written object: every object is whole (non-empty) and every store URI a stage record names exists.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.dags.helpers import REPO
from tests.e2e.test_cluster import _diagnosis, _env, _md5_of_dub, running_cluster
from tools.cluster import Cluster, _recorded

pytestmark = pytest.mark.slow

DAG = "dub_video"
RETRIES = 6  # separate, which runs through both outages, has needed 4 tries
TIMEOUT_S = 1500.0
PG_DOWN_S = 20.0
S3_DOWN_S = 25.0


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from pipeline.audio.sample import make_sample
    from pipeline.core.config import get_settings

    base = tmp_path_factory.mktemp("cluster-faults")
    talk = make_sample(base / "talk.mp4", get_settings(), seconds=14.0)
    return {"base": base, "input": talk, "c2pa": base / "c2pa"}


@pytest.fixture(scope="module")
def reference(work: dict[str, Any]) -> Iterator[subprocess.Popen[str]]:
    """The same job with `dubline dub`, in the background while the cluster works."""
    env = _env(DUBLINE_DATA_DIR=str(work["base"] / "ref-data"), DUBLINE_C2PA_CERT_DIR=str(work["c2pa"]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli.app", "dub", str(work["input"]), "--to", "es",
         "--out", str(work["base"] / "ref")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
    )  # fmt: skip
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(work: dict[str, Any]) -> Iterator[Cluster]:
    settings = {
        "DUBLINE_TASK_RETRIES": str(RETRIES),
        "DUBLINE_TASK_RETRY_DELAY_S": "5",
        # a task sent to a worker while PostgreSQL is down may never start (its start is refused) and stays
        # `queued`; the scheduler sends it again after this long (Airflow's default 600 s, checked every 120 s)
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "180",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "30",
        "DUBLINE_C2PA_CERT_DIR": str(work["c2pa"]),
    }
    with running_cluster(work["base"] / "cluster", settings) as c:
        yield c


def _service(c: Cluster, command: str, name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tools.cluster", command, name, "--dir", str(c.dir)],
        env=_env(), capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, f"cluster {command} {name}:\n{done.stdout}{done.stderr}"


def _pg_ctl(action: str) -> None:
    """Stop or start the machine's PostgreSQL (the cluster's: scripts/start-postgres.sh's)."""
    for version in sorted(os.listdir("/etc/postgresql")):
        fast = ["-m", "fast"] if action == "stop" else []
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action, *fast],
                       check=True, capture_output=True, timeout=120)  # fmt: skip
    if action == "start":
        subprocess.run(["bash", str(REPO / "scripts" / "start-postgres.sh")], check=True, capture_output=True)


def _s3(c: Cluster) -> tuple[Any, str, str]:
    import boto3

    env = c.env()
    bucket, _, prefix = env["DUBLINE_STORE_URL"].removeprefix("s3://").partition("/")
    client = boto3.client(
        "s3",
        endpoint_url=env["DUBLINE_S3_ENDPOINT"],
        aws_access_key_id=env["DUBLINE_S3_ACCESS_KEY"],
        aws_secret_access_key=env["DUBLINE_S3_SECRET_KEY"],
        region_name=env.get("DUBLINE_S3_REGION") or "us-east-1",
    )
    return client, bucket, prefix


def _objects(c: Cluster) -> dict[str, int]:
    client, bucket, prefix = _s3(c)
    found: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found.update({o["Key"]: int(o["Size"]) for o in page.get("Contents", [])})
    return found


class Run:
    def __init__(self, c: Cluster, run_id: str) -> None:
        self.c, self.api, self.run_id, self.t0 = c, c.api(), run_id, time.monotonic()

    def states(self) -> dict[str, dict[str, Any]]:
        """task id -> its task instance; {} while the api-server cannot answer (its database is down)."""
        try:
            return {t["task_id"]: t for t in self.api.task_instances(DAG, self.run_id) if t["map_index"] in (-1, 0)}
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            return {}

    def state(self) -> str:
        try:
            return str(self.api.run(DAG, self.run_id)["state"])
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            return "unknown"

    def until(self, what: str, probe: Callable[[], bool], poll_s: float = 0.5) -> float:
        while time.monotonic() - self.t0 < TIMEOUT_S:
            if probe():
                return time.monotonic() - self.t0
            if self.state() in ("success", "failed"):
                raise AssertionError(f"the run ended before {what}\n{_diagnosis(self.c, {'run': self.run_id})}")
            time.sleep(poll_s)
        raise AssertionError(f"timed out waiting for {what}\n{_diagnosis(self.c, {'run': self.run_id})}")

    def running(self, task: str) -> float:
        return self.until(f"{task} to run", lambda: self.states().get(task, {}).get("state") == "running")


def _kill_worker(c: Cluster, name: str) -> int:
    """SIGKILL to a worker's every process (a machine lost, not a shutdown): the Celery worker, its pool and the
    tasks' supervisors and processes. Its supervisor (tools/supervise.py, the cluster's stand-in for compose's
    `restart: unless-stopped`) starts a new worker."""
    supervisor = _recorded(c.dir, name)
    assert supervisor is not None, f"{name} does not run"
    family = supervisor.children(recursive=True)
    assert family, f"{name}'s supervisor has no worker"
    for p in family:
        try:
            p.send_signal(signal.SIGKILL)
        except Exception:  # noqa: BLE001 - already gone
            pass
    return len(family)


def _restarts(c: Cluster) -> dict[str, int]:
    """How often each service's supervisor started it again (its log says so)."""
    found = {}
    for log in (c.dir / "logs").glob("*.log"):
        n = log.read_text(errors="replace").count("[supervise]")
        if n:
            found[log.stem] = n
    return found


def test_a_run_survives_postgres_and_s3_restarts_and_a_killed_worker(
    work: dict[str, Any], reference: subprocess.Popen[str], cluster: Cluster
) -> None:
    out = work["base"] / "out"
    run = Run(cluster, cluster.api().trigger(DAG, {"input": str(work["input"]), "target_languages": ["es"],
                                                    "output": str(out)}))  # fmt: skip
    log: list[str] = []

    # (d) PostgreSQL down while transcribe runs
    at = run.running("transcribe")
    _pg_ctl("stop")
    time.sleep(PG_DOWN_S)
    _pg_ctl("start")
    log.append(f"{at:.0f} s: PostgreSQL stopped for {PG_DOWN_S:.0f} s during transcribe")

    # (c) SeaweedFS down as translate starts
    at = run.running("translate")
    _service(cluster, "stop", "s3")
    time.sleep(S3_DOWN_S)
    _service(cluster, "start", "s3")
    log.append(f"{at:.0f} s: SeaweedFS stopped for {S3_DOWN_S:.0f} s as translate started")

    # (a) kill -9 of the heavy worker once synthesize has stored a clip
    before = {k for k in _objects(cluster) if "clips/" in k}
    run.running("synthesize")
    made: list[str] = []

    def a_clip() -> bool:
        made[:] = [k for k in _objects(cluster) if "clips/" in k and k not in before]
        return bool(made)

    at = run.until("synthesize's first clip", a_clip, poll_s=0.3)
    killed = _kill_worker(cluster, "worker-heavy")
    log.append(f"{at:.0f} s: heavy worker killed ({killed} processes) with {len(made)} clip(s) made")

    end = run.until("the run to end", lambda: run.state() in ("success", "failed"), poll_s=3)
    log.append(f"{end:.0f} s: run ended {run.state()}")
    print("\n  " + "\n  ".join(log))
    assert run.state() == "success", _diagnosis(cluster, {"run": run.run_id})
    tries = {task: int(ti["try_number"]) for task, ti in run.states().items()}
    restarts = _restarts(cluster)
    print(f"  tries: {tries}\n  restarts by the supervisor: {restarts}")
    assert restarts.get("worker-heavy"), "the killed worker was not started again"
    assert tries["translate"] >= 2, "translate did not fail while the store was down"
    assert tries["synthesize"] >= 2, "synthesize was not run again after its worker was killed"

    report = json.loads((out / "talk.report.json").read_text())
    rendered = report["rendered"]["es"]
    print(f"  clips made before the kill: {len(made)}; clips reused by the retry: {rendered['clips_reused']}")
    assert rendered["clips_reused"] >= len(made)

    # the same outputs as an uninterrupted `dubline dub`
    output, _ = reference.communicate(timeout=TIMEOUT_S)
    assert reference.returncode == 0, output[-3000:]
    ref = work["base"] / "ref"
    for name in sorted(p.name for p in ref.iterdir() if p.suffix in (".srt", ".vtt")):
        assert (out / name).read_bytes() == (ref / name).read_bytes(), f"{name} differs"
    assert _md5_of_dub(out / "talk.dub.mp4") == _md5_of_dub(ref / "talk.dub.mp4"), "the dub audio differs"

    # the ledger and its audit chain are valid after PostgreSQL's restart
    verify = subprocess.run(
        [sys.executable, "-m", "pipeline.cli.app", "audit", "verify"],
        env=_env(**cluster.env()), capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    print(f"  audit verify: {verify.stdout.strip().splitlines()[-1] if verify.stdout.strip() else ''}")

    # nothing half-written in the store: every object whole, every URI a stage record names present
    objects = _objects(cluster)
    assert objects and not [k for k, size in objects.items() if size == 0], "empty objects in the store"
    client, bucket, prefix = _s3(cluster)
    named: set[str] = set()
    for key in [k for k in objects if k.endswith(".json")]:
        text = client.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", "replace")
        named |= {u.split('"')[0] for u in text.split(f"s3://{bucket}/")[1:]}
    missing = sorted(u for u in named if u and u not in objects)
    assert not missing, f"stage records name objects the store does not hold: {missing[:10]}"
