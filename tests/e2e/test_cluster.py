"""End to end on a real cluster (tools/cluster.py, what `make cluster-up` starts): PostgreSQL, Redis, SeaweedFS,
Airflow's api-server, scheduler, dag-processor and triggerer, and two Celery workers (`light` on the default
queue, `heavy` on the heavy queue and pool).

Two `dub_video` runs on two different inputs are triggered through the REST API at once. Both must succeed;
every heavy task must have run on the heavy worker (queue and pool `heavy`) and every other task on the light
one; and the outputs must equal those of the same jobs run with `dubline dub` (in-process, SQLite and a local
folder as store): subtitles byte for byte, the dub audio stream by `ffmpeg -map 0:a:1 -f md5 -`, the C2PA
manifest but for what names the run or the signing (the run id, which holds its time; the manifest's label and
instance id, fresh UUIDs at every signing). Both sides sign with the same signer (one C2PA folder).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dags.helpers import REPO
from tools.cluster import Cluster

pytestmark = pytest.mark.slow

DAG = "dub_video"
RUN_TIMEOUT_S = 480.0
HEAVY_TASKS = {"transcribe", "translate", "synthesize", "separate"}
CLIPS = {"a": (0.0, 9.0), "b": (9.0, 9.0)}  # (start, seconds) of the sample talk: two different inputs


def _env(**extra: str) -> dict[str, str]:
    """This environment without Airflow's or dubline's settings (the developer's or the test session's)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__", "DUBLINE_"))}
    if os.environ.get("DUBLINE_MODEL_DIR"):
        keep["DUBLINE_MODEL_DIR"] = os.environ["DUBLINE_MODEL_DIR"]
    # the workers' engine threads (half the cores) for `dubline dub` too (it would use every core): onnxruntime
    # and llama.cpp sum in another order with another thread count, and the outputs are compared byte for byte
    keep["DUBLINE_ENGINE_THREADS"] = str(max(1, (os.cpu_count() or 2) // 2))
    return {**keep, **extra}


def _clip(src: Path, out: Path, start: float, seconds: float) -> Path:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-ss", str(start), "-i", str(src), "-t", str(seconds),
         "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(out)],
        check=True,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory, sample_video: Path) -> dict[str, Any]:
    """The two inputs and one C2PA signer for the cluster and `dubline dub` alike."""
    base = tmp_path_factory.mktemp("cluster-e2e")
    c2pa = base / "c2pa"
    made = subprocess.run(
        [sys.executable, "-m", "pipeline.cli.app", "provenance", "init-signer"],
        env=_env(DUBLINE_DATA_DIR=str(base / "signer-data"), DUBLINE_C2PA_CERT_DIR=str(c2pa)),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr[-2000:]
    inputs = {k: _clip(sample_video, base / f"{k}.mp4", *span) for k, span in CLIPS.items()}
    return {"base": base, "c2pa": c2pa, "inputs": inputs}


@pytest.fixture(scope="module")
def references(work: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`dubline dub` of both inputs, one after the other, in the background while the cluster works (ended at
    teardown if still running: a failed test does not leave a dub behind)."""
    results: dict[str, Any] = {}
    current: list[subprocess.Popen[str]] = []
    stop = threading.Event()

    def dub_all() -> None:
        for name, src in work["inputs"].items():
            if stop.is_set():
                return
            t0 = time.monotonic()
            out = work["base"] / f"ref-{name}"
            env = _env(DUBLINE_DATA_DIR=str(work["base"] / "ref-data"), DUBLINE_C2PA_CERT_DIR=str(work["c2pa"]))
            proc = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli.app", "dub", str(src), "--to", "es", "--out", str(out)],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
            )  # fmt: skip
            current[:] = [proc]
            try:
                output, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                output, _ = proc.communicate()
            results[name] = {"out": out, "code": proc.returncode, "output": output, "wall_s": time.monotonic() - t0}

    thread = threading.Thread(target=dub_all, daemon=True)
    thread.start()
    yield results
    stop.set()
    for proc in current:
        if proc.poll() is None:
            proc.kill()
    thread.join(timeout=60)


@contextlib.contextmanager
def running_cluster(folder: Path, settings: dict[str, str]) -> Iterator[Cluster]:
    """`python -m tools.cluster up` in folder with these settings (`--set`), run in a clean environment; always
    `down` after."""
    t0 = time.monotonic()
    up = subprocess.run(
        [sys.executable, "-m", "tools.cluster", "up", "--dir", str(folder),
         *[arg for k, v in settings.items() for arg in ("--set", f"{k}={v}")]],
        env=_env(), capture_output=True, text=True, cwd=REPO, timeout=600,
    )  # fmt: skip
    try:
        assert up.returncode == 0, (up.stdout + up.stderr)[-4000:]
        print(f"\ncluster up in {time.monotonic() - t0:.0f} s\n{up.stdout}")
        yield Cluster.load(folder)
    finally:
        down = subprocess.run(
            [sys.executable, "-m", "tools.cluster", "down", "--dir", str(folder)],
            env=_env(), capture_output=True, text=True, cwd=REPO, timeout=180,
        )  # fmt: skip
        print(down.stdout + down.stderr)


@pytest.fixture(scope="module")
def cluster(work: dict[str, Any]) -> Iterator[Cluster]:
    settings = {"DUBLINE_TASK_RETRIES": "0", "DUBLINE_C2PA_CERT_DIR": str(work["c2pa"])}
    with running_cluster(work["base"] / "cluster", settings) as c:
        yield c


def _diagnosis(c: Cluster, runs: dict[str, str]) -> str:
    api, parts = c.api(), []
    for name, run_id in runs.items():
        states = {f"{t['task_id']}[{t['map_index']}]": t["state"] for t in api.task_instances(DAG, run_id)}
        parts.append(f"run {name} ({run_id}): {states}")
    for log in sorted((c.dir / "logs").glob("*.log")):
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        parts.append(f"--- {log.name}\n{tail}")
    task_logs = sorted((c.dir / "airflow" / "logs").rglob("*.log"), key=lambda p: p.stat().st_mtime)[-2:]
    for log in task_logs:
        parts.append(f"--- {log}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-25:]))
    return "\n".join(parts)


def _md5_of_dub(path: Path) -> str:
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:1", "-f", "md5", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def _manifest(path: Path) -> dict[str, Any]:
    """The active C2PA manifest with what names this run or this signing set aside."""
    import c2pa

    with open(path, "rb") as fh:
        reader = c2pa.Reader.try_create("video/mp4", fh)
        assert reader is not None, f"no C2PA manifest in {path}"
        with reader:
            active = dict(reader.get_active_manifest() or {})
    assert active.get("label") and active.get("instance_id"), active
    for key in ("label", "instance_id"):  # fresh UUIDs at every signing
        active.pop(key)
    for assertion in active.get("assertions", []):
        data = assertion.get("data")
        if isinstance(data, dict) and "run_id" in data:
            assert str(data.pop("run_id")).startswith("manual__"), data  # the DAG run, named by its time
    return active


def test_two_dubs_on_the_cluster_use_both_workers_and_equal_dubline_dub(
    work: dict[str, Any], references: dict[str, Any], cluster: Cluster
) -> None:
    api, t0 = cluster.api(), time.monotonic()
    outs = {name: work["base"] / f"cluster-{name}" for name in work["inputs"]}
    runs = {
        name: api.trigger(DAG, {"input": str(src), "target_languages": ["es"], "output": str(outs[name])})
        for name, src in work["inputs"].items()
    }
    waited = time.monotonic() - t0
    ended = {n: waited + s for n, s in api.wait_runs(DAG, runs, RUN_TIMEOUT_S - waited).items()}
    for name, run_id in runs.items():
        state = api.run(DAG, run_id)["state"]
        assert state == "success", f"run {name} ended {state}\n{_diagnosis(cluster, runs)}"
    print("cluster runs (triggered together): " + ", ".join(f"{n} {s:.0f} s" for n, s in sorted(ended.items())))

    # where every task ran: heavy tasks on the heavy worker, queue and pool; the rest on the light worker
    hosts: set[str] = set()
    for name, run_id in runs.items():
        for ti in api.task_instances(DAG, run_id):
            where = (ti["hostname"], ti["queue"], ti["pool"])
            heavy = ti["task_id"] in HEAVY_TASKS
            expected = ("heavy", "heavy", "heavy") if heavy else ("light", "default", "default_pool")
            assert where == expected, f"run {name}: {ti['task_id']}[{ti['map_index']}] ran at {where}"
            hosts.add(ti["hostname"])
    assert hosts == {w["name"] for w in cluster.workers} == {"light", "heavy"}

    # the same jobs with `dubline dub`
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while len(references) < len(work["inputs"]) and time.monotonic() < deadline:
        time.sleep(3)
    assert set(references) == set(work["inputs"]), "dubline dub did not finish"
    for name, ref in sorted(references.items()):
        assert ref["code"] == 0, f"dubline dub {name}: {ref['output'][-3000:]}"
        print(f"dubline dub {name}: {ref['wall_s']:.0f} s")

    for name in work["inputs"]:
        ref, got = references[name]["out"], outs[name]
        names = sorted(p.name for p in ref.iterdir())
        assert sorted(p.name for p in got.iterdir()) == names
        for sub in [n for n in names if n.endswith((".srt", ".vtt"))]:
            assert (got / sub).read_bytes() == (ref / sub).read_bytes(), f"{sub} differs"
        assert len([n for n in names if n.endswith((".srt", ".vtt"))]) == 4  # en and es, SRT and WebVTT
        dub = f"{name}.dub.mp4"
        assert _md5_of_dub(got / dub) == _md5_of_dub(ref / dub), f"the dub audio of {name} differs"
        assert _manifest(got / dub) == _manifest(ref / dub)
    print(f"test body {time.monotonic() - t0:.0f} s")
