"""What a job's provenance manifests (pipeline.ledger.provenance) and its C2PA manifest
(pipeline.ledger.signing) both state about it: the DAG run and task that made an output, the consent records
its voices were used under, and the models, in one shape for both.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.ledger.tables import Consent


def run_context() -> dict[str, str | None]:
    """The Airflow DAG run and task this process is executing (Airflow exports them to the environment)."""
    env = os.environ
    return {
        "dag_id": env.get("AIRFLOW_CTX_DAG_ID"),
        "run_id": env.get("AIRFLOW_CTX_DAG_RUN_ID"),
        "task_id": env.get("AIRFLOW_CTX_TASK_ID"),
        "try_number": env.get("AIRFLOW_CTX_TRY_NUMBER"),
    }


def consent_docs(s: Session, ids: list[int]) -> list[dict[str, Any]]:
    """The consent records `ids` as manifests list them (person, uses, languages, projects, validity and the
    sha256 of the consent recording), by id."""
    out = []
    for c in s.scalars(select(Consent).where(Consent.id.in_(ids)).order_by(Consent.id)):
        out.append(
            {
                "id": c.id,
                "person": c.person_id,
                "uses": c.uses,
                "languages": c.languages,
                "projects": c.projects,
                "valid_from": c.valid_from.isoformat(),
                "valid_until": c.valid_until.isoformat() if c.valid_until else None,
                "recording_sha256": c.recording_sha256,
            }
        )
    return out


def model_entries(stage_results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The models the stage results name (ASR, MT, TTS: role, id, version, weights sha256, and the language
    and voice where they apply), each once, in order."""
    out: list[dict[str, Any]] = []
    for r in stage_results:
        for field, role in (
            ("model", "asr"),
            ("engine", {"translate": "mt", "synthesize": "tts"}.get(r.get("stage", ""))),
        ):
            m = r.get(field)
            if isinstance(m, dict) and m.get("id") and role:
                entry = {"role": role, "id": m["id"], "version": m.get("version", ""), "sha256": m.get("sha256", "")}
                if r.get("language"):
                    entry["language"] = r["language"]
                if role == "tts" and r.get("voice"):
                    entry["voice"] = r["voice"]
                if entry not in out:
                    out.append(entry)
    return out
