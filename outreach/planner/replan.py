"""Letters already queued, planned again: after a campaign reload (:func:`replan`), when the
dispatcher finds a letter would leave on another day than the one it was rendered for (the
stale check, :func:`stale_reason_for`, and :func:`rerender` at the next planning pass), and
when a template that failed may have been fixed (:func:`rerender`).

They all take one path: :meth:`Replanning.render_again` renders and composes the letter for
its (new) send moment, or records ``render_error``; :meth:`Replanning.requeue` puts the new
content on the message and sends it (back) to review, through :mod:`outreach.lifecycle`. A reviewer-edited letter is
never re-rendered (its text is a person's); only its schedule may move.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from outreach.db import Engine, Session, session_scope
from outreach.errors import OutreachError
from outreach.lifecycle import transition
from outreach.models import Contact, Message, Step
from outreach.planner.letters import (
    Letter,
    attachment_differences,
    differences,
    kept_letter,
    kept_token,
    make_letter,
    render_attachments,
    render_letter,
    renderer_for,
)
from outreach.planner.report import PlanReport, RenderError
from outreach.planner.selection import in_audience, rescheduled, send_moment
from outreach.repository import planning as queries
from outreach.repository.campaigns import LoadedCampaign, load_campaign
from outreach.review import AUTO_APPROVE_NOTE
from outreach.review.approvals import clear_approvals
from outreach.settings import Settings
from outreach.spec import AfterWhen, CampaignSpec, StepSpec
from outreach.states import MessageStatus
from outreach.templating import TemplateRenderer

# -- the one re-render path -----------------------------------------------------------------


@dataclass(frozen=True)
class Replanning:
    """What re-planning the letters of one campaign shares: the campaign, the renderer, the
    settings, the moment (``now``) and who acts (``actor``, recorded in the events)."""

    spec: CampaignSpec
    renderer: TemplateRenderer
    settings: Settings
    now: datetime
    actor: str

    def move(self, session: Session, message: Message, to: MessageStatus, **kwargs: Any) -> None:
        """:func:`~outreach.lifecycle.transition` of ``message`` to ``to`` at this moment, by
        this actor (``kwargs``: the reason, action, data and changed columns)."""
        transition(session, message, to, now=self.now, actor=self.actor, **kwargs)

    def render_again(
        self,
        session: Session,
        message: Message,
        step: StepSpec,
        contact: Contact,
        *,
        scheduled_for: datetime,
        reason_prefix: str = "",
    ) -> Letter | None:
        """``message`` rendered and composed again (same Message-ID) as it reads when it
        leaves at ``scheduled_for``; ``None`` when that fails, the failure recorded on the
        message as ``render_error`` (once per distinct error; ``message.render_error`` then
        says what failed)."""
        try:
            return make_letter(
                self.renderer,
                self.spec,
                step,
                contact,
                scheduled_for=scheduled_for,
                message_id=message.message_id,
                settings=self.settings,
                unsubscribe_token=kept_token(message, self.settings),
            )
        except OutreachError as exc:  # template failures and refused header content
            if (
                message.status != MessageStatus.RENDER_ERROR.value
                or message.render_error != exc.message
            ):
                self.move(
                    session,
                    message,
                    MessageStatus.RENDER_ERROR,
                    reason=reason_prefix + exc.message,
                    render_error=exc.message,
                )
            return None

    def requeue(
        self,
        session: Session,
        message: Message,
        letter: Letter,
        *,
        action: str,
        reason: str,
        **changes: Any,
    ) -> None:
        """Put ``letter`` on ``message`` and send it (back) to review with its earlier
        approvals deleted (the event names them) and no stale mark; a campaign that needs no
        approval approves it again at once (and the event log says so)."""
        assert message.id is not None
        cleared = clear_approvals(session, message_id=message.id)
        self.move(
            session,
            message,
            MessageStatus.PENDING_REVIEW,
            action=action,
            reason=reason,
            data={"cleared_approvals": list(cleared)} if cleared else None,
            approved_hash=None,
            stale_reason=None,
            **letter.columns(),
            **changes,
        )
        if not self.spec.require_approval:
            self.move(
                session,
                message,
                MessageStatus.APPROVED,
                reason=AUTO_APPROVE_NOTE,
                approved_hash=letter.sha256,
            )


# -- render errors and stale letters, at each planning pass ------------------------------------


def rerender(
    engine: Engine,
    spec: CampaignSpec,
    ids: Sequence[int],
    *,
    stale: bool,
    now: datetime,
    settings: Settings,
    actor: str,
    report: PlanReport,
) -> None:
    """Render messages again for the day they will now leave (their schedule, or the next
    window opening when that has passed) and send them back to review:

    * ``render_error`` messages — the template may be fixed now;
    * stale messages (``stale=True``: the dispatcher found they would leave on another day than
      the one they were rendered for, and they were not rendered again then) — so that what the
      reviewer approves next is what will be true when it leaves.
    """
    how = Replanning(spec, renderer_for(settings.templates_dir), settings, now, actor)
    with session_scope(engine) as session:
        messages = queries.messages_by_ids(session, ids=ids)
        steps = queries.steps_by_id(session, ids={m.step_id for m in messages})
        contacts = queries.contacts_by_id(session, ids={m.contact_id for m in messages})
        for m in messages:
            step_row, contact = steps.get(m.step_id), contacts.get(m.contact_id)
            if step_row is None or contact is None or not step_row.active:
                continue
            _rerender_one(session, m, step_row.key, contact, how, stale=stale, report=report)


def _rerender_one(
    session: Session,
    m: Message,
    step_key: str,
    contact: Contact,
    how: Replanning,
    *,
    stale: bool,
    report: PlanReport,
) -> None:
    """Render ``m`` again for the moment it will now leave (a reviewer's text is kept and
    composed again) and requeue it; a failure is recorded as ``render_error``."""
    spec = how.spec
    scheduled = send_moment(m.scheduled_for, now=how.now, spec=spec, contact_tz=contact.timezone)
    step = spec.step(step_key)
    if m.edited:
        letter: Letter | None = kept_letter(
            m, spec, step, contact, scheduled_for=scheduled, settings=how.settings
        )
    else:
        letter = how.render_again(session, m, step, contact, scheduled_for=scheduled)
    if letter is None:
        error = m.render_error or ""
        report.render_errors.append(RenderError(spec.slug, step.key, contact.email, error))
        return
    how.requeue(
        session,
        m,
        letter,
        action="rerendered",
        reason=(
            f"stale: re-rendered for {letter.send_day}" if stale else "the template renders again"
        ),
        scheduled_for=scheduled,
        due_at=scheduled,
    )
    report.rerendered += 1
    if not stale:
        report.queued += 1


def rerender_stale(
    session: Session, ids: Sequence[int], *, now: datetime, settings: Settings, actor: str
) -> PlanReport:
    """The letters the dispatcher just sent back to review as stale, rendered again at once in
    the caller's transaction for the moment they will now leave (a reviewer's text composed
    again), so reviewers see — and approve — the new text; one that no longer renders becomes
    ``render_error``. Letters of removed steps are left for the next reload."""
    report = PlanReport()
    renderer = renderer_for(settings.templates_dir)
    specs: dict[int, CampaignSpec] = {}
    for m in queries.messages_by_ids(session, ids=ids):
        parties = queries.message_parties(session, message=m)
        if not parties.step.active:
            continue
        if m.campaign_id not in specs:
            specs[m.campaign_id] = load_campaign(session, campaign=parties.campaign).spec
        how = Replanning(specs[m.campaign_id], renderer, settings, now, actor)
        _rerender_one(session, m, parties.step.key, parties.contact, how, stale=True, report=report)
    return report


# -- the stale check, at send time ------------------------------------------------------------


def stale_reason_for(
    session: Session, message: Message, *, today: date, settings: Settings
) -> str | None:
    """Why ``message`` must go back to review when sent on ``today`` instead of the day it was
    rendered for: a reason when a re-render for ``today`` differs, else ``None``. A
    reviewer-edited message is never re-rendered (its text is a person's)."""
    if message.edited or message.rendered_for == today or message.template is None:
        return None
    parties = queries.message_parties(session, message=message)
    spec = load_campaign(session, campaign=parties.campaign).spec
    try:
        step = spec.step(parties.step.key)
    except KeyError:
        return f"step {parties.step.key!r} is no longer in the campaign"
    renderer = renderer_for(settings.templates_dir)
    try:
        rendered, _ = render_letter(renderer, spec, step, parties.contact, send_day=today)
        diffs = differences(message, rendered)
        if not diffs and step.encloses:
            attachments = render_attachments(
                renderer,
                spec,
                step,
                parties.contact,
                scheduled_for=message.scheduled_for,
                settings=settings,
                send_day=today,
            )
            diffs = attachment_differences(message.body.raw, attachments)
    except OutreachError as exc:  # template failures, letters that fail to print
        return f"re-render for {today} failed: {exc.message}"
    if not diffs:
        return None
    return (
        f"rendered for {message.rendered_for}, sent on {today}: {' and '.join(diffs)} would differ"
    )


# -- after a campaign reload --------------------------------------------------------------------


#: The states of a message that a reload may re-plan (not yet sent, not being sent).
REPLANNABLE = (
    MessageStatus.PENDING_REVIEW,
    MessageStatus.APPROVED,
    MessageStatus.RETRYING,
)


class Replanned(StrEnum):
    """What a reload did to one message (the keys of :func:`replan`'s counts)."""

    REPLANNED = "replanned"
    CANCELLED = "cancelled"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class _Reload:
    """What re-planning each message of a reloaded campaign shares."""

    how: Replanning
    loaded: LoadedCampaign
    steps_by_id: dict[int, Step]
    contacts: dict[int, Contact]
    sent_at: dict[tuple[int, int], datetime | None]
    cause: str = "campaign reloaded"


def replan(
    session: Session,
    loaded: LoadedCampaign,
    *,
    now: datetime,
    settings: Settings,
    actor: str,
    cause: str = "campaign reloaded",
) -> dict[str, int]:
    """After a reload: unsent messages whose schedule or content (attachments included)
    changes are re-rendered and go back to ``pending_review`` (the event says why, starting
    with ``cause``); messages of removed steps, or for contacts no longer in the audience, are
    cancelled. Sent messages are never touched; reviewer-edited messages keep their text and
    attachments (only their schedule may move)."""
    counts = {outcome.value: 0 for outcome in Replanned}
    campaign_id = loaded.campaign.id
    assert campaign_id is not None
    messages = queries.messages_in_states(session, campaign_id=campaign_id, statuses=REPLANNABLE)
    if not messages:
        return counts
    reload = _Reload(
        how=Replanning(loaded.spec, renderer_for(settings.templates_dir), settings, now, actor),
        loaded=loaded,
        steps_by_id={row.id: row for row in loaded.steps.values() if row.id is not None},
        contacts=queries.contacts_by_id(session, ids={m.contact_id for m in messages}),
        sent_at=queries.sent_at_by_step_and_contact(session, campaign_id=campaign_id),
        cause=cause,
    )
    for m in messages:
        counts[_replan_one(session, m, reload).value] += 1
    return counts


def _replan_one(session: Session, m: Message, reload: _Reload) -> Replanned:
    """Cancel, re-render or keep one message of a reloaded campaign."""
    spec = reload.loaded.spec
    row = reload.steps_by_id.get(m.step_id)
    contact = reload.contacts[m.contact_id]
    if row is None or not row.active:
        return _cancel(session, m, reload.how, f"{reload.cause}: its step was removed")
    step = spec.step(row.key)
    if not in_audience(contact.tags, spec, step):
        reason = f"{reload.cause}: the contact is no longer in the step's audience"
        return _cancel(session, m, reload.how, reason)
    scheduled = rescheduled(
        step,
        spec,
        scheduled_for=m.scheduled_for,
        previous_sent_at=_previous_sent_at(m, step, reload),
        contact_tz=contact.timezone,
        now=reload.how.now,
    )
    reasons = []
    if scheduled != m.scheduled_for:
        reasons.append(
            f"schedule moved from {m.scheduled_for.isoformat()} to {scheduled.isoformat()}"
        )
    if m.edited and not reasons:
        return Replanned.UNCHANGED
    letter = _replanned_letter(session, m, step, contact, scheduled, reload)
    if letter is None:  # recorded as render_error
        return Replanned.REPLANNED
    diffs = [] if m.edited else differences(m, letter.rendered, letter.attachments)
    if diffs:
        reasons.append(f"{' and '.join(diffs)} changed")
    if not reasons:
        return Replanned.UNCHANGED
    reload.how.requeue(
        session,
        m,
        letter,
        action="replanned",
        reason=f"{reload.cause}: " + "; ".join(reasons),
        scheduled_for=scheduled,
        due_at=scheduled,
    )
    return Replanned.REPLANNED


def _replanned_letter(
    session: Session,
    m: Message,
    step: StepSpec,
    contact: Contact,
    scheduled: datetime,
    reload: _Reload,
) -> Letter | None:
    """The new letter of ``m``, to leave at ``scheduled``: a reviewer's text is kept (composed
    again, only its Date moves); any other is rendered again (``None`` when that fails)."""
    how = reload.how
    if m.edited:
        return kept_letter(
            m, how.spec, step, contact, scheduled_for=scheduled, settings=how.settings
        )
    return how.render_again(
        session, m, step, contact, scheduled_for=scheduled, reason_prefix=f"{reload.cause}: "
    )


def _cancel(session: Session, m: Message, how: Replanning, reason: str) -> Replanned:
    transition(session, m, MessageStatus.CANCELLED, now=how.now, actor=how.actor, reason=reason)
    return Replanned.CANCELLED


def _previous_sent_at(m: Message, step: StepSpec, reload: _Reload) -> datetime | None:
    """For a follow-up: when the step it follows was sent to the message's contact."""
    if not isinstance(step.when, AfterWhen):
        return None
    previous = reload.loaded.steps.get(step.when.after)
    if previous is None or previous.id is None:
        return None
    return reload.sent_at.get((previous.id, m.contact_id))
