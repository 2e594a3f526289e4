"""What every dubline DAG file shares: how a task calls a stage, and the retry policy.

Not a DAG file itself (`.airflowignore` keeps the DAG processor from parsing it as one). Airflow puts the
DAGs folder on `sys.path` for the scheduler, the DAG processor and the workers, so DAG files import it as
`dubline_tasks`; so do `dubline dub` (pipeline/cli/runner.py) and the DAG tests.

A task receives and returns XCom documents (`XCom`: the JSON a contract serializes to, since XCom carries
JSON, not Python objects); inside the task they are the typed contracts of `pipeline`, and `run` calls
the stage function by reference, so mypy checks each call against the stage's signature. Nothing heavy is
imported at parse time: `pipeline` is imported when a task runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

if TYPE_CHECKING:
    from airflow.sdk import DAG

    from pipeline.core.config import Settings
    from pipeline.core.stagerun import Contract

RETRIES = int(os.environ.get("DUBLINE_TASK_RETRIES", "2"))
# seconds between a failed try and the next (read at parse time, like RETRIES); the cluster's fault tests lower it
RETRY_DELAY_S = float(os.environ.get("DUBLINE_TASK_RETRY_DELAY_S", "30"))
DEFAULT_ARGS: dict[str, Any] = {"retries": RETRIES, "retry_delay": timedelta(seconds=RETRY_DELAY_S)}

# Tasks that hold the cores (or a GPU) for long: speech recognition, the LLM's translation, synthesis with its
# QA, separation, cloning. On a cluster they go to DUBLINE_HEAVY_QUEUE and DUBLINE_HEAVY_POOL (docker/cluster.env).
HEAVY_TASKS = frozenset({"transcribe", "translate", "synthesize", "separate", "voice", "narrate", "enroll"})


def _stage_queues(value: str) -> dict[str, str]:
    """DUBLINE_STAGE_QUEUES: `task=queue,task=queue` (or a JSON object), e.g. `transcribe=gpu,synthesize=gpu`."""
    import json

    value = value.strip()
    if value.startswith("{"):
        routes = json.loads(value)
    else:
        pairs = [p.split("=", 1) for p in value.split(",") if p.strip()]
        if any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs):
            raise ValueError(f"DUBLINE_STAGE_QUEUES={value!r}: write task=queue pairs, e.g. transcribe=gpu")
        routes = {k.strip(): v.strip() for k, v in pairs}
    if not isinstance(routes, dict) or not all(isinstance(v, str) and v for v in routes.values()):
        raise ValueError(f"DUBLINE_STAGE_QUEUES={value!r}: a task -> queue mapping of non-empty names")
    return routes


def placement(task_id: str) -> dict[str, Any]:
    """The `queue` and `pool` of a task, as the DAG processor's environment says (read at parse time; the
    scheduler routes by what was parsed): DUBLINE_STAGE_QUEUES first (an operator's route, e.g. to `gpu`), else
    DUBLINE_HEAVY_QUEUE for a heavy task; DUBLINE_HEAVY_POOL for a heavy task. Unset (the default, and `dubline
    dub`), Airflow's default queue and pool: a pool that does not exist would keep a task from ever running."""
    heavy = task_id in HEAVY_TASKS
    queue = _stage_queues(os.environ.get("DUBLINE_STAGE_QUEUES", "")).get(task_id) or (
        os.environ.get("DUBLINE_HEAVY_QUEUE", "").strip() if heavy else ""
    )
    pool = os.environ.get("DUBLINE_HEAVY_POOL", "").strip() if heavy else ""
    return {**({"queue": queue} if queue else {}), **({"pool": pool} if pool else {})}


D = TypeVar("D", bound="DAG")


def placed(dag: D) -> D:
    """`dag` with every task's queue and pool set by `placement` (each DAG file wraps its DAG in it)."""
    for t in dag.tasks:
        for attr, value in placement(t.task_id).items():
            setattr(t, attr, value)
    return dag

# A contract's JSON document as it travels through XCom (the one untyped boundary: Airflow's).
XCom = dict[str, Any]

P = ParamSpec("P")


def run(fn: Callable[Concatenate[Settings, P], Contract], *args: P.args, **kwargs: P.kwargs) -> XCom:
    """Run stage `fn` with the current settings (the project database checked first). A user-actionable
    error (bad input, configuration, consent, set-up) fails the task without retries; an engine or storage
    failure lets Airflow retry it."""
    from airflow.sdk.exceptions import AirflowFailException

    from pipeline.core.config import get_settings
    from pipeline.core.errors import ConfigError, ConsentError, InputError, SetupError
    from pipeline.stages.common import call_stage

    try:
        return call_stage(fn, job_settings(get_settings()), *args, **kwargs).to_xcom()
    except (InputError, ConfigError, ConsentError, SetupError) as e:
        raise AirflowFailException(e.one_line()) from e


def job_settings(settings: Settings) -> Settings:
    """`settings` under the run's `profile` param where it names one (else the workers' DUBLINE_PROFILE)."""
    from collections.abc import Mapping

    from airflow.sdk import get_current_context

    try:
        params = get_current_context().get("params")
    except RuntimeError:  # outside a running task (a direct call): no run params
        return settings
    profile = str(params.get("profile") or "").strip() if isinstance(params, Mapping) else ""
    return settings.with_profile(profile) if profile else settings


def fail_fast(error: Exception) -> Exception:
    """A user-actionable error raised outside a stage, as a task failure without retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from pipeline.core.errors import DublineError

    return AirflowFailException(error.one_line() if isinstance(error, DublineError) else str(error))
