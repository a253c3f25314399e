"""The values dispatch passes between its steps: claims, sendable rows, attempt outcomes and
the summaries it reports. Frozen dataclasses; no behaviour beyond presenting themselves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

#: How an attempt ended, as recorded: ``released`` is "never reached the server" (the message
#: goes back to ``approved``); the others are the message states of the same name.
OutcomeKind = Literal["sent", "retrying", "failed", "unknown", "released"]


@dataclass(frozen=True)
class Claim:
    """One message this dispatcher holds under ``lease_token``; ``attempt`` is its number,
    ``claimed_at`` when this attempt was claimed."""

    message_id: int
    lease_token: str
    campaign_id: int
    contact_id: int
    attempt: int
    first_attempt_at: datetime
    claimed_at: datetime | None = None


@dataclass(frozen=True)
class Ready:
    """A claimed message that passed its send-time checks: the exact bytes to send."""

    claim: Claim
    raw: bytes
    envelope_from: str
    envelope_to: str


@dataclass(frozen=True)
class ClaimBatch:
    """What :func:`~outreach.dispatch.claims.claim_due` did: the claimed messages that passed
    their send-time checks (``ready``), how many due rows it looked at, why the others were
    left (``{"outside send window": 3, "daily limit reached": 1}``), what the checks did to
    the rest (``{"cancelled": 1, "stale": 2}``) and why (``reasons``: (outcome, reason) →
    count)."""

    ready: tuple[Ready, ...]
    scanned: int
    skipped: Mapping[str, int] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)
    reasons: Mapping[tuple[str, str], int] = field(default_factory=dict)

    @property
    def claims(self) -> tuple[Claim, ...]:
        return tuple(r.claim for r in self.ready)


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended, to be written by :func:`~outreach.dispatch.rounds.record_outcomes`.

    ``released``: never reached the server (attempt given back; ``due_at`` moves to
    ``next_attempt_at`` when set). ``phase`` is how far the attempt got; ``marked``: the attempt
    was recorded ``data_sent`` (it has an ``attempt`` row to finish).
    """

    claim: Claim
    kind: OutcomeKind
    at: datetime
    phase: str
    code: int | None = None
    response: str | None = None
    next_attempt_at: datetime | None = None
    bounce: bool = False
    envelope_to: str | None = None
    reason: str | None = None
    marked: bool = False


@dataclass(frozen=True)
class SweepCounts:
    """Expired leases found by :func:`~outreach.dispatch.sweep.sweep_expired`: back to
    ``approved`` / now ``unknown``."""

    released: int = 0
    unknown: int = 0

    def describe(self) -> str:
        """In words: ``expired leases: 2 back to approved, 1 unknown`` (or ``none``)."""
        if not (self.released or self.unknown):
            return "expired leases: none"
        return f"expired leases: {self.released} back to approved, {self.unknown} unknown"

    def __str__(self) -> str:
        return self.describe()


@dataclass(frozen=True)
class DispatchSummary:
    """What one :meth:`~outreach.dispatch.engine.Dispatcher.run_once` did. ``skipped_reasons``
    counts due messages not claimed or not sent and why; ``lost_lease`` counts rows another
    process took over; ``reasons`` groups the messages that did not go by outcome and reason
    (``{"retrying": {"connection refused by 127.0.0.1:25": 2}}``); ``relay_unreachable`` is
    true when no connection to the SMTP relay could be made at all."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    stale: int = 0
    released: int = 0
    unknown: int = 0
    lost_lease: int = 0
    swept_released: int = 0
    swept_unknown: int = 0
    skipped_reasons: Mapping[str, int] = field(default_factory=dict)
    reasons: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    relay_unreachable: bool = False

    @classmethod
    def from_counts(
        cls,
        counts: Mapping[str, int],
        *,
        swept: SweepCounts,
        skipped: Mapping[str, int],
        reasons: Mapping[tuple[str, str], int] | None = None,
        reached: bool | None = None,
    ) -> DispatchSummary:
        """The summary of a run that wrote ``counts`` (by outcome kind) after ``swept``, with
        ``reasons`` by (outcome kind, reason); ``reached``: whether an SMTP connection could
        be made (``None``: none was tried)."""
        grouped: dict[str, dict[str, int]] = {}
        for (kind, reason), n in sorted((reasons or {}).items()):
            grouped.setdefault(kind, {})[reason] = n
        return cls(
            sent=counts.get("sent", 0),
            retrying=counts.get("retrying", 0),
            failed=counts.get("failed", 0),
            cancelled=counts.get("cancelled", 0),
            stale=counts.get("stale", 0),
            released=counts.get("released", 0),
            unknown=counts.get("unknown", 0),
            lost_lease=counts.get("lost_lease", 0),
            swept_released=swept.released,
            swept_unknown=swept.unknown,
            skipped_reasons=dict(skipped),
            reasons=grouped,
            relay_unreachable=reached is False,
        )

    def describe(self) -> str:
        """One line: the counts, then each reason (what the daemon's job log records)."""
        counts = [
            f"{n} {k}"
            for k, n in self.as_dict().items()
            if type(n) is int and n  # not the dicts, not relay_unreachable
        ]
        why = [f"{n} {k}: {r}" for k, by in self.reasons.items() for r, n in by.items()]
        return "; ".join([", ".join(counts) or "nothing due", *why])

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "retrying": self.retrying,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "stale": self.stale,
            "released": self.released,
            "unknown": self.unknown,
            "lost_lease": self.lost_lease,
            "swept_released": self.swept_released,
            "swept_unknown": self.swept_unknown,
            "skipped": dict(self.skipped_reasons),
            "reasons": {kind: dict(by) for kind, by in self.reasons.items()},
            "relay_unreachable": self.relay_unreachable,
        }
