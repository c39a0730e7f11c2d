"""Running bot processes and their fingerprints (bot/replicas.py).

Revision ID: 0005_replicas
Revises: 0005_haastepaja
Create Date: 2026-11-30 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005_replicas"
down_revision: str | None = "0005_haastepaja"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "replica",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=96), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("knowledge", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("schema_head", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("webhook", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("replica")
