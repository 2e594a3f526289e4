"""Review gates: a person approves (or hands in an edited script for) a job's transcript and translations in
Airflow's "Required Actions" view before the job goes on. Not a DAG file; DAG files import it as
`dubline_review`, as they import dubline_tasks.

`ReviewGate` is Airflow's Human-in-the-loop operator (apache-airflow-providers-standard) with two options,
"Approve" and "Apply edited script", and a form with the edited script's path or URI. It returns the gate's
record, the XCom that the revise tasks hand on to the revision history:

    {"gate": task id, "chosen": "Approve" | "Apply edited script", "approved_by": who responded ("" on a
     timeout or when review is off), "approved_by_id": their Airflow user id, "at": ISO time of the response,
     "timed_out": bool, "auto": bool (review off: nothing waited), "script": str, "scripts": {lang: uri},
     "params_input": the form as submitted}

With the run's param `review` false the gate returns an "auto" record at once and never waits. With it true,
the task waits in AWAITING_INPUT until a response arrives (Airflow's UI, its REST API, or `dubline review`)
or until `response_timeout` (DUBLINE_REVIEW_TIMEOUT_H hours, default 24) has passed: then the default,
Approve, is taken and the record says `timed_out: true` with no `approved_by`. A scheduler resolves timed-out
gates; under `dag.test()` (`dubline dub --review`), which runs no scheduler, the gate itself starts a timer
that resolves it the same way.

Run as a script (`python dags/dubline_review.py list|respond|sweep ...`, Airflow's environment set), it is
what `dubline review` calls to read and answer gates straight in Airflow's metadata database, as the REST
API's response route does. It prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import HITLOperator

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

APPROVE = "Approve"
APPLY = "Apply edited script"
OPTIONS = [APPROVE, APPLY]
GATES = ("review_transcript", "review_translations")

# What the gates show the reviewer (Jinja, rendered when the gate runs; Markdown in Airflow's UI).
TRANSCRIPT_BODY = """\
{% set t = ti.xcom_pull(task_ids='cast') %}\
The transcript of `{{ params.input }}` ({{ t['language'] }}, {{ t['segments'] }} lines, {{ t['speakers'] }} \
speakers) is ready for review before it is translated.

- The Script (JSON): `{{ t['script_uri'] }}`; as SRT or WebVTT to edit: \
`dubline script export '{{ t['script_uri'] }}' --lang {{ t['language'] }}`.
- **Approve**: translate it as it is.
- **Apply edited script**: put the edited file's path or URI (SRT, WebVTT, DAPT or JSON) in `script`; only the \
lines it changes are re-rendered.
- From a terminal: `dubline review approve {{ run_id }}` or \
`dubline review apply {{ run_id }} --script {{ t['language'] }}=edited.srt`.

Without an answer within the time limit the transcript is approved as it is, recorded as timed out.
"""

TRANSLATIONS_BODY = """\
The translations of `{{ params.input }}` are ready for review before they are spoken:
{% set done = ti.xcom_pull(task_ids='translate') or [] %}{% if done is mapping %}{% set done = [done] %}{% endif %}\
{% for t in done %}
- **{{ t['language'] }}**: {{ t['lines'] }} lines, `{{ t['script_uri'] }}` \
(`dubline script export '{{ t['script_uri'] }}' --lang {{ t['language'] }}`)
{%- endfor %}

- **Approve**: synthesize them as they are.
- **Apply edited script**: give the edited files in `scripts`, by language, e.g. `{"es": "/reviews/es.srt"}`.
- From a terminal: `dubline review approve {{ run_id }}` or `dubline review apply {{ run_id }} --script es=es.srt`.

Without an answer within the time limit the translations are approved as they are, recorded as timed out.
"""

log = logging.getLogger(__name__)


def review_timeout() -> timedelta:
    """How long a gate waits for a person: DUBLINE_REVIEW_TIMEOUT_H hours (default 24)."""
    return timedelta(hours=float(os.environ.get("DUBLINE_REVIEW_TIMEOUT_H", "24") or 24))


def record(
    gate: str,
    chosen: str = APPROVE,
    params_input: Mapping[str, Any] | None = None,
    by: Mapping[str, Any] | None = None,
    at: str = "",
    timed_out: bool = False,
    auto: bool = False,
) -> dict[str, Any]:
    """The gate's record (see the module's doc)."""
    form = dict(params_input or {})
    scripts = form.get("scripts") or {}
    return {
        "gate": gate,
        "chosen": chosen,
        "approved_by": str((by or {}).get("name") or ""),
        "approved_by_id": str((by or {}).get("id") or ""),
        "at": at,
        "timed_out": timed_out,
        "auto": auto,
        "script": str(form.get("script") or "").strip(),
        "scripts": {str(k).strip(): str(v).strip() for k, v in dict(scripts).items() if str(v).strip()},
        "params_input": form,
    }


def edited_scripts(review: Mapping[str, Any] | None, source_language: str = "") -> dict[str, str]:
    """The edited scripts a reviewer handed in at a gate, by language (the transcript gate's `script` is the
    source language's)."""
    if not review:
        return {}
    out = {str(k): str(v) for k, v in dict(review.get("scripts") or {}).items() if v}
    if review.get("script") and source_language:
        out[source_language] = str(review["script"])
    return out


class ReviewGate(HITLOperator):
    """A Human-in-the-loop gate that waits only when the run's param `review` is true (see the module)."""

    def __init__(
        self,
        *,
        subject: str,
        body: str,
        params: dict[str, Any] | None = None,
        response_timeout: timedelta | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("retries", 0)  # a response is final: a retry would ask again
        super().__init__(
            subject=subject,
            body=body,
            options=list(OPTIONS),
            defaults=[APPROVE],
            multiple=False,
            params=params,
            response_timeout=response_timeout or review_timeout(),
            **kwargs,
        )

    def execute(self, context: Any) -> Any:
        if not context["params"].get("review"):
            self.log.info("review is off: %s passes without waiting", self.task_id)
            return record(self.task_id, auto=True)
        dag_run = context.get("dag_run")
        if getattr(dag_run, "triggering_user_name", None) == "dag_test" and self.response_timeout:
            # dag.test() runs no scheduler, whose sweep ends a wait that timed out: do it from here
            _start_timeout_timer(self.response_timeout)
        self.log.info("waiting for a review of %s (at most %s)", self.task_id, self.response_timeout)
        from pipeline.core import progress  # `dubline dub --review` shows that it waits, and how to answer

        progress.emit(self.task_id, "start")
        progress.emit(self.task_id, "waiting", run_id=str(context.get("run_id") or ""), body=str(self.body or ""))
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from pipeline.core import progress

        payload = super().execute_complete(context, event)
        progress.emit(self.task_id, "done")
        chosen = (payload.get("chosen_options") or [APPROVE])[0]
        at = payload.get("responded_at")
        done = record(
            self.task_id,
            chosen=chosen,
            params_input=payload.get("params_input") or {},
            by=payload.get("responded_by_user"),
            at=at.isoformat() if hasattr(at, "isoformat") else str(at or ""),
            timed_out=bool(event.get("timedout")),
        )
        if chosen == APPLY and not (done["script"] or done["scripts"]):
            self.log.warning("%s: 'Apply edited script' without a script: approved as it is", self.task_id)
        self.log.info("review %s", json.dumps(done))
        return done


def _start_timeout_timer(timeout: timedelta) -> None:
    timer = threading.Timer(timeout.total_seconds() + 0.5, _sweep_quietly)
    timer.daemon = True
    timer.start()


def _sweep_quietly() -> None:
    try:
        sweep()
    except Exception:  # noqa: BLE001 - a timer thread has nobody to report to but the log
        log.exception("could not resolve timed-out review gates")


# --- answering gates in the metadata database (what `dubline review` runs) -----------------------------


def sweep() -> int:
    """Resolve the gates whose response time has passed, as the scheduler does (Airflow's own sweep): the
    default (Approve) is taken and the gate's record says timed_out. Returns how many were waiting before."""
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    before = len(pending())

    class _Sweeper:  # the sweep uses nothing of the scheduler but its logger
        log = logging.getLogger("dubline.review.sweep")

    SchedulerJobRunner.check_awaiting_input_timeouts(_Sweeper())  # type: ignore[arg-type]
    return before - len(pending())


def _value(param: Any) -> Any:
    return param["value"] if isinstance(param, dict) and "value" in param else param


def pending(run_id: str | None = None, task_id: str | None = None, session: Session | None = None) -> list[Any]:
    """The gates (HITLDetail rows) that wait for a response, oldest first."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    def query(s: Session) -> list[Any]:
        q = (
            select(HITLDetail)
            .join(TaskInstance, HITLDetail.ti_id == TaskInstance.id)
            .where(HITLDetail.responded_at.is_(None))
            .where(TaskInstance.state.in_([TaskInstanceState.AWAITING_INPUT, TaskInstanceState.DEFERRED]))
            .order_by(HITLDetail.created_at)
        )
        if run_id:
            q = q.where(TaskInstance.run_id == run_id)
        if task_id:
            q = q.where(TaskInstance.task_id == task_id)
        return list(s.scalars(q).unique())

    if session is not None:
        return query(session)
    with create_session() as s:
        rows = query(s)
        s.expunge_all()
        return rows


def describe(detail: Any) -> dict[str, Any]:
    ti = detail.task_instance
    return {
        "dag_id": ti.dag_id,
        "run_id": ti.run_id,
        "task_id": ti.task_id,
        "map_index": ti.map_index,
        "since": detail.created_at.isoformat() if detail.created_at else "",
        "timeout_at": ti.trigger_timeout.isoformat() if getattr(ti, "trigger_timeout", None) else "",
        "subject": detail.subject,
        "body": detail.body or "",
        "options": list(detail.options or []),
        "form": {k: _value(v) for k, v in (detail.params or {}).items()},
    }


def respond(
    run_id: str, chosen: str, params_input: Mapping[str, Any], by: str, task_id: str | None = None
) -> dict[str, Any]:
    """Answer the gate of `run_id` that waits (or `task_id`'s): `chosen` with the form's `params_input` (the
    fields not given keep their defaults), on behalf of `by`; the task resumes as after an answer in the UI."""
    from airflow.models.hitl import HITLUser
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import handle_event_submit
    from airflow.triggers.base import TriggerEvent
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    with create_session() as session:
        waiting = pending(run_id, task_id, session=session)
        where = f"run {run_id}" + (f", task {task_id}" if task_id else "")
        if not waiting:
            raise LookupError(f"no review waits in {where} (see `dubline review list`)")
        if len(waiting) > 1:
            tasks = ", ".join(f"{d.task_instance.task_id}[{d.task_instance.map_index}]" for d in waiting)
            raise LookupError(f"{len(waiting)} reviews wait in {where} ({tasks}): give --task")
        detail = waiting[0]
        if chosen not in (detail.options or []):
            raise ValueError(f"{chosen!r} is not one of {detail.options}")
        form = {k: _value(v) for k, v in (detail.params or {}).items()}
        unknown = set(params_input) - set(form)
        if unknown:
            raise ValueError(f"the form of {detail.task_instance.task_id} has no {sorted(unknown)}: {sorted(form)}")
        form.update(params_input)
        ti = session.get(TaskInstance, detail.ti_id)
        detail.responded_by = HITLUser(id=by, name=by)
        detail.responded_at = datetime.now(UTC)
        detail.chosen_options = [chosen]
        detail.params_input = form
        session.add(detail)
        if ti is not None and ti.state in (TaskInstanceState.AWAITING_INPUT, TaskInstanceState.DEFERRED):
            handle_event_submit(TriggerEvent(detail.as_resume_event_payload()), task_instance=ti, session=session)
        out = describe(detail)
        out.update({"chosen": chosen, "params_input": form, "responded_by": by})
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dubline_review", description="Answer dubline's review gates.")
    sub = parser.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="the gates that wait for a person")
    ls.add_argument("--run-id", default=None)
    answer = sub.add_parser("respond", help="answer a gate")
    answer.add_argument("run_id")
    answer.add_argument("--task", default=None)
    answer.add_argument("--chosen", default=APPROVE)
    answer.add_argument("--input", default="{}", help="the form's fields, as JSON")
    answer.add_argument("--by", required=True)
    sub.add_parser("sweep", help="resolve the gates whose time has passed (Approve, recorded as timed out)")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            sweep()
            doc: Any = [describe(d) for d in pending(args.run_id)]
        elif args.command == "respond":
            doc = respond(args.run_id, args.chosen, json.loads(args.input), args.by, args.task)
        else:
            doc = {"resolved": sweep()}
    except (LookupError, ValueError) as e:
        print(json.dumps({"error": str(e)}))
        return 2
    print(json.dumps(doc))
    return 0


if __name__ == "__main__":  # pragma: no cover - run by `dubline review` in a subprocess
    sys.exit(main())
