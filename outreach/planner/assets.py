"""Files a campaign names that changed on disk (a new version of the attached text, a new
signature): noticed at each planning pass, recorded as a reload would record them, and the
unsent letters that carry them re-planned — back to review with their new attachments and
hash (the stale rule, for files). A letter already approved never leaves with files other
than those its reviewer saw: it either goes as approved, before the change is noticed, or
back to review."""

from __future__ import annotations

from datetime import datetime

from outreach.attachments.files import changed_files
from outreach.db import Engine, session_scope
from outreach.models import Campaign
from outreach.planner.replan import Replanned, replan
from outreach.repository.campaigns import load_campaign, refresh_files
from outreach.settings import Settings


def refresh_changed_files(
    engine: Engine, campaign: Campaign, *, now: datetime, settings: Settings, actor: str
) -> int:
    """When files ``campaign`` names differ on disk from what was recorded: record their new
    digests (with an event) and re-plan the campaign's unsent letters (see
    :func:`outreach.planner.replan.replan`), in one transaction. Returns how many letters went
    back to review (0 when no file changed)."""
    assert campaign.id is not None
    with session_scope(engine) as session:
        loaded = load_campaign(session, campaign=campaign)
        changed = changed_files(loaded.spec.files())
        if not changed:
            return 0
        refresh_files(session, campaign_id=campaign.id, fresh=changed, now=now, actor=actor)
        reloaded = load_campaign(session, campaign=campaign)
        names = ", ".join(sorted(ref.path for ref in changed.values()))
        counts = replan(
            session,
            reloaded,
            now=now,
            settings=settings,
            actor=actor,
            cause=f"files changed on disk ({names})",
        )
    return counts[Replanned.REPLANNED.value]
