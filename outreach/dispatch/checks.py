"""The send-time checks (DESIGN.md rules 1 and 5) as a pure function over loaded values.

In the claim's transaction, :func:`outreach.dispatch.claims.claim_due` loads the due rows, their
campaigns, the suppressed addresses and the enrollments, and asks :func:`check_candidates` what
to do with each one; only the rows that pass are claimed. Claims are taken a batch at a time,
just ahead of the connections (see :func:`outreach.dispatch.policy.claim_sizes`), so the checks
are a fraction of a second old when the bytes go out. No database, no clock: ``now`` is a
parameter.

The order of the checks, first failure wins:

1. campaign not active (paused) → left as it is (not claimed);
2. address suppressed, enrollment replied/bounced/unsubscribed, or no envelope → cancelled;
3. stored bytes no longer the approved bytes → back to review (stale);
4. rendered for another day than the one its recipient reads it on if it leaves now
   (:func:`outreach.countdown.send_date`: the contact's timezone, else the campaign's) → send
   only if a re-render for that day does not differ: the caller asks its injected stale check
   (:attr:`Verdict.RERENDER`);
5. otherwise → claim it and send the stored bytes.
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
from outreach.states import EnrollmentStatus

#: Enrollment states in which nothing more is sent to the contact.
STOPPED_ENROLLMENT = frozenset(
    {EnrollmentStatus.REPLIED, EnrollmentStatus.BOUNCED, EnrollmentStatus.UNSUBSCRIBED}
)
#: Why a message whose bytes changed after approval goes back to review.
NOT_APPROVED_BYTES = "the stored message is not the approved one (changed after approval)"


class LoadedMessage(Protocol):
    """A due message as loaded for its checks
    (:class:`outreach.repository.outbox.ClaimCandidate`)."""

    @property
    def id(self) -> int: ...
    @property
    def campaign_id(self) -> int: ...
    @property
    def contact_id(self) -> int: ...
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
    """What to do with one due message now."""

    RELEASE = "release"  #: campaign not active: not claimed, left as it is
    CANCEL = "cancel"  #: must never go to this contact: cancelled
    STALE = "stale"  #: the bytes are not the approved ones: back to review
    RERENDER = "rerender"  #: send, unless a re-render for ``today`` differs (then stale)
    SEND = "send"  #: claim it and send the stored bytes


@dataclass(frozen=True)
class SendCheck:
    """The verdict on one due message; ``today`` (the recipient's date now, :func:`send_date`)
    is set for ``rerender``."""

    row: LoadedMessage
    verdict: Verdict
    reason: str | None = None
    today: date | None = None


def check_candidates(
    rows: Iterable[LoadedMessage],
    *,
    campaigns: Mapping[int, CampaignInfo],
    suppressed: Collection[str],
    enrollments: Mapping[tuple[int, int], str],
    now: datetime,
) -> list[SendCheck]:
    """The verdict on each of the due ``rows``, in their order.

    ``suppressed`` holds lower-cased addresses; ``enrollments`` maps ``(campaign id, contact
    id)`` to the enrollment status.
    """
    return [
        _check_one(
            row, campaigns=campaigns, suppressed=suppressed, enrollments=enrollments, now=now
        )
        for row in rows
    ]


def _check_one(
    row: LoadedMessage,
    *,
    campaigns: Mapping[int, CampaignInfo],
    suppressed: Collection[str],
    enrollments: Mapping[tuple[int, int], str],
    now: datetime,
) -> SendCheck:
    info = campaigns.get(row.campaign_id)
    if info is None or not info.active:
        return SendCheck(row, Verdict.RELEASE, "campaign paused")
    enrollment = enrollments.get((row.campaign_id, row.contact_id))
    why_cancel = _cancel_reason(row, enrollment, suppressed)
    if why_cancel is not None:
        return SendCheck(row, Verdict.CANCEL, why_cancel)
    if not content_ok(row.raw, row.content_hash, row.approved_hash):
        return SendCheck(row, Verdict.STALE, NOT_APPROVED_BYTES)
    today = send_date(now, row.contact_timezone, info.timezone)
    if row.rendered_for is not None and row.rendered_for != today:
        return SendCheck(row, Verdict.RERENDER, today=today)
    return SendCheck(row, Verdict.SEND)


def ready_for(row: LoadedMessage, claim: Claim) -> Ready:
    """The :class:`Ready` item of a claimed row that passed its checks: its exact bytes and
    envelope under ``claim``."""
    assert row.raw is not None and row.envelope_from and row.envelope_to
    return Ready(claim, row.raw, row.envelope_from, row.envelope_to)


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
