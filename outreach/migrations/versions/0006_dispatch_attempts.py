"""dispatch: the claim's index orders due messages as the claim does — (status, due_at, id)

A claim takes the first due rows of one status ``ORDER BY due_at, id`` (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL). With ``(status, due_at)`` alone PostgreSQL had to read and sort every
due row of that status (all of a campaign's letters share their ``due_at``) to return the first
hundred; with ``id`` in the index it reads just those. SQLite's index already ended with the
rowid (``id``). The ``data_sent`` marks and finished attempts of this version use the existing
``attempt`` table: no other schema change.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_status_due")
        batch_op.create_index("ix_message_status_due_id", ["status", "due_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_status_due_id")
        batch_op.create_index("ix_message_status_due", ["status", "due_at"], unique=False)
