"""Poll the IMAP reply mailbox once: fetch what arrived since the last poll and ingest it.

Read-only on the server (:class:`~outreach.replies.imap.ImapMailbox`: EXAMINE,
``BODY.PEEK[]``). The mailbox's UIDVALIDITY and the highest UID processed are stored in
``mailbox_state`` only after each batch's commit, so a crash re-fetches, and de-duplication
(same bytes or Message-ID) makes that harmless.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from outreach.db import Engine, session_scope
from outreach.errors import ImapError, SettingsError
from outreach.replies.imap import ImapConfig, ImapMailbox
from outreach.replies.report import IntakeReport
from outreach.replies.store import ingest
from outreach.repository.inbound import mailbox_cursor, save_mailbox_cursor
from outreach.settings import Settings

log = logging.getLogger(__name__)


class ImapNotConfigured(ImapError):
    """IMAP is not configured: set OUTREACH_IMAP_HOST, OUTREACH_IMAP_USERNAME and OUTREACH_IMAP_PASSWORD."""


def imap_config(settings: Settings) -> ImapConfig:
    """The IMAP connection the settings describe; :class:`ImapNotConfigured` when they don't.

    TLS per ``imap_tls``; ``imap_ca_file`` (a PEM bundle) replaces the system trust store.
    """
    if not settings.imap_configured:
        raise ImapNotConfigured()
    assert settings.imap_host is not None and settings.imap_username is not None
    context = None
    if settings.imap_tls != "none":
        context = _tls_context(settings.imap_ca_file)
    password = settings.imap_password.get_secret_value() if settings.imap_password else ""
    return ImapConfig(
        host=settings.imap_host,
        port=settings.imap_port,
        username=settings.imap_username,
        password=password,
        tls=settings.imap_tls,
        mailbox=settings.imap_mailbox,
        ssl_context=context,
    )


def _tls_context(ca: Path | str | None) -> ssl.SSLContext:
    """The system trust store, or the PEM bundle ``ca``; :class:`SettingsError` naming a bad
    one."""
    if ca is not None and not Path(ca).is_file():
        raise SettingsError(f"setting OUTREACH_IMAP_CA_FILE: {ca}: no such file")
    try:
        return ssl.create_default_context(cafile=str(ca) if ca is not None else None)
    except (ssl.SSLError, OSError) as exc:
        raise SettingsError(
            f"setting OUTREACH_IMAP_CA_FILE: {ca}: not a PEM certificate bundle ({exc})"
        ) from None


def mailbox_key(config: ImapConfig) -> str:
    """The ``mailbox_state`` key of a mailbox: ``user@host/mailbox`` (no port, no password)."""
    return f"{config.username}@{config.host}/{config.mailbox}"[:500]


def fetch_mailbox(
    engine: Engine,
    *,
    settings: Settings,
    now: datetime,
    batch: int = 200,
    config: ImapConfig | None = None,
    progress: Callable[[int], None] | None = None,
) -> IntakeReport:
    """Poll the IMAP mailbox once: fetch what arrived since the last poll and ingest it.

    Read-only on the server (EXAMINE, ``BODY.PEEK[]``: no flag set, nothing deleted). The
    highest UID processed is stored in ``mailbox_state`` only after each batch's commit; a
    changed UIDVALIDITY re-scans the whole mailbox, and de-duplication (same bytes or
    Message-ID) keeps that from storing or acting on anything twice. ``config`` overrides the
    connection built from ``settings`` (tests). Raises :class:`ImapError` (one line, no
    password) when the server cannot be used; what was committed before stays committed.
    """
    config = config or imap_config(settings)
    key = mailbox_key(config)
    report = IntakeReport(source=f"imap {config.label}")
    with ImapMailbox(config) as box:
        uidvalidity, _uidnext = box.select()
        last_uid, rescanned = _resume(engine, key, uidvalidity, now=now)
        if rescanned:
            report = IntakeReport(source=report.source, rescanned=True)
        for chunk in box.fetch_since(last_uid, batch):
            labelled = [
                (f"imap:{key};uidvalidity={uidvalidity};uid={uid}", raw) for uid, raw in chunk
            ]
            report += ingest(
                engine, labelled, settings=settings, now=now, batch=len(labelled), progress=progress
            )
            _save_cursor(engine, key, uidvalidity, max(uid for uid, _ in chunk), now=now)
    return report


def _resume(engine: Engine, key: str, uidvalidity: int, *, now: datetime) -> tuple[int, bool]:
    """``(last UID processed, rescanned)`` for the mailbox as it is now. A first poll or a
    changed UIDVALIDITY (``rescanned``) records the new UIDVALIDITY and starts from UID 0."""
    with session_scope(engine) as session:
        cursor = mailbox_cursor(session, mailbox=key)
    if cursor is not None and cursor.uidvalidity == uidvalidity:
        return cursor.last_uid, False
    if cursor is not None:
        log.warning(
            "UIDVALIDITY of %s changed (%s -> %s): re-scanning the mailbox",
            key,
            cursor.uidvalidity,
            uidvalidity,
        )
    _save_cursor(engine, key, uidvalidity, 0, now=now)
    return 0, cursor is not None


def _save_cursor(
    engine: Engine, key: str, uidvalidity: int, last_uid: int, *, now: datetime
) -> None:
    """Record ``(uidvalidity, last_uid)`` in its own transaction (after the batch's commit)."""
    with session_scope(engine) as session:
        save_mailbox_cursor(
            session, mailbox=key, uidvalidity=uidvalidity, last_uid=last_uid, now=now
        )
