"""A preview: one letter rendered and composed exactly as planning at ``now`` would queue it
(``outreach templates preview``); nothing is stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from outreach.compose import make_message_id
from outreach.countdown import step_due
from outreach.db import Session
from outreach.errors import NotFoundError, PastStepError
from outreach.models import Contact
from outreach.planner.letters import Letter, make_letter, message_id_domain, renderer_for
from outreach.planner.selection import past_step_note, send_moment
from outreach.repository import planning as queries
from outreach.repository.campaigns import get_campaign, load_campaign
from outreach.settings import Settings
from outreach.spec import AfterWhen, CampaignSpec, StepSpec
from outreach.templating import RenderedEmail, TemplateRenderer


@dataclass(frozen=True)
class Preview:
    rendered: RenderedEmail
    scheduled_for: datetime | None
    send_day: date
    raw: bytes


def preview(
    session: Session,
    *,
    campaign: str,
    step: str,
    contact_email: str,
    now: datetime,
    settings: Settings,
) -> Preview:
    """Render and compose one letter exactly as planning at ``now`` would queue it. A
    follow-up is previewed as if the step it follows had been sent to the contact at ``now``
    (or when it was, if it was). A dated step that is past at ``now`` (planning will not queue
    it) raises :class:`PastStepError` saying so, instead of a letter counting down to a date
    already gone."""
    loaded = load_campaign(session, campaign=get_campaign(session, slug=campaign))
    spec = loaded.spec
    try:
        step_spec = spec.step(step)
    except KeyError:
        known = ", ".join(s.key for s in spec.steps)
        raise NotFoundError(
            f"campaign {campaign!r} has no step {step!r} (steps: {known})"
        ) from None
    contact = queries.contact_by_email(session, email=contact_email)
    if contact is None:
        raise NotFoundError(f"no contact {contact_email!r}")
    previous_sent_at = None
    if isinstance(step_spec.when, AfterWhen):
        previous = loaded.steps[step_spec.when.after]
        assert previous.id is not None and contact.id is not None
        previous_sent_at = (
            queries.sent_at(session, step_id=previous.id, contact_id=contact.id) or now
        )
    due = step_due(step_spec, spec, previous_sent_at=previous_sent_at)
    past = past_step_note(step_spec, spec, now)
    if past is not None and due is not None:
        raise PastStepError(
            f"{past}; preview it as it was with --now {due.astimezone(UTC):%Y-%m-%dT%H:%MZ}"
        )
    scheduled = send_moment(due or now, now=now, spec=spec, contact_tz=contact.timezone)
    letter = sample_letter(
        renderer_for(settings.templates_dir),
        spec,
        step_spec,
        contact,
        scheduled_for=scheduled,
        unique="preview",
        settings=settings,
    )
    return Preview(letter.rendered, scheduled, letter.send_day, letter.raw)


def sample_letter(
    renderer: TemplateRenderer,
    spec: CampaignSpec,
    step: StepSpec,
    contact: Contact,
    *,
    scheduled_for: datetime,
    unique: str,
    settings: Settings,
) -> Letter:
    """``step`` made for ``contact`` exactly as planning would (:func:`make_letter`), under a
    Message-ID of the campaign's domain that ``unique`` marks as never sent (``preview``,
    ``check``)."""
    return make_letter(
        renderer,
        spec,
        step,
        contact,
        scheduled_for=scheduled_for,
        message_id=make_message_id(domain=message_id_domain(spec, settings), unique=unique),
        settings=settings,
    )
