"""Helpers the stages share: reading and writing Scripts, and `call_stage`, the entry a DAG task calls a
stage through."""

from __future__ import annotations

from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from pipeline.core.config import Settings
from pipeline.core.errors import DublineError
from pipeline.core.script import Script
from pipeline.core.stagerun import StageRun, report_failure
from pipeline.core.storage import ObjectStore, key_of


def load_script(store: ObjectStore, uri: str) -> Script:
    return Script.from_json(store.get_bytes(key_of(store, uri)))


def save_script(run: StageRun, script: Script, name: str = "script.json") -> str:
    return run.put_bytes(name, script.to_json())


P = ParamSpec("P")
T = TypeVar("T")


def call_stage(fn: Callable[Concatenate[Settings, P], T], settings: Settings, *args: P.args, **kwargs: P.kwargs) -> T:
    """What a DAG task runs: the project database checked first (a task refuses an un-migrated one; checked
    once per process), then the stage function; a user-facing error raised before or inside the stage's
    transaction is reported once (a progress 'failed' event) and re-raised. Typed end to end: mypy checks a
    DAG's call against the stage's signature."""
    from pipeline.ledger import db

    try:
        db.require_ready(settings)
        return fn(settings, *args, **kwargs)
    except DublineError as e:
        report_failure(fn.__name__, e)
        raise
