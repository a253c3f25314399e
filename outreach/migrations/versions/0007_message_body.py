"""message bodies in a table of their own: message_body(message_id, text, html, raw)

A letter's bytes (``raw``) and the text and HTML they were composed from move out of the
``message`` row, which dispatch updates several times per letter (claim, outcome): on SQLite an
update rewrites the whole record, and a record carrying kilobytes of body spills onto overflow
pages written again at each update. Every message gets its body row here; from this revision
on, each is written in the same transaction as its message. PostgreSQL gains nothing (it kept
large values out of line already) and loses nothing measurable.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from outreach.errors import DatabaseError

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _check_sqlite_drops_columns() -> None:
    """SQLite drops a column in place from 3.35 (March 2021) on: refuse older ones at once."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        version = bind.exec_driver_sql("SELECT sqlite_version()").scalar_one()
        if tuple(int(p) for p in version.split(".")[:2]) < (3, 35):
            raise DatabaseError(
                f"this upgrade needs SQLite 3.35 or newer to drop columns; this Python has {version}"
            )


def upgrade() -> None:
    _check_sqlite_drops_columns()
    op.create_table(
        "message_body",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("html", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.execute(
        "INSERT INTO message_body (message_id, text, html, raw) "
        "SELECT id, text, html, raw FROM message"
    )
    # ALTER TABLE … DROP COLUMN on both engines (SQLite >= 3.35), not a batch copy: SQLite's
    # batch would drop and re-create ``message``, and with foreign keys on, dropping it deletes
    # every row that references a message (its approvals, attempts, body) by their cascades
    for column in ("raw", "html", "text"):
        op.execute(f"ALTER TABLE message DROP COLUMN {column}")


def downgrade() -> None:
    # the columns come back as 0006 had them, ``text`` with a server default of '' (an added
    # NOT NULL column needs one); no batch copy, for the reason given in upgrade
    op.add_column(
        "message",
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""),
    )
    op.add_column("message", sa.Column("html", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    op.add_column("message", sa.Column("raw", sa.LargeBinary(), nullable=True))
    op.execute(
        "UPDATE message SET "
        "text = (SELECT b.text FROM message_body b WHERE b.message_id = message.id), "
        "html = (SELECT b.html FROM message_body b WHERE b.message_id = message.id), "
        "raw = (SELECT b.raw FROM message_body b WHERE b.message_id = message.id) "
        "WHERE id IN (SELECT message_id FROM message_body)"
    )
    op.drop_table("message_body")
