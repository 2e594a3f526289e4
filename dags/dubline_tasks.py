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
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec

if TYPE_CHECKING:
    from pipeline.core.config import Settings
    from pipeline.core.stagerun import Contract

RETRIES = int(os.environ.get("DUBLINE_TASK_RETRIES", "2"))
DEFAULT_ARGS: dict[str, Any] = {"retries": RETRIES, "retry_delay": timedelta(seconds=30)}

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
        return call_stage(fn, get_settings(), *args, **kwargs).to_xcom()
    except (InputError, ConfigError, ConsentError, SetupError) as e:
        raise AirflowFailException(e.one_line()) from e


def fail_fast(error: Exception) -> Exception:
    """A user-actionable error raised outside a stage, as a task failure without retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from pipeline.core.errors import DublineError

    return AirflowFailException(error.one_line() if isinstance(error, DublineError) else str(error))
