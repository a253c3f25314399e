"""What a planning pass reports: letters queued, auto-approved, re-rendered, missed, and the
render errors (one line each, naming campaign, step and contact)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RenderError:
    campaign: str
    step: str
    contact: str
    error: str


@dataclass
class PlanReport:
    """What one planning pass did."""

    queued: int = 0
    auto_approved: int = 0
    render_errors: list[RenderError] = field(default_factory=list)
    rerendered: int = 0
    campaigns: dict[str, int] = field(default_factory=dict)
    skipped_paused: list[str] = field(default_factory=list)
    missed: int = 0

    def count_queued(self, campaign: str, *, approved: bool) -> None:
        """Count one letter queued for ``campaign`` (``approved``: approved at once)."""
        self.queued += 1
        self.campaigns[campaign] = self.campaigns.get(campaign, 0) + 1
        if approved:
            self.auto_approved += 1

    def merge(self, other: PlanReport) -> None:
        self.queued += other.queued
        self.auto_approved += other.auto_approved
        self.render_errors.extend(other.render_errors)
        self.rerendered += other.rerendered
        for k, v in other.campaigns.items():
            self.campaigns[k] = self.campaigns.get(k, 0) + v
        self.skipped_paused.extend(other.skipped_paused)
        self.missed += other.missed
