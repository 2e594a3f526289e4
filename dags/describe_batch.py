"""describe_batch: a folder or S3 prefix of videos and their description scripts (paired by base name) in, one
`describe_video` run per pair out (dynamic task mapping: one mapped `start` task instance per pair).

`pairs` lists the folder (pipeline/products/description/batch.py), checks the batch's settings once and gives
each pair's run; `start` triggers them, with a run id made from the pair and the settings (a run already there
is skipped, not started again), and does not wait for them: each run is retried and resumed on its own.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, task
from dubline_tasks import DEFAULT_ARGS, XCom, fail_fast, placed


@dag(
    dag_id="describe_batch",
    schedule=None,
    catchup=False,
    max_active_runs=1,
    tags=["dubline", "audio_description"],
    default_args=DEFAULT_ARGS,
    params={
        "folder": Param(
            "", type="string", minLength=1, description="folder, file:// or s3:// prefix of videos and scripts"
        ),
        "output": Param(
            "", type="string", description="where each video's outputs go, in <output>/<video name>; empty = store"
        ),
        "extended": Param(False, type="boolean", description="also render extended description"),
        "voice": Param("", type="string", description="describer of every video (ENGINE:VOICE or person:ID)"),
        "style": Param("", type="string", enum=["", "neutral", "calm", "warm", "serious"]),
        "language": Param("", type="string", description="ISO 639-1 code; empty = each script's or programme's"),
        "bed": Param(
            "", type="string", description="a bed under every programme's silent stretches (compose:MOOD, ...)"
        ),
    },
    doc_md=__doc__,
)
def describe_batch() -> None:
    @task
    def pairs(params: dict[str, Any] | None = None) -> list[XCom]:
        from pipeline.core.config import get_settings
        from pipeline.core.errors import ConfigError, InputError
        from pipeline.products.description import batch

        p = dict(params or {})
        keys = ("extended", "voice", "style", "language", "bed")
        defaults = {k: p.get(k) for k in keys if p.get(k) not in (None, "")}
        try:
            return batch.pairs(get_settings(), str(p.get("folder") or ""), str(p.get("output") or ""), defaults)
        except (InputError, ConfigError) as e:  # the folder or the settings are wrong: no retries
            raise fail_fast(e) from e

    found: Any = pairs()  # an XComArg: a list of {"trigger_run_id", "conf"}, one per pair
    TriggerDagRunOperator.partial(
        task_id="start",
        trigger_dag_id="describe_video",
        wait_for_completion=False,
        skip_when_already_exists=True,
        openlineage_inject_parent_info=False,  # the conf is a DescribeRequest: no other keys
        map_index_template="{{ task.trigger_run_id }}",
    ).expand_kwargs(found)


describe_batch_dag = placed(describe_batch())
