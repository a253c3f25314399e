"""What the classifier says about one message: :class:`ClassificationResult`. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from outreach.replies.evidence import Evidence, Strength
from outreach.states import Classification

#: The evidence of a result built without any (tests, older callers): conclusive, unnamed.
UNSTATED = Evidence(decided_by="unstated")


@dataclass(frozen=True)
class ClassificationResult:
    """What a message is, why (one line for the audit log), for bounces which address and
    status, and the :class:`~outreach.replies.evidence.Evidence` that decided it."""

    kind: Classification
    reason: str
    bounce_status: str | None = None
    bounced_address: str | None = None
    evidence: Evidence = UNSTATED

    @property
    def conclusive(self) -> bool:
        """Whether the evidence proves the class (only conclusive hard bounces suppress)."""
        return self.evidence.strength == Strength.CONCLUSIVE

    @property
    def needs_review(self) -> bool:
        """Whether a person should confirm the class."""
        return self.evidence.needs_review
