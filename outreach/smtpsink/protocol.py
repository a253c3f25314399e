"""The aiosmtpd side of the SMTP sink: the handler that asks its owner (:class:`SmtpSink`) for
every reply on the server thread, the AUTH check and the threaded controller.

aiosmtpd's UserWarning for "AUTH required without TLS" is avoided by setting that flag after the
SMTP object is built, so nothing here trips pytest's ``filterwarnings = error``; the controller
listens with a chosen backlog (its ``_create_server`` is overridden for that).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import TYPE_CHECKING, Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from outreach.smtpsink.values import ACCEPTED_DATA, ACCEPTED_RCPT, DROP, Received

if TYPE_CHECKING:
    from outreach.smtpsink.server import SmtpSink

_HEADER_PARSER = BytesHeaderParser(policy=compat32)


def message_id_of(content: bytes) -> str | None:
    """The Message-ID header of ``content`` without whitespace; None when it has none."""
    value = _HEADER_PARSER.parsebytes(content).get("Message-ID")
    return "".join(str(value).split()) if value is not None else None


class Handler:
    """aiosmtpd handler: runs on the server thread, delegates decisions to the owner."""

    def __init__(self, owner: SmtpSink) -> None:
        self._owner = owner

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list
    ) -> list:
        session.host_name = hostname
        self._owner.note_helo()
        return responses

    async def handle_HELO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str
    ) -> str:
        session.host_name = hostname
        self._owner.note_helo()
        return f"250 {server.hostname}"

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        reply = self._owner.mail_reply(address)
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        reply, delay = self._owner.rcpt_reply(address)
        if delay:
            await asyncio.sleep(delay)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return ACCEPTED_RCPT

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        if isinstance(envelope.content, bytes):
            content = envelope.content
        message_id = message_id_of(content)
        reply, delay = self._owner.data_reply(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            message_id=message_id,
        )
        if delay:
            await asyncio.sleep(delay)
        if reply == DROP:
            if server.transport is not None:
                server.transport.close()
            await asyncio.sleep(3600)  # cancelled by connection_lost; never replies
        if reply is not None:
            return reply
        login = session.auth_data if session.authenticated else None
        transport = server.transport
        tls = session.ssl is not None or (
            transport is not None and transport.get_extra_info("ssl_object") is not None
        )
        self._owner.accept(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=tuple(envelope.rcpt_tos),
                content=content,
                message_id=message_id,
                tls=tls,
                auth_login=login if isinstance(login, str) else None,
            )
        )
        return ACCEPTED_DATA


class Authenticator:
    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = dict(users)

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            login = data.login.decode("utf-8", "replace")
            password = data.password.decode("utf-8", "replace")
            if login in self._users and self._users[login] == password:
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)


class SinkController(Controller):
    """aiosmtpd Controller that can require AUTH without aiosmtpd's UserWarning and listens
    with a chosen backlog (the benchmarks open many connections at once)."""

    def __init__(
        self, *args: Any, force_auth_required: bool = False, backlog: int = 100, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._force_auth_required = force_auth_required
        self._backlog = backlog

    def factory(self) -> SMTP:
        smtp = super().factory()
        if self._force_auth_required:
            smtp._auth_required = True  # set after __init__, which would warn when not TLS
        return smtp

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(
            self._factory_invoker,
            host=self.hostname,
            port=self.port,
            ssl=self.ssl_context,
            backlog=self._backlog,
        )
