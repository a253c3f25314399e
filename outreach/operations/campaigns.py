"""Campaign operations: load campaign files (re-planning what a change affects), pause and
resume, and one campaign described for ``campaign show``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from outreach.campaigns import load_campaign_path
from outreach.db import Engine, Session, session_scope
from outreach.funnel import milestone_countdown
from outreach.planner import replan
from outreach.repository.campaigns import (
    SaveResult,
    get_campaign,
    load_campaign,
    save_campaign,
    set_campaign_state,
    when_to_json,
)
from outreach.settings import Settings
from outreach.states import CampaignState


@dataclass(frozen=True)
class CampaignLoad:
    """What loading one campaign file did, and how many queued messages it re-planned or
    cancelled (``{"replanned": n, "cancelled": n}``; empty when nothing was re-planned)."""

    result: SaveResult
    replanned: dict[str, int]


def load_campaigns(
    engine: Engine, path: Path, *, settings: Settings, now: datetime, actor: str
) -> list[CampaignLoad]:
    """Validate every campaign file under ``path`` completely, then save them all in one
    transaction (and re-plan unsent messages a change affects). A bad file raises
    :class:`~outreach.errors.CampaignFileError` and nothing is written."""
    specs = load_campaign_path(
        Path(path),
        templates_dir=Path(settings.templates_dir),
        max_file_bytes=settings.max_attachment_bytes,
    )
    out = []
    with session_scope(engine) as session:
        for spec in specs:
            result = save_campaign(session, spec, now=now, actor=actor)
            replanned = {}
            if result.action == "updated":
                loaded = load_campaign(session, campaign=get_campaign(session, slug=spec.slug))
                replanned = replan(session, loaded, now=now, settings=settings, actor=actor)
            out.append(CampaignLoad(result, replanned))
    return out


def pause_campaign(engine: Engine, *, slug: str, paused: bool, now: datetime, actor: str) -> bool:
    """Pause (or, with ``paused`` False, resume) the campaign ``slug``; False when it already
    was in that state."""
    state = CampaignState.PAUSED if paused else CampaignState.ACTIVE
    with session_scope(engine) as session:
        return set_campaign_state(session, slug=slug, state=state.value, now=now, actor=actor)


def describe_campaign(session: Session, *, slug: str, now: datetime) -> dict[str, Any]:
    """One campaign as ``campaign show --json`` prints it: its settings, its milestones with
    days to go at ``now``, and its active steps. NotFoundError when there is no such campaign."""
    loaded = load_campaign(session, campaign=get_campaign(session, slug=slug))
    spec, c = loaded.spec, loaded.campaign
    return {
        "slug": c.slug,
        "name": c.name,
        "state": c.state,
        "timezone": c.timezone,
        "require_approval": c.require_approval,
        "approvals_required": c.approvals_required,
        "review_channel": c.review_channel,
        "lookahead_days": c.lookahead_days,
        "sender": {"name": c.sender_name, "email": c.sender_email, "reply_to": c.reply_to},
        "sending": c.sending,
        "audience_tags": c.audience_tags,
        "vars": c.vars,
        "milestones": [
            {**milestone_countdown(m, now, c.timezone), "location": m.location}
            for m in spec.milestones
        ],
        "steps": [
            {
                "key": s.key,
                "template": s.template,
                "when": when_to_json(s.when),
                "audience_tags": list(s.audience_tags) if s.audience_tags is not None else None,
                "letter": s.letter,
                "attachments": [
                    {"path": f.path, "content_type": f.content_type, "size": f.size}
                    for f in s.attachments
                ],
                "calendar": s.calendar,
            }
            for s in spec.steps
        ],
        "source": c.source_path,
    }
