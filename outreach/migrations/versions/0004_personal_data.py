"""personal data and health: contact.erased_at, inbound.reduced_at, job_run.last_success_at

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import outreach.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _moment(name: str) -> sa.Column:
    return sa.Column(name, outreach.models.UTCDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(_moment("erased_at"))
    with op.batch_alter_table("inbound", schema=None) as batch_op:
        batch_op.add_column(_moment("reduced_at"))
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        batch_op.add_column(_moment("last_success_at"))
    # a run that ended well before this revision counts as its last success
    op.execute(
        "UPDATE job_run SET last_success_at = finished_at "
        "WHERE outcome IN ('ok', 'skipped') AND finished_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        batch_op.drop_column("last_success_at")
    with op.batch_alter_table("inbound", schema=None) as batch_op:
        batch_op.drop_column("reduced_at")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
