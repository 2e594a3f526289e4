"""Runs a DAG of dags/ in-process with `dag.test()` on the embedded defaults: no Airflow server, no
database server. Airflow's metadata lives in SQLite under the data folder; the first run migrates it.

The one place `pipeline` touches Airflow, and it imports none of it: the DAG file is loaded by path, as
Airflow's own DAG processor loads it (with the DAGs folder on sys.path, so that it finds dubline_tasks),
and Airflow's database is migrated by its own command in a subprocess.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.core import progress
from pipeline.core.config import Settings
from pipeline.core.errors import DublineError, SetupError, StageError


def airflow_env(settings: Settings) -> dict[str, str]:
    home = settings.resolved_airflow_home
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.resolved_dags_dir),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
        "DUBLINE_TASK_RETRIES": "0",
    }


def prepare_airflow(settings: Settings) -> None:
    """Point Airflow at the data folder and migrate its SQLite database once (a stamp marks it done)."""
    env = airflow_env(settings)
    for k, v in env.items():
        os.environ.setdefault(k, v) if k == "AIRFLOW__LOGGING__LOGGING_LEVEL" else os.environ.__setitem__(k, v)
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    from importlib.metadata import version

    stamp = home / f".migrated-{version('apache-airflow')}"
    if stamp.exists():
        return
    proc = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env={**os.environ, **env}, capture_output=True, text=True
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise SetupError(
            f"could not migrate Airflow's database in {home}: {tail}",
            "remove that folder and try again, or check AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        )
    stamp.write_text("ok\n")


def load_dag(settings: Settings, dag_id: str) -> Any:
    path = settings.resolved_dags_dir / f"{dag_id}.py"
    if not path.is_file():
        raise SetupError(f"DAG file {path} not found", "set DUBLINE_DAGS_DIR to the dags/ folder of dubline")
    folder = str(path.parent)
    if folder not in sys.path:  # as Airflow does: DAG files import their helper module (dubline_tasks)
        sys.path.append(folder)
    spec = importlib.util.spec_from_file_location(f"dubline_dag_{dag_id}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, f"{dag_id}_dag")


@contextlib.contextmanager
def redirect_output(log_path: Path | None) -> Iterator[None]:
    """Send everything written to fd 1 and 2 (Airflow's task logs) to a file, if given."""
    if log_path is None:
        yield
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def run_dag(
    settings: Settings, dag_id: str, conf: dict[str, Any], log_path: Path | None = None, label: str | None = None
) -> dict[str, Any]:
    """Run one DAG run in-process. Returns {'state', 'run_id', 'wall_s', 'published', 'errors'}; raises
    the first user-facing error when the run failed because of one. `label` is the job's input as
    `dubline jobs` lists it (default: conf's "input")."""
    from pipeline.ledger import db

    # The project's database first: one that is down or not migrated stops the job before anything runs,
    # and leaves no job record behind. (The embedded default migrates itself here on first use.)
    job_id = db.start_job(settings, dag_id, label if label is not None else str(conf.get("input", "")), conf)
    try:
        prepare_airflow(settings)
        with _every_core_for_engines():
            result = _run_dag(settings, dag_id, conf, log_path)
    except BaseException as e:
        db.finish_job(settings, job_id, "failed", error=e.one_line() if isinstance(e, DublineError) else repr(e))
        raise
    db.finish_job(
        settings,
        job_id,
        "success",
        run_id=result["run_id"],
        wall_s=result["wall_s"],
        # presigned links grant read access until they expire: they are not kept in the database
        outputs={k: v for k, v in result["published"].items() if k != "links"},
    )
    return result


@contextlib.contextmanager
def _every_core_for_engines() -> Iterator[None]:
    """dag.test() runs the tasks one at a time, so each engine may use every core (models.system.engine_threads)
    unless the operator set DUBLINE_ENGINE_THREADS; the process environment is as before afterwards."""
    if "DUBLINE_ENGINE_THREADS" in os.environ:
        yield
        return
    os.environ["DUBLINE_ENGINE_THREADS"] = str(os.cpu_count() or 1)
    try:
        yield
    finally:
        os.environ.pop("DUBLINE_ENGINE_THREADS", None)


def _run_dag(settings: Settings, dag_id: str, conf: dict[str, Any], log_path: Path | None) -> dict[str, Any]:
    errors: list[tuple[str, str, int]] = []
    published: dict[str, Any] = {}

    def listen(stage: str, event: str, info: dict[str, Any]) -> None:
        if event == "failed":
            errors.append((stage, str(info.get("error", "")), int(info.get("exit_code", 1))))
        if stage == "publish" and event == "done":
            published.update(info)

    unsubscribe = progress.subscribe(listen)
    t0 = time.perf_counter()
    captured: list[BaseException] = []
    try:
        with redirect_output(log_path):
            dag = load_dag(settings, dag_id)
            try:
                dr = dag.test(run_conf=conf)
            except BaseException as e:  # noqa: BLE001 - reported below with the log's location
                captured.append(e)
                dr = None
    finally:
        unsubscribe()
    wall = time.perf_counter() - t0
    state = str(getattr(dr, "state", "failed"))
    if captured or state != "success":
        first = _first_user_error(errors)
        if first is not None:
            raise first
        where = f"; see {log_path}" if log_path else ""
        detail = errors[0][1] if errors else (repr(captured[0]) if captured else f"run ended {state}")
        raise StageError(f"the {dag_id} run failed: {detail}{where}")
    return {
        "state": state,
        "run_id": getattr(dr, "run_id", ""),
        "wall_s": round(wall, 2),
        "published": published,
        "errors": errors,
    }


class _Replayed(DublineError):
    """A stage's user-facing error, carried out of the DAG run with its message and exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def one_line(self) -> str:
        return self.message


def _first_user_error(errors: list[tuple[str, str, int]]) -> DublineError | None:
    for _stage, text, code in errors:
        if text:
            return _Replayed(text, code)
    return None
