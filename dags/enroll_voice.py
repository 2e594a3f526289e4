"""enroll_voice: a person's consented reference recordings in, a voice profile (a cloned voice) out.

Wiring only: each task calls one function of `pipeline.voice.enroll` by reference (dubline_tasks.run),
imported inside the task so that parsing this file stays fast and imports no ML library; the params are
validated into an `EnrollRequest`. check_consent refuses (no retries) when no valid
consent covers the person, use, language and today, or when the references are too short or another
person's voice; enroll runs the cloning search (content-addressed: the same inputs are not searched twice);
record checks consent again and writes the profile to the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk import Param, dag, task
from dubline_tasks import DEFAULT_ARGS, XCom, fail_fast, placed, run

if TYPE_CHECKING:
    from pipeline.voice.contracts import EnrollRequest


def _request(params: Mapping[str, object] | None) -> EnrollRequest:
    from pipeline.core.errors import DublineError
    from pipeline.voice.contracts import EnrollRequest

    try:
        return EnrollRequest.from_params(dict(params or {}))
    except DublineError as e:
        raise fail_fast(e) from e


@dag(
    dag_id="enroll_voice",
    schedule=None,
    catchup=False,
    max_active_runs=2,
    tags=["dubline", "voices", "consent"],
    default_args=DEFAULT_ARGS,
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
    def check_consent(params: dict[str, object] | None = None) -> XCom:
        from pipeline.voice import enroll
        req = _request(params)
        return run(enroll.check, req.person, req.references, req.language, req.use, req.backend or None)

    @task
    def enroll(checked: XCom, params: dict[str, object] | None = None) -> XCom:
        from pipeline.voice import enroll
        from pipeline.voice.contracts import EnrollChecked

        return run(enroll.build, EnrollChecked.from_xcom(checked), _request(params).budget_s or None)

    @task
    def record(checked: XCom, built: XCom) -> XCom:
        from pipeline.voice import enroll
        from pipeline.voice.contracts import EnrollBuilt, EnrollChecked

        return run(enroll.record, EnrollChecked.from_xcom(checked), EnrollBuilt.from_xcom(built))

    checked: Any = check_consent()  # an XComArg: Airflow hands the task its XCom document at run time
    built: Any = enroll(checked)
    record(checked, built)


enroll_voice_dag = placed(enroll_voice())
