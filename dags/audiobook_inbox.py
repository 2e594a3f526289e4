"""audiobook_inbox: on a schedule, one `audiobook` run per new manuscript of an inbox (a folder or S3 prefix).

`find` lists the inbox (`inbox` param, else DUBLINE_AUDIOBOOK_INBOX; neither set: the run is skipped),
hashes each manuscript's content and claims each new hash in the project's object store
(`inbox/claims/<sha256>.json`, see pipeline/products/audiobook/inbox.py): the same content is never started
twice, even under another name, while an edited manuscript (another hash) is started again. `start_book`
triggers one `audiobook` run per claim, with the run id `inbox__<sha256[:16]>` (a run of that id already
there is skipped, not started again) and does not wait for it.

The schedule is DUBLINE_AUDIOBOOK_INBOX_SCHEDULE as the DAG processor sees it (default @hourly); one run at
a time, which also serialises the claims where the store (S3) has no atomic create.
"""

from __future__ import annotations

import os
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, task
from dubline_tasks import DEFAULT_ARGS, XCom, fail_fast, placed

SCHEDULE = os.environ.get("DUBLINE_AUDIOBOOK_INBOX_SCHEDULE", "").strip() or "@hourly"


@dag(
    dag_id="audiobook_inbox",
    schedule=SCHEDULE,
    catchup=False,
    max_active_runs=1,
    tags=["dubline", "audiobook"],
    default_args=DEFAULT_ARGS,
    params={
        "inbox": Param(
            "",
            type="string",
            description="folder, file:// or s3:// prefix to watch; empty = DUBLINE_AUDIOBOOK_INBOX (neither: skip)",
        ),
        "output": Param(
            "",
            type="string",
            description="where books go, each in <output>/<manuscript name>; empty = DUBLINE_AUDIOBOOK_OUTPUT, "
            "else the store",
        ),
        "voice": Param("", type="string", description="narrator of every book (ENGINE:VOICE or person:ID)"),
        "ident": Param(
            "",
            type="string",
            enum=["", "calm", "bright", "tense", "sad"],
            description="a composed ident opening and a bed closing every book; empty = none",
        ),
        "style": Param(
            "",
            type="string",
            enum=["", "neutral", "warm", "excited", "calm", "serious"],
            description="delivery style of every book; empty = neutral",
        ),
        "language": Param("", type="string", description="ISO 639-1 code; empty = each manuscript's metadata"),
        "settle_s": Param(
            60,
            type="integer",
            minimum=0,
            description="a local file modified in the last this many seconds is left for the next run "
            "(it may still be being copied in)",
        ),
    },
    doc_md=__doc__,
)
def audiobook_inbox() -> None:
    @task
    def find(params: dict[str, Any] | None = None) -> list[XCom]:
        import logging

        from airflow.sdk.exceptions import AirflowSkipException

        from pipeline.core.config import get_settings
        from pipeline.core.errors import ConfigError, InputError
        from pipeline.products.audiobook import inbox

        p = dict(params or {})
        location = str(p.get("inbox") or os.environ.get("DUBLINE_AUDIOBOOK_INBOX", "")).strip()
        if not location:
            logging.getLogger(__name__).info("no inbox: set DUBLINE_AUDIOBOOK_INBOX or the `inbox` param")
            raise AirflowSkipException("no inbox set (DUBLINE_AUDIOBOOK_INBOX or the inbox param)")
        output = str(p.get("output") or os.environ.get("DUBLINE_AUDIOBOOK_OUTPUT", "")).strip()
        defaults = {k: p.get(k) or "" for k in ("voice", "style", "language", "ident")}
        try:
            return inbox.pending(get_settings(), location, output, defaults, settle_s=float(p.get("settle_s") or 0))
        except (InputError, ConfigError) as e:  # the inbox or the defaults are wrong: no retries
            raise fail_fast(e) from e  # (a storage failure, StageError, is retried)

    started: Any = find()  # an XComArg: a list of {"trigger_run_id", "conf"}, one per new manuscript
    TriggerDagRunOperator.partial(
        task_id="start_book",
        trigger_dag_id="audiobook",
        wait_for_completion=False,
        skip_when_already_exists=True,
        openlineage_inject_parent_info=False,  # the conf is a BookRequest: no other keys
        map_index_template="{{ task.trigger_run_id }}",
    ).expand_kwargs(started)


audiobook_inbox_dag = placed(audiobook_inbox())
