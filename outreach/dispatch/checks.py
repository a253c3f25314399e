"""The send-time checks (DESIGN.md rules 1 and 5) as a pure function over loaded values.

Just before a chunk of claimed messages goes out, :func:`outreach.dispatch.rounds.prepare_chunk`
loads the rows, their campaigns, the suppressed addresses and the enrollments, and asks
:func:`check_chunk` what to do with each one. No database, no clock: ``now`` is a parameter.

The order of the checks, first failure wins:

1. no longer ``sending`` under our lease token → dropped (counted ``lost_lease``);
2. campaign not active (paused) → released to ``approved``, the attempt given back;
3. address suppressed, enrollment replied/bounced/unsubscribed, or no envelope → cancelled;
4. stored bytes no longer the approved bytes → back to review (stale);
5. rendered for another day than the one its recipient reads it on if it leaves now
   (:func:`outreach.countdown.send_date`: the contact's timezone, else the campaign's) → send
   only if a re-render for that day does not differ: the caller asks its injected stale check
   (:attr:`Verdict.RERENDER`);
6. otherwise → send the stored bytes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from outreach.countdown import send_date
from outreach.dispatch.policy import CampaignInfo
from outreach.dispatch.values import Claim, Ready
from outreach.review.rules import content_ok
from outreach.states import EnrollmentStatus, MessageStatus

#: Enrollment states in which nothing more is sent to the contact.
STOPPED_ENROLLMENT = frozenset(
    {EnrollmentStatus.REPLIED, EnrollmentStatus.BOUNCED, EnrollmentStatus.UNSUBSCRIBED}
)
#: Why a message whose bytes changed after approval goes back to review.
NOT_APPROVED_BYTES = "the stored message is not the approved one (changed after approval)"


class LoadedMessage(Protocol):
    """A claimed message as loaded for its checks (:class:`outreach.repository.outbox.ChunkRow`)."""

    @property
    def id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def lease_token(self) -> str | None: ...
    @property
    def raw(self) -> bytes | None: ...
    @property
    def content_hash(self) -> str | None: ...
    @property
    def approved_hash(self) -> str | None: ...
    @property
    def envelope_from(self) -> str | None: ...
    @property
    def envelope_to(self) -> str | None: ...
    @property
    def rendered_for(self) -> date | None: ...
    @property
    def contact_timezone(self) -> str | None: ...


class Verdict(StrEnum):
    """What to do with one claimed message now."""

    RELEASE = "release"  #: campaign not active: back to approved, attempt given back
    CANCEL = "cancel"  #: must never go to this contact: cancelled
    STALE = "stale"  #: the bytes are not the approved ones: back to review
    RERENDER = "rerender"  #: send, unless a re-render for ``today`` differs (then stale)
    SEND = "send"  #: send the stored bytes


@dataclass(frozen=True)
class SendCheck:
    """The verdict on one claimed message; ``ready`` (its bytes and envelope) is set for
    ``send`` and ``rerender``, ``today`` (the recipient's date now, :func:`send_date`) for
    ``rerender``."""

    claim: Claim
    verdict: Verdict
    reason: str | None = None
    ready: Ready | None = None
    today: date | None = None


def still_held(rows: Iterable[LoadedMessage], claims: Mapping[int, Claim]) -> list[LoadedMessage]:
    """The rows still ``sending`` under the lease token of their claim (by message id)."""
    return [
        r
        for r in rows
        if r.status == MessageStatus.SENDING.value and r.lease_token == claims[r.id].lease_token
    ]


def check_chunk(
    held: Iterable[LoadedMessage],
    claims: Mapping[int, Claim],
    *,
    campaigns: Mapping[int, CampaignInfo],
    suppressed: Collection[str],
    enrollments: Mapping[tuple[int, int], str],
    now: datetime,
) -> list[SendCheck]:
    """The verdict on each of the ``held`` rows (see :func:`still_held`), in their order.

    ``suppressed`` holds lower-cased addresses; ``enrollments`` maps ``(campaign id, contact
    id)`` to the enrollment status.
    """
    return [
        _check_one(
            row,
            claims[row.id],
            campaigns=campaigns,
            suppressed=suppressed,
            enrollments=enrollments,
            now=now,
        )
        for row in held
    ]


def _check_one(
    row: LoadedMessage,
    claim: Claim,
    *,
    campaigns: Mapping[int, CampaignInfo],
    suppressed: Collection[str],
    enrollments: Mapping[tuple[int, int], str],
    now: datetime,
) -> SendCheck:
    info = campaigns.get(claim.campaign_id)
    if info is None or not info.active:
        return SendCheck(claim, Verdict.RELEASE, "campaign paused")
    enrollment = enrollments.get((claim.campaign_id, claim.contact_id))
    why_cancel = _cancel_reason(row, enrollment, suppressed)
    if why_cancel is not None:
        return SendCheck(claim, Verdict.CANCEL, why_cancel)
    if not content_ok(row.raw, row.content_hash, row.approved_hash):
        return SendCheck(claim, Verdict.STALE, NOT_APPROVED_BYTES)
    assert row.raw is not None and row.envelope_from and row.envelope_to
    ready = Ready(claim, row.raw, row.envelope_from, row.envelope_to)
    today = send_date(now, row.contact_timezone, info.timezone)
    if row.rendered_for is not None and row.rendered_for != today:
        return SendCheck(claim, Verdict.RERENDER, ready=ready, today=today)
    return SendCheck(claim, Verdict.SEND, ready=ready)


def _cancel_reason(
    row: LoadedMessage, enrollment: str | None, suppressed: Collection[str]
) -> str | None:
    """Why the message must not go to its contact, or ``None``."""
    if row.envelope_to and row.envelope_to.lower() in suppressed:
        return "address suppressed"
    if enrollment is not None and enrollment in STOPPED_ENROLLMENT:
        return f"enrollment {enrollment}"
    if not row.envelope_to or not row.envelope_from:
        return "no envelope sender or recipient"
    return None
