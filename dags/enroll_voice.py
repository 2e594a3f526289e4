"""enroll_voice: a person's consented reference recordings in, a voice profile (a cloned voice) out.

Wiring only: each task calls one function of `pipeline.voice.enroll`, imported inside the task so that
parsing this file stays fast and imports no ML library. check_consent refuses (no retries) when no valid
consent covers the person, use, language and today, or when the references are too short or another
person's voice; enroll runs the cloning search (content-addressed: the same inputs are not searched twice);
record checks consent again and writes the profile to the ledger.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import Param, dag, task

RETRIES = int(os.environ.get("DUBLINE_TASK_RETRIES", "2"))


def _stage(fn_name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call pipeline.stages.<module>.<fn>; a user-actionable error fails the task without retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from pipeline.core.config import get_settings
    from pipeline.core.errors import ConfigError, ConsentError, InputError, SetupError
    from pipeline.core.stagerun import invoke_stage

    try:
        return invoke_stage(fn_name, get_settings(), *args, **kwargs)
    except (InputError, ConfigError, ConsentError, SetupError) as e:
        raise AirflowFailException(e.one_line()) from e


@dag(
    dag_id="enroll_voice",
    schedule=None,
    catchup=False,
    max_active_runs=2,
    tags=["dubline", "voices", "consent"],
    default_args={"retries": RETRIES, "retry_delay": timedelta(seconds=30)},
    params={
        "person": Param("", type="string", minLength=1, description="the person's handle in the consent ledger"),
        "references": Param(
            [],
            type="array",
            minItems=1,
            items={"type": "string"},
            description="recordings of the person speaking (paths, file:// or s3:// URIs), 10 s of speech or more",
        ),
        "language": Param("es", type="string", minLength=2, description="ISO 639-1 code the voice will speak"),
        "use": Param(
            "dubbing",
            type="string",
            enum=["dubbing", "audio_description", "audiobook"],
            description="what the voice is for (the consent must cover it)",
        ),
        "backend": Param("", type="string", description="cloning backend; empty = DUBLINE_CLONE_BACKEND"),
        "budget_s": Param(0, type="number", minimum=0, description="seconds the search may take; 0 = the setting"),
    },
    doc_md=__doc__,
)
def enroll_voice() -> None:
    @task
    def check_consent(params: dict[str, Any] | None = None) -> dict[str, Any]:
        assert params is not None
        refs = [str(r) for r in params["references"]]
        return _stage(
            "enroll.check", params["person"], refs, params["language"], params["use"], params["backend"] or None
        )

    @task
    def enroll(checked: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
        assert params is not None
        return _stage("enroll.build", checked, float(params.get("budget_s") or 0) or None)

    @task
    def record(checked: dict[str, Any], built: dict[str, Any]) -> dict[str, Any]:
        return _stage("enroll.record", checked, built)

    checked = check_consent()
    record(checked, enroll(checked))


enroll_voice_dag = enroll_voice()
