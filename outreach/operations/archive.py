"""``outreach campaign archive``: a finished campaign frozen for good — no planning, no
sending, no reload — and kept, with its letters, replies and funnel, for reporting.

A campaign is finished when none of its letters is being sent or of unknown fate (an operator
resolves those first) and none is still to go out — or the operator asks for those to be
cancelled (``--cancel-unsent``), through the lifecycle, with their events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from outreach.db import Engine, session_scope
from outreach.errors import ArchivedError
from outreach.lifecycle import transition_many
from outreach.repository.campaigns import get_campaign, set_campaign_state
from outreach.repository.funnel import message_counts
from outreach.repository.planning import messages_in_states
from outreach.states import UNSENT, CampaignState, MessageStatus

#: States that hold an archive back whatever the operator asks.
BLOCKING = (MessageStatus.SENDING, MessageStatus.UNKNOWN)


@dataclass(frozen=True)
class ArchiveResult:
    """Whether the campaign was archived now (False: it already was), and how many unsent
    letters were cancelled."""

    archived: bool
    cancelled: int


def archive_campaign(
    engine: Engine, *, slug: str, cancel_unsent: bool, reason: str | None, now: datetime, actor: str
) -> ArchiveResult:
    """Archive campaign ``slug`` (see the module docstring); :class:`ArchivedError` with one
    line, nothing changed, when a letter is being sent, of unknown fate, or unsent without
    ``cancel_unsent``."""
    with session_scope(engine) as session:
        campaign = get_campaign(session, slug=slug)
        assert campaign.id is not None
        if campaign.state == CampaignState.ARCHIVED.value:
            return ArchiveResult(False, 0)
        counts = message_counts(session, campaign_ids=[campaign.id]).get(campaign.id, {})
        for state in BLOCKING:
            if counts.get(state.value):
                raise ArchivedError(
                    f"{slug}: {counts[state.value]} letter(s) {state.value}; "
                    + (
                        "wait for the dispatcher"
                        if state == MessageStatus.SENDING
                        else "resolve them (queue resolve)"
                    )
                    + " before archiving"
                )
        unsent = {s: counts.get(s.value, 0) for s in sorted(UNSENT) if counts.get(s.value)}
        if unsent and not cancel_unsent:
            listed = ", ".join(f"{n} {s.value}" for s, n in unsent.items())
            raise ArchivedError(
                f"{slug}: letters not sent yet ({listed}); --cancel-unsent cancels them"
            )
        cancelled = 0
        for state in unsent:
            ids = [
                m.id for m in messages_in_states(session, campaign_id=campaign.id, statuses=[state])
            ]
            cancelled += len(
                transition_many(
                    session,
                    [i for i in ids if i is not None],
                    current=state,
                    to=MessageStatus.CANCELLED,
                    now=now,
                    actor=actor,
                    reason="campaign archived",
                )
            )
        set_campaign_state(
            session,
            slug=slug,
            state=CampaignState.ARCHIVED.value,
            now=now,
            actor=actor,
            reason=reason,
        )
    return ArchiveResult(True, cancelled)


def refuse_archived(state: str, slug: str, doing: str) -> None:
    """Raise :class:`ArchivedError` when ``state`` is archived (``doing``: what was asked)."""
    if state == CampaignState.ARCHIVED.value:
        raise ArchivedError(f"{slug} is archived (frozen for reporting): cannot {doing}")
