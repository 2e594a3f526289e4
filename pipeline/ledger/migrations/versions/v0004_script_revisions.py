"""script_revisions: a reviewer's edit of a job's transcript or translation, applied as a new revision of its
Script (what changed, what it made stale, who edited and who approved).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "script_revisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("input_sha256", sa.String(64), nullable=False, index=True),
        sa.Column("language", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("editor", sa.String(200), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("edit_name", sa.String(500), nullable=False),
        sa.Column("edit_sha256", sa.String(64), nullable=False),
        sa.Column("edit_format", sa.String(20), nullable=False),
        sa.Column("before_sha256", sa.String(64), nullable=False),
        sa.Column("after_sha256", sa.String(64), nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.Column("stale", sa.JSON, nullable=False),
        sa.Column("review", sa.JSON, nullable=True),
        sa.Column("script_uri", sa.Text, nullable=False),
        sa.UniqueConstraint(
            "input_sha256", "language", "kind", "edit_sha256", "before_sha256", name="uq_script_revision"
        ),
    )


def downgrade() -> None:
    op.drop_table("script_revisions")
