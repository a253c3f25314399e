"""The suppression list as an operator manages it: list, add with a reason, lift with a reason.

Each change writes an event row (entity ``suppression``; ``entity_id`` is the contact's id, 0
for an address that is no contact) naming who did it and why. Lifting a suppression lets the
address be mailed again; it does not change any enrollment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from outreach.contact_fields import normalise_email
from outreach.errors import NotFoundError, OutreachError
from outreach.lifecycle import record_event
from outreach.repository import suppressions as rows
from outreach.repository.contacts import contact_by_email

#: The ``reason`` code of a suppression an operator added.
OPERATOR_REASON = "operator"


class SuppressionError(OutreachError):
    """The suppression change was refused."""


@dataclass(frozen=True)
class SuppressionView:
    """One suppressed address: why (``reason`` code and ``detail``) and since when."""

    email: str
    reason: str
    detail: str | None
    created_at: datetime


def list_suppressions(session: Session) -> list[SuppressionView]:
    """Every suppressed address, newest first."""
    return [
        SuppressionView(s.email, s.reason, s.detail, s.created_at)
        for s in rows.list_suppressions(session)
    ]


def _checked(email: str, reason: str) -> tuple[str, str]:
    try:
        address = normalise_email(email or "")
    except ValueError as exc:
        raise SuppressionError(f"email: {exc}") from None
    why = " ".join((reason or "").split())
    if not why:
        raise SuppressionError("reason: required (it is kept in the event log)")
    return address, why[:2000]


def _log(
    session: Session,
    address: str,
    action: str,
    *,
    reason: str,
    actor: str,
    now: datetime,
    was: str | None = None,
) -> None:
    contact = contact_by_email(session, email=address)
    record_event(
        session,
        now=now,
        actor=actor,
        entity="suppression",
        entity_id=contact.id if contact is not None and contact.id is not None else 0,
        action=action,
        reason=reason,
        data={"email": address, **({"was": was} if was else {})},
    )


def add_suppression(
    session: Session, *, email: str, reason: str, actor: str, now: datetime
) -> bool:
    """Suppress ``email`` (normalised) with ``reason``; False when it already was (nothing is
    written then). SuppressionError for a bad address or an empty reason."""
    address, why = _checked(email, reason)
    if not rows.suppress(session, email=address, reason=OPERATOR_REASON, detail=why, now=now):
        return False
    _log(session, address, "suppressed", reason=why, actor=actor, now=now)
    return True


def lift_suppression(
    session: Session, *, email: str, reason: str, actor: str, now: datetime
) -> None:
    """Remove ``email`` from the suppression list, with ``reason``. NotFoundError when it is
    not suppressed; SuppressionError for a bad address or an empty reason."""
    address, why = _checked(email, reason)
    before = rows.get_suppression(session, email=address)
    if before is None or not rows.lift(session, email=address):
        raise NotFoundError(f"{address} is not suppressed")
    was = f"{before.reason}: {before.detail}" if before.detail else before.reason
    _log(session, address, "suppression_lifted", reason=why, actor=actor, now=now, was=was)
