"""voice_profiles (a person's cloned voice, built under a consent) and series_voices (the voice each speaker
of a series keeps across episodes, per language).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "voice_profiles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person_id", sa.String(100), sa.ForeignKey("people.id"), nullable=False, index=True),
        sa.Column("backend", sa.String(100), nullable=False),
        sa.Column("languages", sa.JSON, nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("figures", sa.JSON, nullable=False),
        sa.Column("reference_ids", sa.JSON, nullable=False),
        sa.Column("consent_id", sa.Integer, sa.ForeignKey("consents.id"), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "series_voices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("series", sa.String(200), nullable=False, index=True),
        sa.Column("speaker_key", sa.String(100), nullable=False),
        sa.Column("language", sa.String(20), nullable=False),
        sa.Column("engine", sa.String(50), nullable=False),
        sa.Column("voice_id", sa.String(200), nullable=False),
        sa.Column("pitch", sa.Float, nullable=False),
        sa.Column("person_id", sa.String(100), sa.ForeignKey("people.id"), nullable=True),
        sa.Column("embedding", sa.JSON, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("series", "speaker_key", "language", name="uq_series_voice"),
    )


def downgrade() -> None:
    op.drop_table("series_voices")
    op.drop_table("voice_profiles")
