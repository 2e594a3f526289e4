"""A real `airflow standalone` (scheduler with the LocalExecutor, DAG processor, triggerer, api-server on
127.0.0.1) on the repository's DAG folder, as plain processes: started, signed in, driven through the REST API
and stopped with everything it started. Used by the standalone end-to-end test and by `make bench
BENCH_ARGS=--standalone` (each task a process of its own, as in production).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.cluster import end_family
from tools.seaweed import free_ports

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 180.0


class StandaloneError(RuntimeError):
    """Standalone exited, or what was waited for did not happen in time; the message carries a diagnosis."""


@dataclass
class Standalone:
    url: str
    home: Path
    log: Path
    proc: subprocess.Popen[bytes]
    token: str = ""

    def call(self, method: str, path: str, body: Any = None, auth: bool = True) -> Any:
        req = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode() if body is not None else None, method=method
        )
        req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def ti(self, dag: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        run = urllib.parse.quote(run_id, safe="")
        suffix = f"/{map_index}" if map_index >= 0 else ""
        return dict(self.call("GET", f"/api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task_id}{suffix}"))

    def run_state(self, dag: str, run_id: str) -> str:
        return str(self.call("GET", f"/api/v2/dags/{dag}/dagRuns/{urllib.parse.quote(run_id, safe='')}")["state"])

    def task_instances(self, dag: str, run_id: str) -> list[dict[str, Any]]:
        run = urllib.parse.quote(run_id, safe="")
        return list(self.call("GET", f"/api/v2/dags/{dag}/dagRuns/{run}/taskInstances?limit=100")["task_instances"])

    def states(self, dag: str, run_id: str) -> dict[str, str | None]:
        return {
            t["task_id"] + (f"[{t['map_index']}]" if t["map_index"] >= 0 else ""): t["state"]
            for t in self.task_instances(dag, run_id)
        }

    def diagnosis(self, dag: str = "", run_id: str | None = None) -> str:
        """What to look at when a wait fails: the task states and the tails of the logs."""
        parts, failed = [], []
        if run_id:
            try:
                states = self.states(dag, run_id)
                parts.append(f"task states: {states}")
                failed = [t.split("[")[0] for t, state in states.items() if state == "failed"]
            except Exception as e:  # noqa: BLE001 - a diagnosis must not hide the failure it explains
                parts.append(f"(task states unavailable: {e})")
        parts.append("standalone log:\n" + "\n".join(self.log.read_text(errors="replace").splitlines()[-60:]))
        logs = sorted((self.home / "logs").rglob("*.log"), key=lambda p: p.stat().st_mtime)
        for task_log in [p for p in logs if any(f"task_id={t}" in str(p) for t in failed)][-2:]:  # why it failed
            tail = "\n".join(task_log.read_text(errors="replace").splitlines()[-60:])
            parts.append(f"failed: {task_log.relative_to(self.home)}:\n{tail}")
        for task_log in logs[-3:]:
            tail = "\n".join(task_log.read_text(errors="replace").splitlines()[-25:])
            parts.append(f"{task_log.relative_to(self.home)}:\n{tail}")
        return "\n\n".join(parts)

    def wait(
        self, what: str, probe: Callable[[], Any], timeout: float, dag: str = "", run_id: str | None = None
    ) -> Any:
        """Poll `probe` every 3 s until it returns something truthy; StandaloneError at `timeout` or when
        standalone exits, with a diagnosis."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StandaloneError(f"airflow standalone exited\n{self.diagnosis(dag, run_id)}")
            found = probe()
            if found:
                return found
            time.sleep(3)
        raise StandaloneError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.diagnosis(dag, run_id)}")

    def wait_parsed(self, dag: str, timeout: float = 120.0) -> None:
        """Until the DAG processor has parsed `dag` (an import error fails at once); then unpause it."""

        def parsed() -> bool:
            try:
                self.call("GET", f"/api/v2/dags/{dag}")
            except urllib.error.HTTPError as e:
                if e.code != 404:
                    raise
                errors = self.call("GET", "/api/v2/importErrors")
                if errors["import_errors"]:
                    raise StandaloneError(f"the DAG folder has import errors: {errors}") from e
                return False
            return True

        self.wait(f"the DAG processor to parse {dag}", parsed, timeout)
        self.call("PATCH", f"/api/v2/dags/{dag}", {"is_paused": False})

    def trigger(self, dag: str, conf: Mapping[str, Any]) -> str:
        return str(
            self.call("POST", f"/api/v2/dags/{dag}/dagRuns", {"logical_date": None, "conf": dict(conf)})["dag_run_id"]
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End standalone and everything it started: its process group, and any descendant that left it."""
    import psutil

    try:
        leader = psutil.Process(proc.pid)
        family = [leader, *leader.children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    end_family([proc.pid], family)
    proc.poll()


@contextmanager
def standalone(
    base: Path, user: str, password: str, extra_env: Mapping[str, str] | None = None
) -> Iterator[Standalone]:
    """`airflow standalone` with its home and data under `base`, the API on a free port, signed in as `user` (a
    simple-auth-manager admin); everything it started is stopped on exit."""
    home, data = base / "airflow", base / "data"
    home.mkdir(parents=True, exist_ok=True)
    passwords = base / "passwords.json"
    passwords.write_text(json.dumps({user: password}) + "\n")
    # the three ports in one call: chosen one by one, two of them could be the same (none is bound until
    # standalone's services start)
    port, worker_log_port, trigger_log_port = free_ports(3)
    url = f"http://127.0.0.1:{port}"
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__", "DUBLINE_"))}
    env = {
        **keep,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # standalone runs `airflow`
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": "dubline-standalone-jwt-secret",
        "AIRFLOW__API__SECRET_KEY": "dubline-standalone-secret-key",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(worker_log_port),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(trigger_log_port),
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",  # parsed once: spare the 2 cores
        "DUBLINE_DATA_DIR": str(data),
        "DUBLINE_TASK_RETRIES": "0",
    }
    if os.environ.get("DUBLINE_MODEL_DIR"):  # where the weights are, if not in the default place
        env["DUBLINE_MODEL_DIR"] = os.environ["DUBLINE_MODEL_DIR"]
    env.update(extra_env or {})
    log = base / "standalone.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "airflow", "standalone"],
            env=env,
            cwd=base,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own: stop() ends all of it
        )
    server = Standalone(url=url, home=home, log=log, proc=proc)
    try:
        t0 = time.monotonic()

        def healthy() -> bool:
            try:
                doc = server.call("GET", "/api/v2/monitor/health", auth=False)
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
                return False
            return all((doc.get(c) or {}).get("status") == "healthy" for c in ("metadatabase", "scheduler"))

        server.wait("the api-server's health", healthy, START_TIMEOUT_S)
        server.token = str(
            server.call("POST", "/auth/token", {"username": user, "password": password}, auth=False)["access_token"]
        )
        print(f"\nairflow standalone healthy at {url} after {time.monotonic() - t0:.0f} s", flush=True)
        yield server
    finally:
        stop(proc)
