"""Every state in outreach, and the one table of allowed message transitions.

Pure: no database, no clock. :mod:`outreach.lifecycle` is the only code that persists a
message's state change, and it asks :func:`check_transition` first.
"""

from __future__ import annotations

from enum import StrEnum

from outreach.errors import IllegalTransition


class MessageStatus(StrEnum):
    """Where an outbound message is in its life (DESIGN.md §Message lifecycle)."""

    PENDING_REVIEW = "pending_review"  #: rendered and composed; waits for a reviewer
    RENDER_ERROR = "render_error"  #: its template failed; fix the template and re-plan
    APPROVED = "approved"  #: approved (or auto-approved); waits for its send time
    REJECTED = "rejected"  #: a reviewer said no; never sent
    SENDING = "sending"  #: claimed by a dispatcher under a lease
    SENT = "sent"  #: the server answered 250 to DATA
    RETRYING = "retrying"  #: a 4xx or network error; tried again at next_attempt_at
    FAILED = "failed"  #: 5xx, or retries exhausted; never sent
    CANCELLED = "cancelled"  #: reply, bounce, unsubscribe or an operator stopped it
    UNKNOWN = "unknown"  #: a dispatcher died after DATA: an operator must resolve it


#: States in which a message has not left and still may.
UNSENT = frozenset(
    {
        MessageStatus.PENDING_REVIEW,
        MessageStatus.RENDER_ERROR,
        MessageStatus.APPROVED,
        MessageStatus.RETRYING,
    }
)
#: States a message never leaves.
TERMINAL = frozenset(
    {MessageStatus.SENT, MessageStatus.REJECTED, MessageStatus.FAILED, MessageStatus.CANCELLED}
)
#: States a dispatcher may claim from.
CLAIMABLE = frozenset({MessageStatus.APPROVED, MessageStatus.RETRYING})

#: The allowed moves. ``None`` is "the row does not exist yet" (planning creates it).
ALLOWED: dict[MessageStatus | None, frozenset[MessageStatus]] = {
    None: frozenset(
        {MessageStatus.PENDING_REVIEW, MessageStatus.APPROVED, MessageStatus.RENDER_ERROR}
    ),
    # re-planned after a template fix or a campaign reload; an operator may drop it
    MessageStatus.RENDER_ERROR: frozenset(
        {
            MessageStatus.PENDING_REVIEW,
            MessageStatus.APPROVED,
            MessageStatus.RENDER_ERROR,
            MessageStatus.CANCELLED,
        }
    ),
    # pending -> pending: an edit, a re-render (stale, reload) or a partial approval
    MessageStatus.PENDING_REVIEW: frozenset(
        {
            MessageStatus.PENDING_REVIEW,
            MessageStatus.APPROVED,
            MessageStatus.REJECTED,
            MessageStatus.CANCELLED,
            MessageStatus.RENDER_ERROR,
        }
    ),
    MessageStatus.APPROVED: frozenset(
        {
            MessageStatus.SENDING,
            MessageStatus.CANCELLED,
            MessageStatus.PENDING_REVIEW,
            MessageStatus.RENDER_ERROR,
        }
    ),
    MessageStatus.SENDING: frozenset(
        {
            MessageStatus.SENT,
            MessageStatus.RETRYING,
            MessageStatus.FAILED,
            # lease released before DATA (shutdown, auth failure, window closed)
            MessageStatus.APPROVED,
            MessageStatus.UNKNOWN,  # lease expired after DATA without a recorded reply
            MessageStatus.PENDING_REVIEW,  # send-time check: stale content
            MessageStatus.CANCELLED,  # send-time check: suppressed, replied, paused campaign...
        }
    ),
    MessageStatus.RETRYING: frozenset(
        {
            MessageStatus.SENDING,
            MessageStatus.CANCELLED,
            MessageStatus.FAILED,
            MessageStatus.PENDING_REVIEW,
            MessageStatus.RENDER_ERROR,
        }
    ),
    MessageStatus.UNKNOWN: frozenset(
        {MessageStatus.SENT, MessageStatus.APPROVED, MessageStatus.CANCELLED}
    ),
    MessageStatus.SENT: frozenset(),
    MessageStatus.REJECTED: frozenset(),
    MessageStatus.FAILED: frozenset(),
    MessageStatus.CANCELLED: frozenset(),
}


def can_transition(current: MessageStatus | None, target: MessageStatus) -> bool:
    """True when a message in ``current`` may move to ``target``."""
    return target in ALLOWED.get(current, frozenset())


def check_transition(current: MessageStatus | None, target: MessageStatus) -> None:
    """Raise :class:`IllegalTransition` unless ``current`` -> ``target`` is allowed."""
    if not can_transition(current, target):
        origin = current.value if current is not None else "(new)"
        raise IllegalTransition(f"a message cannot go from {origin} to {target.value}")


class EnrollmentStatus(StrEnum):
    """A contact's standing in one campaign."""

    ACTIVE = "active"  #: letters may go out
    REPLIED = "replied"  #: a human answered; follow-ups stop
    BOUNCED = "bounced"  #: a hard bounce; the address is suppressed
    UNSUBSCRIBED = "unsubscribed"  #: asked to stop; the address is suppressed
    COMPLETED = "completed"  #: every step went out


class AttemptPhase(StrEnum):
    """How far one SMTP attempt got; committed before the next phase starts."""

    CLAIMED = "claimed"  #: the lease is held; no SMTP traffic yet
    CONNECTING = "connecting"  #: MAIL/RCPT under way; nothing that could deliver was sent
    DATA_SENT = "data_sent"  #: the DATA body went out; the reply may never have arrived
    DONE = "done"  #: the reply was recorded


class Classification(StrEnum):
    """What an inbound message is."""

    HUMAN = "human"  #: a person answered
    AUTO_REPLY = "auto_reply"  #: out of office and other automatic answers; changes nothing
    BOUNCE_HARD = "bounce_hard"  #: the address is gone, on conclusive evidence: suppress it
    BOUNCE_SOFT = "bounce_soft"  #: temporary or inconclusive failure (delayed, full, ambiguous)
    REJECTED = "rejected"  #: refused by policy, for its content or our sender: not suppressed
    UNSUBSCRIBE = "unsubscribe"  #: asked to be removed: suppress it
    OVERSIZE = "oversize"  #: over the size cap: kept raw, processed no further
    UNPARSEABLE = "unparseable"  #: not a message: could not be parsed, or has no sender at all
    OWN_OUTBOUND = "own_outbound"  #: one of our own letters fed back (Sent folder, BCC, list echo)


class CampaignState(StrEnum):
    """Whether a campaign plans and sends."""

    ACTIVE = "active"  #: plans and sends
    PAUSED = "paused"  #: the emergency brake: no planning, no sending
