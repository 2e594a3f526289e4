"""The consent and provenance ledger: people, voice references, consents and their events, jobs,
artifacts with their inputs and consents, and the hash-chained audit log.

A database made by an earlier dubline (a `jobs` table from create_all, no Alembic version) keeps its
job records: the table is taken over as it is.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "voice_references",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person_id", sa.String(100), sa.ForeignKey("people.id"), nullable=False, index=True),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("embedding", sa.JSON, nullable=False),
        sa.Column("embedding_model", sa.JSON, nullable=False),
        sa.Column("supplied_by", sa.String(200), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("person_id", "sha256", name="uq_voice_ref_person_sha"),
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person_id", sa.String(100), sa.ForeignKey("people.id"), nullable=False, index=True),
        sa.Column("uses", sa.JSON, nullable=False),
        sa.Column("languages", sa.JSON, nullable=False),
        sa.Column("projects", sa.JSON, nullable=True),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_until", sa.Date, nullable=True),
        sa.Column("statement", sa.Text, nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("requested_at", TZ, nullable=False),
        sa.Column("granted_at", TZ, nullable=True),
        sa.Column("recording_uri", sa.Text, nullable=True),
        sa.Column("recording_sha256", sa.String(64), nullable=True),
        sa.Column("verification", sa.JSON, nullable=True),
    )
    op.create_table(
        "consent_references",
        sa.Column("consent_id", sa.Integer, sa.ForeignKey("consents.id"), primary_key=True),
        sa.Column("reference_id", sa.Integer, sa.ForeignKey("voice_references.id"), primary_key=True),
    )
    op.create_table(
        "consent_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("consent_id", sa.Integer, sa.ForeignKey("consents.id"), nullable=False, index=True),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("details", sa.JSON, nullable=True),
    )
    if not sa.inspect(op.get_bind()).has_table("jobs"):
        op.create_table(
            "jobs",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("dag_id", sa.String(100), nullable=False),
            sa.Column("run_id", sa.String(250), nullable=True),
            sa.Column("input", sa.Text, nullable=False),
            sa.Column("params", sa.JSON, nullable=False),
            sa.Column("status", sa.String(20), nullable=False),
            sa.Column("started_at", TZ, nullable=False),
            sa.Column("finished_at", TZ, nullable=True),
            sa.Column("wall_s", sa.Float, nullable=True),
            sa.Column("error", sa.Text, nullable=True),
            sa.Column("outputs", sa.JSON, nullable=True),
        )
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("stage", sa.String(50), nullable=False),
        sa.Column("models", sa.JSON, nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=True),
        sa.Column("run_id", sa.String(250), nullable=True),
        sa.Column("task_id", sa.String(250), nullable=True),
        sa.Column("manifest", sa.JSON, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("flag", sa.String(30), nullable=True),
        sa.Column("flag_reason", sa.Text, nullable=True),
        sa.Column("flagged_at", TZ, nullable=True),
    )
    op.create_index("ix_artifacts_uri", "artifacts", ["uri"])
    op.create_table(
        "artifact_inputs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("artifact_id", sa.Integer, sa.ForeignKey("artifacts.id"), nullable=False, index=True),
        sa.Column("role", sa.String(50), nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("input_artifact_id", sa.Integer, sa.ForeignKey("artifacts.id"), nullable=True),
    )
    op.create_table(
        "artifact_consents",
        sa.Column("artifact_id", sa.Integer, sa.ForeignKey("artifacts.id"), primary_key=True),
        sa.Column("consent_id", sa.Integer, sa.ForeignKey("consents.id"), primary_key=True, index=True),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("entity", sa.String(50), nullable=False),
        sa.Column("entity_id", sa.String(100), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": "0" * 64}])


def downgrade() -> None:
    for table in (
        "audit_head",
        "audit_log",
        "artifact_consents",
        "artifact_inputs",
        "artifacts",
        "consent_events",
        "consent_references",
        "consents",
        "voice_references",
        "people",
    ):
        op.drop_table(table)
    # jobs stays: it may hold records from before the ledger
