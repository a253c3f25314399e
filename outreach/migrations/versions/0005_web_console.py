"""web console: accounts, sessions, tokens, sign-in attempts; approval channel and login;
campaign review_channel; per-message unsubscribe token hash; job run duration

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import outreach.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString
_WHEN = outreach.models.UTCDateTime


def upgrade() -> None:
    _create_account_tables()
    _create_session_tables()
    _add_columns()


def _create_account_tables() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", _TEXT(length=100), nullable=False),
        sa.Column("role", _TEXT(length=20), nullable=False),
        sa.Column("password_hash", _TEXT(length=300), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _WHEN(timezone=True), nullable=False),
        sa.Column("updated_at", _WHEN(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "account_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", _TEXT(length=20), nullable=False),
        sa.Column("token_hash", _TEXT(length=64), nullable=False),
        sa.Column("created_at", _WHEN(timezone=True), nullable=False),
        sa.Column("expires_at", _WHEN(timezone=True), nullable=True),
        sa.Column("used_at", _WHEN(timezone=True), nullable=True),
        sa.Column("revoked_at", _WHEN(timezone=True), nullable=True),
        sa.Column("last_used_at", _WHEN(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("account_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_token_account_id"), ["account_id"])


def _create_session_tables() -> None:
    op.create_table(
        "web_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", _TEXT(length=64), nullable=False),
        sa.Column("created_at", _WHEN(timezone=True), nullable=False),
        sa.Column("last_seen_at", _WHEN(timezone=True), nullable=False),
        sa.Column("expires_at", _WHEN(timezone=True), nullable=False),
        sa.Column("revoked_at", _WHEN(timezone=True), nullable=True),
        sa.Column("address", _TEXT(length=64), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_session_account_id"), ["account_id"])
    op.create_table(
        "sign_in_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _WHEN(timezone=True), nullable=False),
        sa.Column("account_name", _TEXT(length=100), nullable=False),
        sa.Column("address", _TEXT(length=64), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sign_in_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_sign_in_attempt_name", ["account_name", "at"])
        batch_op.create_index("ix_sign_in_attempt_address", ["address", "at"])


def _add_columns() -> None:
    with op.batch_alter_table("approval", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", _TEXT(length=10), nullable=False, server_default="cli")
        )
        batch_op.add_column(sa.Column("login", _TEXT(length=200), nullable=True))
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("review_channel", _TEXT(length=10), nullable=False, server_default="any")
        )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unsubscribe_token_hash", _TEXT(length=64), nullable=True))
        batch_op.create_unique_constraint(
            "uq_message_unsubscribe_token_hash", ["unsubscribe_token_hash"]
        )
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        # last_success_at came with 0004 (personal data and health)
        batch_op.add_column(sa.Column("last_duration", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        batch_op.drop_column("last_duration")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_constraint("uq_message_unsubscribe_token_hash", type_="unique")
        batch_op.drop_column("unsubscribe_token_hash")
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_column("review_channel")
    with op.batch_alter_table("approval", schema=None) as batch_op:
        batch_op.drop_column("login")
        batch_op.drop_column("channel")
    op.drop_table("sign_in_attempt")
    op.drop_table("web_session")
    op.drop_table("account_token")
    op.drop_table("account")
