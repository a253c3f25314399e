"""letters, attachments and calendar events: campaign.letters, step.letter/attachments/calendar,
milestone start_time/end_time/timezone/sequence

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(sa.Column("letters", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("step", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("letter", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )
        batch_op.add_column(
            sa.Column("attachments", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column("calendar", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
    with op.batch_alter_table("milestone", schema=None) as batch_op:
        batch_op.add_column(sa.Column("start_time", sa.Time(), nullable=True))
        batch_op.add_column(sa.Column("end_time", sa.Time(), nullable=True))
        batch_op.add_column(
            sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("milestone", schema=None) as batch_op:
        batch_op.drop_column("sequence")
        batch_op.drop_column("timezone")
        batch_op.drop_column("end_time")
        batch_op.drop_column("start_time")
    with op.batch_alter_table("step", schema=None) as batch_op:
        batch_op.drop_column("calendar")
        batch_op.drop_column("attachments")
        batch_op.drop_column("letter")
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_column("letters")
