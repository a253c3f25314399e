"""The SMTP adapter: the client TLS context, opening a connection with the TLS mode set
explicitly, and one reused connection that sends stored bytes and reports how far each
transaction got (:class:`SmtpResult`). It knows aiosmtplib, not the queue: what a reply means
for a message is :mod:`outreach.retry`'s and :mod:`outreach.dispatch.policy`'s to say.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiosmtplib

from outreach.errors import DispatchError, SmtpAuthError, SmtpTlsError
from outreach.retry import Stage, describe
from outreach.settings import Settings


class PlainAuthRefused(DispatchError):
    """Refusing to send SMTP credentials over an unencrypted connection (OUTREACH_SMTP_TLS=none);
    set OUTREACH_SMTP_ALLOW_PLAIN_AUTH=true to allow it."""


class ConnectFailed(Exception):
    """The server was unreachable, or refused us while connecting or logging in (``code``:
    its reply code, ``None`` for a network error)."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.text = message


def build_tls_context(settings: Settings) -> ssl.SSLContext:
    """The client TLS context: system CAs, or only ``smtp_ca_file`` when set; hostname and
    certificate verified unless ``smtp_verify`` is false."""
    try:
        ctx = ssl.create_default_context(
            cafile=str(settings.smtp_ca_file) if settings.smtp_ca_file else None
        )
    except (OSError, ssl.SSLError) as exc:
        raise SmtpTlsError(f"OUTREACH_SMTP_CA_FILE {settings.smtp_ca_file}: {exc}") from None
    if not settings.smtp_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _tls_failure(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _connect_error(exc: BaseException, where: str) -> Exception:
    """What a failed ``connect()`` means: bad TLS (:class:`SmtpTlsError`) or an unreachable or
    refusing server (:class:`ConnectFailed`)."""
    bad_tls = _tls_failure(exc)
    if bad_tls is not None:
        if isinstance(bad_tls, ssl.SSLCertVerificationError):
            detail = f"certificate verification failed ({bad_tls.verify_message})"
        else:
            detail = bad_tls.reason or str(bad_tls)
        return SmtpTlsError(
            f"TLS with the SMTP server {where} failed: {detail} "
            "(check OUTREACH_SMTP_CA_FILE and OUTREACH_SMTP_HOST)"
        )
    if "STARTTLS extension not supported" in str(exc):
        return SmtpTlsError(
            f"the SMTP server {where} does not offer STARTTLS, which OUTREACH_SMTP_TLS="
            "starttls requires"
        )
    return ConnectFailed(getattr(exc, "code", None), unreachable_reason(exc, where))


def unreachable_reason(exc: BaseException, where: str) -> str:
    """Why the server at ``where`` (``host:port``) could not be reached, in words an operator
    acts on: ``connection refused by 127.0.0.1:25`` (nothing listens there: a wrong port?),
    ``cannot resolve …``, ``no answer from … within 60 s``; else the error itself."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return f"connection refused by {where}"
        if isinstance(seen, socket.gaierror):
            return f"cannot resolve {where.rsplit(':', 1)[0]} ({seen.strerror})"
        if isinstance(seen, TimeoutError | aiosmtplib.SMTPConnectTimeoutError):
            return f"no answer from {where} ({seen})"
        seen = seen.__cause__ or seen.__context__
    return " ".join(str(exc).split()) or type(exc).__name__


async def open_smtp(settings: Settings, tls_context: ssl.SSLContext | None) -> aiosmtplib.SMTP:
    """A connected (and, when configured, authenticated) client with the TLS mode set
    explicitly: ``tls`` implicit TLS, ``starttls`` required STARTTLS, ``none`` plain — never
    aiosmtplib's opportunistic default. Raises :class:`SmtpTlsError`, :class:`SmtpAuthError`,
    :class:`PlainAuthRefused`, or :class:`ConnectFailed` (server unreachable or refusing)."""
    mode = settings.smtp_tls
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        timeout=settings.smtp_timeout,
        use_tls=mode == "tls",
        start_tls=mode == "starttls",
        tls_context=tls_context if mode != "none" else None,
        validate_certs=settings.smtp_verify,
    )
    try:
        await client.connect()
    except aiosmtplib.SMTPConnectResponseError as exc:
        raise ConnectFailed(exc.code, exc.message) from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        client.close()
        raise _connect_error(exc, where) from None
    if settings.smtp_username:
        await _login(client, settings, where)
    return client


async def _login(client: aiosmtplib.SMTP, settings: Settings, where: str) -> None:
    """Authenticate ``client`` (closing it on failure); plain-text credentials only when
    ``smtp_allow_plain_auth``."""
    tls_active = client.get_transport_info("sslcontext") is not None
    if not tls_active and not settings.smtp_allow_plain_auth:
        client.close()
        raise PlainAuthRefused()
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
    try:
        await client.login(settings.smtp_username or "", password)
    except aiosmtplib.SMTPAuthenticationError as exc:
        client.close()
        raise SmtpAuthError(
            f"the SMTP server {where} refused our credentials: {describe(exc.code, exc.message)}"
            "; messages stay approved"
        ) from None
    except aiosmtplib.SMTPResponseException as exc:
        client.close()
        raise ConnectFailed(exc.code, exc.message) from None
    except aiosmtplib.SMTPException as exc:
        client.close()
        raise SmtpAuthError(f"SMTP login to {where} failed: {exc}") from None


@dataclass(frozen=True)
class SmtpResult:
    """How one message's SMTP transaction ended.

    ``stage`` is where it ended (``connect`` when no connection could be opened). A reply has
    its ``code`` and ``text``; ``refused`` marks an error reply at MAIL/RCPT/DATA; ``lost``
    marks a network error or timeout (no reply; ``code`` is ``None``); ``held`` marks a
    transaction stopped before DATA because the gate said no. ``gate_passed``: the gate said
    yes (even when RCPT was then refused).
    """

    stage: Stage
    code: int | None
    text: str
    refused: bool = False
    lost: bool = False
    held: bool = False
    gate_passed: bool = False


#: ``gate()`` is called just before RCPT is sent and returns an awaitable that resolves to
#: whether DATA may follow (see :meth:`SmtpConnection.send`).
Gate = Callable[[], Awaitable[bool]]


class SmtpConnection:
    """One reused SMTP connection, opened on first use and again after it drops; a failed
    transaction is reset (RSET) before the next one."""

    def __init__(self, settings: Settings, tls_context: ssl.SSLContext | None) -> None:
        self.settings = settings
        self.tls_context = tls_context
        self._client: aiosmtplib.SMTP | None = None
        self._dirty = False

    async def send(
        self, envelope_from: str, envelope_to: str, raw: bytes, *, gate: Gate | None = None
    ) -> SmtpResult:
        """MAIL, RCPT and DATA of ``raw``, opening the connection first if needed. Raises
        :class:`SmtpAuthError`, :class:`SmtpTlsError` or :class:`PlainAuthRefused` when the
        server cannot be used at all; every other failure is a :class:`SmtpResult`.

        ``gate``, when given, is started just before RCPT is written and awaited once RCPT's
        reply is in (also when RCPT is refused, so the caller always learns its answer); DATA
        is sent only when it resolved ``True`` — otherwise the transaction is reset and the
        result is ``held``. The gate's own work overlaps RCPT's round trip.
        """
        client = await self._connected()
        if isinstance(client, SmtpResult):
            return client
        stage: Stage = "mail"
        pending: Awaitable[bool] | None = None
        passed = False
        try:
            if self._dirty:
                await client.rset()
                self._dirty = False
            await client.mail(envelope_from)
            stage = "rcpt"
            pending = gate() if gate is not None else None
            rcpt_error: aiosmtplib.SMTPResponseException | None = None
            try:
                await client.rcpt(envelope_to)
            except aiosmtplib.SMTPResponseException as exc:
                rcpt_error = exc
            passed = await self._settle(pending) if gate is not None else True
            pending = None
            if rcpt_error is not None:
                raise rcpt_error
            if not passed:
                self._dirty = True
                return SmtpResult("rcpt", None, "not sent: held before DATA", held=True)
            stage = "data"
            reply = await client.data(raw)
        except aiosmtplib.SMTPResponseException as exc:
            self._dirty = True
            if not client.is_connected:
                self._client = None
            return SmtpResult(stage, exc.code, exc.message, refused=True, gate_passed=passed)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            passed = stage == "data" or await self._settle(pending)
            client.close()
            self._client = None
            self._dirty = False
            text = str(exc) if stage == "data" else (str(exc) or type(exc).__name__)
            return SmtpResult(stage, None, text, lost=True, gate_passed=passed)
        return SmtpResult("data", reply.code, reply.message, gate_passed=True)

    @staticmethod
    async def _settle(pending: Awaitable[bool] | None) -> bool:
        """The gate's answer (``False`` when there was none to wait for)."""
        return bool(await pending) if pending is not None else False

    async def _connected(self) -> aiosmtplib.SMTP | SmtpResult:
        """The open client, connecting first when needed; a ``connect`` result when the server
        could not be reached."""
        client = self._client
        if client is not None and client.is_connected:
            return client
        try:
            client = self._client = await open_smtp(self.settings, self.tls_context)
            self._dirty = False
        except ConnectFailed as exc:
            self._client = None
            return SmtpResult("connect", exc.code, exc.text)
        except BaseException:
            self._client = None
            raise
        return client

    async def close(self) -> None:
        """QUIT (at most 5 s), or drop the connection when that fails."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if client.is_connected:
                await asyncio.wait_for(client.quit(), timeout=5)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()
