"""Campaign operations: load campaign files (re-planning what a change affects), pause and
resume, and one campaign described for ``campaign show``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from outreach.campaigns import load_campaign_path
from outreach.db import Engine, Session, session_scope
from outreach.fieldcopy import attributes
from outreach.funnel import milestone_countdown
from outreach.operations.archive import refuse_archived
from outreach.planner import replan
from outreach.planner.letters import renderer_for
from outreach.planner.selection import in_audience, past_step_note
from outreach.repository.campaigns import (
    SaveResult,
    archived_campaign_id,
    get_campaign,
    load_campaign,
    save_campaign,
    set_campaign_state,
    when_to_json,
)
from outreach.repository.contacts import list_contacts
from outreach.settings import Settings
from outreach.states import CampaignState

#: What loading the file of an archived campaign does: nothing.
ARCHIVED_LOAD = "archived, not reloaded"


@dataclass(frozen=True)
class CampaignLoad:
    """What loading one campaign file did, how many queued messages it re-planned or
    cancelled (``{"replanned": n, "cancelled": n}``; empty when nothing was re-planned), and
    a warning for each step whose date is past (:func:`~outreach.planner.selection.past_step_note`)."""

    result: SaveResult
    replanned: dict[str, int]
    warnings: tuple[str, ...] = ()


def load_campaigns(
    engine: Engine, path: Path, *, settings: Settings, now: datetime, actor: str
) -> list[CampaignLoad]:
    """Validate every campaign file under ``path`` completely — each file, every file it names,
    and every template (and letter template) its steps use must compile — then save them all in
    one transaction (and re-plan unsent messages a change affects). Any problem raises one
    :class:`~outreach.errors.CampaignFileError` naming every problem of every file, and
    nothing is written. The file of an archived campaign is validated and left unloaded
    (:data:`ARCHIVED_LOAD`)."""
    templates_dir = Path(settings.templates_dir)
    specs = load_campaign_path(
        Path(path),
        templates_dir=templates_dir,
        check_template=renderer_for(templates_dir).check,
        max_file_bytes=settings.max_attachment_bytes,
    )
    out = []
    with session_scope(engine) as session:
        for spec in specs:
            archived = archived_campaign_id(session, slug=spec.slug)
            if archived is not None:
                out.append(CampaignLoad(SaveResult(spec.slug, ARCHIVED_LOAD, (), archived), {}))
                continue
            result = save_campaign(session, spec, now=now, actor=actor)
            replanned = {}
            if result.action == "updated":
                loaded = load_campaign(session, campaign=get_campaign(session, slug=spec.slug))
                replanned = replan(session, loaded, now=now, settings=settings, actor=actor)
            warnings = (past_step_note(step, spec, now) for step in spec.steps)
            out.append(CampaignLoad(result, replanned, tuple(w for w in warnings if w)))
    return out


@dataclass(frozen=True)
class AudienceSplit:
    """Who of the contacts a campaign writes to: how many are in its audience, and those who
    are not, with their tags (why the number of enrollments is not the number of contacts)."""

    audience_tags: tuple[str, ...]
    inside: int
    outside: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def total(self) -> int:
        return self.inside + len(self.outside)

    def describe(self) -> str:
        """``38 of the 42 contacts are in the campaign's audience (…); the other 4 get no
        letters: a@example.org (ratified, europe), …``"""
        tags = ", ".join(self.audience_tags) or "none: every contact"
        head = (
            f"{self.inside} of the {self.total} contacts are in the campaign's audience "
            f"(any of the tags: {tags})"
        )
        if not self.outside:
            return head
        others = ", ".join(f"{email} ({', '.join(t) or 'no tags'})" for email, t in self.outside)
        return f"{head}; the other {len(self.outside)} get no letters: {others}"


def campaign_audience(session: Session, *, slug: str) -> AudienceSplit:
    """Which contacts are in the audience of the campaign ``slug`` (the planner's rule,
    :func:`~outreach.planner.selection.in_audience`)."""
    spec = load_campaign(session, campaign=get_campaign(session, slug=slug)).spec
    inside = 0
    outside: list[tuple[str, tuple[str, ...]]] = []
    for contact in list_contacts(session):
        if in_audience(contact.tags, spec):
            inside += 1
        else:
            outside.append((contact.email, tuple(contact.tags)))
    return AudienceSplit(spec.audience_tags, inside, tuple(outside))


def pause_campaign(engine: Engine, *, slug: str, paused: bool, now: datetime, actor: str) -> bool:
    """Pause (or, with ``paused`` False, resume) the campaign ``slug``; False when it already
    was in that state."""
    state = CampaignState.PAUSED if paused else CampaignState.ACTIVE
    with session_scope(engine) as session:
        refuse_archived(
            get_campaign(session, slug=slug).state, slug, "pause" if paused else "resume"
        )
        return set_campaign_state(session, slug=slug, state=state.value, now=now, actor=actor)


#: The settings ``campaign show --json`` prints before the sender, as the campaign row names them.
_SETTINGS = (
    "slug",
    "name",
    "state",
    "timezone",
    "require_approval",
    "approvals_required",
    "review_channel",
    "lookahead_days",
)


def describe_campaign(session: Session, *, slug: str, now: datetime) -> dict[str, Any]:
    """One campaign as ``campaign show --json`` prints it: its settings, its milestones with
    days to go at ``now``, and its active steps. NotFoundError when there is no such campaign."""
    loaded = load_campaign(session, campaign=get_campaign(session, slug=slug))
    spec, c = loaded.spec, loaded.campaign
    return {
        **attributes(c, *_SETTINGS),
        "sender": {"name": c.sender_name, "email": c.sender_email, "reply_to": c.reply_to},
        **attributes(c, "sending", "audience_tags", "vars"),
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
