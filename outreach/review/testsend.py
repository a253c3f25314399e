"""Test send: the exact stored bytes of a message sent to a reviewer's own address, so they see
the letter land in a real mailbox before approving a campaign of a hundred.

The bytes are sent unchanged (headers included: the To header still names the recipient); only
the envelope recipient is the test address. Nothing about the message changes: no status, no
attempt, never counted as sent. Each test send is recorded as events (``test_send`` before the
SMTP transaction, ``test_sent`` or ``test_send_failed`` after it) and limited to
``OUTREACH_TEST_SEND_PER_HOUR`` per message per hour (counting the ``test_send`` events, taken
under the message's row lock on PostgreSQL). It uses the dispatcher's SMTP adapter and settings.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from outreach.compose.headers import check_address
from outreach.db import Engine, session_scope
from outreach.dispatch.smtp import SmtpConnection, SmtpResult, build_tls_context
from outreach.errors import (
    ComposeError,
    HeaderInjectionError,
    NotFoundError,
    OutreachError,
    ReviewError,
)
from outreach.lifecycle import record_event
from outreach.repository import review as rows
from outreach.settings import Settings

#: How far back the rate limit looks.
WINDOW = timedelta(hours=1)


class TestSendRefused(ReviewError):
    """The test send was refused."""

    __test__ = False


@dataclass(frozen=True)
class TestSendResult:
    """How one test send ended: the address, what was sent (size, SHA-256) and the SMTP
    server's reply (``delivered``: it accepted the message)."""

    __test__ = False

    message_id: int
    to: str
    size: int
    sha256: str
    delivered: bool
    code: int | None
    reply: str


@dataclass(frozen=True)
class _Prepared:
    message_id: int
    to: str
    envelope_from: str
    raw: bytes
    sha256: str


def test_send(
    engine: Engine, message_id: int, *, to: str, settings: Settings, now: datetime, actor: str
) -> TestSendResult:
    """Send the stored bytes of message ``message_id`` to ``to`` (see the module docstring).
    Raises :class:`NotFoundError`, or :class:`TestSendRefused` for a message without bytes,
    an invalid address or the hourly limit reached; an SMTP failure is a result with
    ``delivered`` False (recorded too)."""
    return asyncio.run(
        test_send_async(engine, message_id, to=to, settings=settings, now=now, actor=actor)
    )


test_send.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


async def test_send_async(
    engine: Engine, message_id: int, *, to: str, settings: Settings, now: datetime, actor: str
) -> TestSendResult:
    """:func:`test_send` for callers already in an event loop (the web console)."""
    prepared = _prepare(engine, message_id, to=to, settings=settings, now=now, actor=actor)
    tls = build_tls_context(settings) if settings.smtp_tls != "none" else None
    connection = SmtpConnection(settings, tls)
    try:
        result = await connection.send(prepared.envelope_from, prepared.to, prepared.raw)
    except OutreachError as exc:  # the server cannot be used at all (TLS, credentials)
        failed = SmtpResult("connect", None, exc.message)
        _record_outcome(engine, prepared, failed, delivered=False, now=now, actor=actor)
        raise
    finally:
        await connection.close()
    delivered = result.code is not None and 200 <= result.code < 300 and not result.refused
    _record_outcome(engine, prepared, result, delivered=delivered, now=now, actor=actor)
    return TestSendResult(
        message_id=message_id,
        to=prepared.to,
        size=len(prepared.raw),
        sha256=prepared.sha256,
        delivered=delivered,
        code=result.code,
        reply=result.text,
    )


test_send_async.__test__ = False  # type: ignore[attr-defined]


def _prepare(
    engine: Engine, message_id: int, *, to: str, settings: Settings, now: datetime, actor: str
) -> _Prepared:
    """Check the address, the message and the hourly limit; record the ``test_send`` event."""
    try:
        address = check_address(to.strip(), "--to")
    except (ComposeError, HeaderInjectionError):
        raise TestSendRefused(f"--to: {to!r} is not a single valid email address") from None
    with session_scope(engine) as session:
        locked = rows.lock_messages(session, message_ids=[message_id])
        if message_id not in locked:
            raise NotFoundError(f"message {message_id} does not exist")
        message = locked[message_id]
        if message.body.raw is None or not message.envelope_from or not message.content_hash:
            raise TestSendRefused(f"message {message_id} has no composed bytes to send")
        recent = rows.event_times_since(
            session, message_id=message_id, action="test_send", since=now - WINDOW
        )
        if len(recent) >= settings.test_send_per_hour:
            again = (recent[0] + WINDOW).isoformat(timespec="minutes")
            raise TestSendRefused(
                f"message {message_id} was test-sent {len(recent)} times in the last hour "
                f"(OUTREACH_TEST_SEND_PER_HOUR={settings.test_send_per_hour}); "
                f"the next one is allowed at {again}"
            )
        record_event(
            session,
            now=now,
            actor=actor,
            entity="message",
            entity_id=message_id,
            action="test_send",
            reason=f"test copy to {address}",
            data={"to": address, "sha256": message.content_hash, "size": len(message.body.raw)},
        )
        return _Prepared(
            message_id,
            address,
            message.envelope_from,
            bytes(message.body.raw),
            message.content_hash,
        )


def _record_outcome(
    engine: Engine,
    prepared: _Prepared,
    result: SmtpResult,
    *,
    delivered: bool,
    now: datetime,
    actor: str,
) -> None:
    reply = f"{result.code} {result.text}".strip() if result.code else result.text
    with session_scope(engine) as session:
        record_event(
            session,
            now=now,
            actor=actor,
            entity="message",
            entity_id=prepared.message_id,
            action="test_sent" if delivered else "test_send_failed",
            reason=f"{prepared.to}: {reply}"[:500],
            data={"to": prepared.to, "code": result.code, "stage": result.stage},
        )
