"""The tables (DESIGN.md §Storage), as SQLModel classes.

Every timestamp is stored timezone-aware in UTC (:class:`UTCDateTime` makes SQLite, which has
no time zones, behave like PostgreSQL's ``timestamptz``). Status columns are plain strings
holding the values of the enums in :mod:`outreach.states` (no native enum types: adding a state
must not need a type migration). Schema changes go through the Alembic migrations in
``outreach/migrations``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import relationship
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Relationship, SQLModel

from outreach.identity import Channel, ReviewChannel
from outreach.states import CampaignState, EnrollmentStatus, MessageStatus


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored and returned in UTC on every engine.

    Refuses naive datetimes on the way in (a naive time is a bug, not a guess to make).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: outreach stores aware UTC times only")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _json() -> Any:
    return sa.JSON()


class Contact(SQLModel, table=True):
    """A person letters go to."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, sa_column_kwargs={"unique": True}, index=False)
    name: str | None = Field(default=None, max_length=500)
    salutation: str | None = Field(default=None, max_length=500)
    title: str | None = Field(default=None, max_length=500)
    organisation: str | None = Field(default=None, max_length=500)
    country: str | None = Field(default=None, max_length=2)
    language: str | None = Field(default=None, max_length=35)
    timezone: str | None = Field(default=None, max_length=64)
    tags: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    fields: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    #: set when the person's data was erased: the row stays, empty, so that counts hold
    erased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Campaign(SQLModel, table=True):
    """A campaign loaded from a campaign file; reloading updates it in place."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    name: str = Field(max_length=500)
    timezone: str = Field(max_length=64)
    require_approval: bool = True
    approvals_required: int = 1
    lookahead_days: int = 3
    sender_name: str = Field(max_length=500)
    sender_email: str = Field(max_length=320)
    reply_to: str | None = Field(default=None, max_length=320)
    sending: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    audience_tags: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    vars: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    #: ``[letters]``: file name pattern, signature and letterhead (path, size, type, SHA-256
    #: as loaded) and the campaign file's folder.
    letters: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    state: str = Field(default=CampaignState.ACTIVE.value, max_length=20)
    review_channel: str = Field(
        default=ReviewChannel.ANY.value, max_length=10, sa_column_kwargs={"server_default": "any"}
    )
    source_path: str | None = Field(default=None, max_length=1000)
    source_sha256: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Milestone(SQLModel, table=True):
    """A dated event a campaign counts down to."""

    __table_args__ = (sa.UniqueConstraint("campaign_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    key: str = Field(max_length=100)
    title: str = Field(max_length=500)
    date: date
    end: date | None = None
    location: str | None = Field(default=None, max_length=500)
    start_time: time | None = None  #: a timed milestone's start (``time`` in the file)
    end_time: time | None = None
    timezone: str | None = Field(default=None, max_length=64)
    sequence: int = 0  #: raised by each reload that changes the milestone (iCalendar SEQUENCE)


class Step(SQLModel, table=True):
    """One letter of a campaign and when it is due (``when`` as in the campaign file)."""

    __table_args__ = (sa.UniqueConstraint("campaign_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    key: str = Field(max_length=100)
    template: str = Field(max_length=500)
    when: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    audience_tags: list[str] | None = Field(default=None, sa_type=sa.JSON)
    position: int = 0
    active: bool = True
    letter: str | None = Field(default=None, max_length=500)  #: the PDF letter's template
    #: the static files attached: path, location, size, content type and SHA-256 as loaded
    attachments: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    calendar: str | None = Field(default=None, max_length=100)  #: a milestone key


class Enrollment(SQLModel, table=True):
    """A contact's standing in one campaign."""

    __table_args__ = (sa.UniqueConstraint("campaign_id", "contact_id"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    contact_id: int = Field(foreign_key="contact.id", ondelete="CASCADE", index=True)
    status: str = Field(default=EnrollmentStatus.ACTIVE.value, max_length=20)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Message(SQLModel, table=True):
    """An outbound letter: rendered and composed to its final bytes when planned.

    Its content — subject aside — is in :class:`MessageBody` (``message.body``: ``raw``,
    exactly what is sent, and the ``text`` and ``html`` it was composed from);
    ``content_hash`` is the SHA-256 of ``raw``; ``approved_hash`` is the hash the (last)
    approval was given for. ``due_at`` is when a dispatcher may next claim it
    (its scheduled time, or its next retry). Lease columns are only meaningful while
    ``sending``; every update from a dispatcher carries ``lease_token``.
    """

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "step_id", "contact_id", name="uq_message_plan"),
        sa.Index("ix_message_status_due_id", "status", "due_at", "id"),
        sa.Index("ix_message_campaign_status", "campaign_id", "status"),
        sa.Index("ix_message_contact", "contact_id"),
        sa.Index("ix_message_lease", "status", "lease_expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    step_id: int = Field(foreign_key="step.id", ondelete="CASCADE")
    contact_id: int = Field(foreign_key="contact.id", ondelete="CASCADE")
    message_id: str = Field(max_length=255, sa_column_kwargs={"unique": True})
    status: str = Field(default=MessageStatus.PENDING_REVIEW.value, max_length=20)

    subject: str = ""
    template: str | None = Field(default=None, max_length=500)
    language: str | None = Field(default=None, max_length=35)
    render_context: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    render_error: str | None = None
    content_hash: str | None = Field(default=None, max_length=64)
    approved_hash: str | None = Field(default=None, max_length=64)
    envelope_from: str | None = Field(default=None, max_length=320)
    envelope_to: str | None = Field(default=None, max_length=320)
    edited: bool = False
    stale_reason: str | None = None
    unsubscribe_token_hash: str | None = Field(
        default=None, max_length=64, sa_column_kwargs={"unique": True}
    )

    scheduled_for: datetime = Field(sa_type=UTCDateTime)
    rendered_for: date | None = None
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    attempts: int = 0
    first_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_token: str | None = Field(default=None, max_length=64)
    lease_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempt_phase: str | None = Field(default=None, max_length=20)
    smtp_code: int | None = None
    smtp_response: str | None = None
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)

    #: Loaded with the message (one join), so a message read in one session can be shown in
    #: another; every message has one, written in the same transaction, and loses it with it.
    body: MessageBody = Relationship(
        sa_relationship=relationship(
            "MessageBody",
            uselist=False,
            lazy="joined",
            innerjoin=True,
            cascade="all, delete-orphan",
            passive_deletes=True,
        )
    )


class MessageBody(SQLModel, table=True):
    """A letter's bytes and the text and HTML they were composed from, apart from the
    :class:`Message` row its dispatch updates several times: on SQLite an update rewrites the
    whole row, and a row carrying kilobytes of body spills onto overflow pages that each
    update writes again (docs/performance.md)."""

    __tablename__ = "message_body"

    message_id: int = Field(foreign_key="message.id", ondelete="CASCADE", primary_key=True)
    text: str = ""
    html: str | None = None
    raw: bytes | None = Field(default=None, sa_type=sa.LargeBinary)


#: The columns of :class:`MessageBody` besides its key (``text``, ``html``, ``raw``).
BODY_COLUMNS = frozenset(MessageBody.model_fields) - {"message_id"}


class Approval(SQLModel, table=True):
    """One reviewer's approval of one version (hash) of a message.

    ``reviewer`` is the identity the two-reviewer rule counts (an account, or the OS login of
    a CLI user who named none); ``channel`` is how it was given (``web`` or ``cli``) and
    ``login`` the OS login behind a CLI approval.
    """

    __table_args__ = (sa.UniqueConstraint("message_id", "reviewer", "content_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", ondelete="CASCADE", index=True)
    reviewer: str = Field(max_length=200)
    content_hash: str = Field(max_length=64)
    note: str | None = None
    at: datetime = Field(sa_type=UTCDateTime)
    channel: str = Field(
        default=Channel.CLI.value, max_length=10, sa_column_kwargs={"server_default": "cli"}
    )
    login: str | None = Field(default=None, max_length=200)


class Attempt(SQLModel, table=True):
    """One SMTP attempt for one message: how far it got and how it ended."""

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", ondelete="CASCADE", index=True)
    number: int
    lease_token: str = Field(max_length=64)
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    phase: str = Field(max_length=20)
    outcome: str | None = Field(default=None, max_length=20)
    smtp_code: int | None = None
    smtp_response: str | None = None


class Inbound(SQLModel, table=True):
    """A message received (reply, auto-reply, bounce...), kept raw so nothing is lost."""

    __table_args__ = (
        sa.Index("ix_inbound_message_id", "message_id"),
        sa.Index("ix_inbound_contact", "contact_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: str | None = Field(default=None, max_length=998)
    in_reply_to: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    references: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    from_addr: str | None = Field(default=None, max_length=320)
    subject: str | None = None
    received_at: datetime = Field(sa_type=UTCDateTime)
    classification: str = Field(max_length=20)
    reason: str | None = None
    bounce_status: str | None = Field(default=None, max_length=20)
    matched_message_id: int | None = Field(
        default=None, foreign_key="message.id", ondelete="SET NULL"
    )
    contact_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="SET NULL")
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", ondelete="SET NULL")
    match_method: str | None = Field(default=None, max_length=40)
    raw: bytes = Field(sa_type=sa.LargeBinary)
    raw_sha256: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    raw_size: int
    snippet: str | None = None
    error: str | None = None
    source: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # why it got its class (outreach.replies.evidence.Evidence.as_dict); null on older rows
    evidence: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    strength: str | None = Field(default=None, max_length=20)
    needs_review: bool = False
    #: set when the raw message and what it says were removed (retention or an erasure); the
    #: classification and the match stay
    reduced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Suppression(SQLModel, table=True):
    """An address that must never be mailed again.

    ``inbound_id`` is the inbound message whose effect put it here (so reclassifying that
    message can lift it); ``actor`` who or what added it.
    """

    email: str = Field(primary_key=True, max_length=320)
    reason: str = Field(max_length=40)
    detail: str | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    inbound_id: int | None = None
    actor: str | None = Field(default=None, max_length=200)


class Event(SQLModel, table=True):
    """The append-only audit log: who/what moved which row from which state to which."""

    __table_args__ = (sa.Index("ix_event_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=200)
    entity: str = Field(max_length=20)
    entity_id: int
    action: str = Field(max_length=40)
    from_state: str | None = Field(default=None, max_length=20)
    to_state: str | None = Field(default=None, max_length=20)
    reason: str | None = None
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class MailboxState(SQLModel, table=True):
    """Per IMAP mailbox: UIDVALIDITY and the highest UID processed (after the DB commit)."""

    __tablename__ = "mailbox_state"

    mailbox: str = Field(primary_key=True, max_length=500)
    uidvalidity: int = Field(sa_type=sa.BigInteger)
    last_uid: int = Field(default=0, sa_type=sa.BigInteger)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class JobRun(SQLModel, table=True):
    """The daemon's health: when each job last ran on each instance and how it ended."""

    __tablename__ = "job_run"
    __table_args__ = (sa.UniqueConstraint("job", "instance"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=40)
    instance: str = Field(max_length=200)
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str | None = Field(default=None, max_length=20)
    detail: str | None = None
    #: when a run on this instance last ended well (``ok`` or ``skipped``)
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_duration: float | None = None  #: seconds the last finished run took


class Account(SQLModel, table=True):
    """A person who signs in to the console (and may be named by the CLI's ``--reviewer``).

    ``password_hash`` is an argon2id hash (None until a password is set); a disabled account
    cannot sign in, and its sessions and tokens stop working.
    """

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    role: str = Field(max_length=20)
    password_hash: str | None = Field(default=None, max_length=300)
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class AccountToken(SQLModel, table=True):
    """A secret given to an account holder: a one-time set-password link or an API token.

    Only the SHA-256 of the token is stored. ``used_at`` ends a set-password token;
    ``revoked_at`` ends an API token (a new one revokes the old).
    """

    __tablename__ = "account_token"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE", index=True)
    kind: str = Field(max_length=20)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebSession(SQLModel, table=True):
    """A signed-in browser: the SHA-256 of its cookie's random token, revocable, with idle
    (``last_seen_at``) and absolute (``expires_at``) limits."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE", index=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    address: str | None = Field(default=None, max_length=64)


class SignInAttempt(SQLModel, table=True):
    """One sign-in attempt (for throttling per account name and per address)."""

    __tablename__ = "sign_in_attempt"
    __table_args__ = (
        sa.Index("ix_sign_in_attempt_name", "account_name", "at"),
        sa.Index("ix_sign_in_attempt_address", "address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    account_name: str = Field(max_length=100)
    address: str = Field(max_length=64)
    succeeded: bool = False
