"""Why a message got its class: :class:`Evidence`, stored with the inbound row. Pure.

Every classification carries the fact that decided it — which header or line, where in the
SMTP dialogue a refusal came (RCPT or after DATA), whether a bounce's status came from its
``Status:`` field, from the remote server's own reply (``Diagnostic-Code``) or from free text —
and how strong that fact is. DESIGN.md rule 4 acts on strength: only *conclusive* evidence
suppresses an address; an *inconclusive* hard-looking failure counts as a soft bounce and is
flagged for a person (``needs_review``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Strength(StrEnum):
    """How far the evidence proves the class."""

    CONCLUSIVE = "conclusive"  #: the message itself proves it (a header, the remote's reply)
    INCONCLUSIVE = "inconclusive"  #: a reading of free text; a person may want to look


class SmtpStage(StrEnum):
    """Where in the SMTP dialogue a remote server refused the letter."""

    CONNECT = "connect"  #: at the greeting or before any command
    MAIL = "mail"  #: at MAIL FROM: about our sender, not the recipient
    RCPT = "rcpt"  #: at RCPT TO: about the recipient address, before any content was sent
    DATA = "data"  #: after the content was sent: content filters use any wording here


class StatusSource(StrEnum):
    """Where a bounce's enhanced status code was read."""

    STATUS_FIELD = "status_field"  #: the DSN's ``Status:`` field (the reporting MTA's summary)
    DIAGNOSTIC = "diagnostic"  #: the remote server's own reply (``Diagnostic-Code``)
    TEXT = "text"  #: the human-readable text of a bounce without a delivery-status part
    NOTIFICATION = "notification"  #: a provider's notification (Amazon SES JSON)


#: Longest deciding line kept.
MAX_LINE = 300


@dataclass(frozen=True)
class Evidence:
    """The fact that decided a classification.

    ``decided_by`` names the header, field or part (``"Diagnostic-Code"``, ``"Auto-Submitted
    header"``, ``"bounce text"``...); ``line`` is the deciding text, one line, at most
    :data:`MAX_LINE` characters. ``stage`` and ``status_from`` are set for bounces when known.
    ``needs_review``: a person should confirm the class (an inconclusive hard-looking failure).
    """

    decided_by: str
    line: str = ""
    strength: Strength = Strength.CONCLUSIVE
    stage: SmtpStage | None = None
    status_from: StatusSource | None = None
    needs_review: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape stored on the inbound row and shown by ``replies list --json``."""
        return {
            "decided_by": self.decided_by,
            "line": self.line,
            "strength": self.strength.value,
            "stage": self.stage.value if self.stage is not None else None,
            "status_from": self.status_from.value if self.status_from is not None else None,
            "needs_review": self.needs_review,
        }


def evidence_line(text: str | None, limit: int = MAX_LINE) -> str:
    """``text`` as one line of at most ``limit`` characters (whitespace runs made one space)."""
    if not text:
        return ""
    return " ".join(text[: limit * 4].split())[:limit]


def operator_evidence(actor: str, reason: str) -> Evidence:
    """Evidence recording that ``actor`` set the class, with their ``reason``."""
    return Evidence(decided_by=f"operator {actor}", line=evidence_line(reason))
