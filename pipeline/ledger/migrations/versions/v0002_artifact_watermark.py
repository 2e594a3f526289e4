"""artifacts.watermark: the payload of the inaudible mark a dub track carries (`dubline detect` looks it up).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("artifacts") as batch:
        batch.add_column(sa.Column("watermark", sa.BigInteger, nullable=True))
        batch.create_index("ix_artifacts_watermark", ["watermark"])


def downgrade() -> None:
    with op.batch_alter_table("artifacts") as batch:
        batch.drop_index("ix_artifacts_watermark")
        batch.drop_column("watermark")
