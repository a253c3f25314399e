"""What the SMTP sink records and what its scripts decide from: accepted messages, attempts,
the DATA request, the script signatures and the fixed replies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: A scripted reply that closes the connection after the message data was read, without
#: answering: the client cannot know whether the message was accepted.
DROP = "DROP"
ACCEPTED_RCPT = "250 OK"
ACCEPTED_DATA = "250 2.0.0 OK: queued"


@dataclass(frozen=True)
class Received:
    """One accepted message: envelope, the exact bytes, its Message-ID, how it came."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    message_id: str | None
    tls: bool
    auth_login: str | None


@dataclass(frozen=True)
class DataRequest:
    """A DATA command to answer: its envelope, Message-ID and ``attempt``, the number of DATA
    commands seen for that Message-ID (from 1)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message_id: str | None
    attempt: int


@dataclass(frozen=True)
class DataAttempt(DataRequest):
    """One DATA command that completed (accepted or not) and the reply the server chose."""

    reply: str

    @classmethod
    def of(cls, request: DataRequest, reply: str) -> DataAttempt:
        """``request`` as answered with ``reply``."""
        return cls(request.mail_from, request.rcpt_tos, request.message_id, request.attempt, reply)


@dataclass(frozen=True)
class RcptAttempt:
    """One RCPT TO command and the reply the server chose."""

    address: str
    reply: str


#: ``(address, n) -> reply or None``; n counts MAIL FROM / RCPT TO attempts for that address.
AddressScript = Callable[[str, int], "str | None"]
#: ``(message_id or None, n) -> reply or None``; n counts DATA attempts for that Message-ID.
DataScript = Callable[["str | None", int], "str | None"]
#: ``request -> reply or None``: a DATA decision that needs the whole envelope.
EnvelopeScript = Callable[[DataRequest], "str | None"]
