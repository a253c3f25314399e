"""Planning: queue what is due, rendered for its day and composed to its final bytes.

``plan`` is one pass per campaign with batched reads and writes (a bounded number of SQL
statements however many contacts there are). Idempotent: the unique (campaign, step,
contact) key stops double planning, also when two planners race (inserts skip conflicts).

A message is rendered for its scheduled send date — the countdown it quotes is true on the day
it leaves — and composed then (DESIGN.md rule 1): dispatch sends the stored bytes unchanged.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from outreach.compose import ComposeInput, compose, make_message_id
from outreach.countdown import (
    countdown_values,
    local_date,
    next_window_opening,
    step_due,
    within_lookahead,
)
from outreach.db import is_postgres, session_scope
from outreach.errors import OutreachError, TemplateError
from outreach.lifecycle import record_created, transition
from outreach.models import Campaign, Contact, Enrollment, Message, Step
from outreach.repository.campaigns import LoadedCampaign, get_campaign, load_campaign
from outreach.repository.suppressions import suppressed_emails
from outreach.review import AUTO_APPROVE_NOTE
from outreach.settings import Settings
from outreach.spec import AfterWhen, CampaignSpec, StepSpec, step_order
from outreach.states import CampaignState, EnrollmentStatus, MessageStatus
from outreach.templating import RenderedEmail, TemplateRenderer, contact_record, day_context

log = logging.getLogger("outreach.planner")

_RENDERERS: dict[Path, TemplateRenderer] = {}


def renderer_for(templates_dir: Path) -> TemplateRenderer:
    """One renderer per templates folder per process (compiled templates are cached)."""
    key = Path(templates_dir).resolve()
    if key not in _RENDERERS:
        _RENDERERS[key] = TemplateRenderer(key)
    return _RENDERERS[key]


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

    def merge(self, other: PlanReport) -> None:
        self.queued += other.queued
        self.auto_approved += other.auto_approved
        self.render_errors.extend(other.render_errors)
        self.rerendered += other.rerendered
        for k, v in other.campaigns.items():
            self.campaigns[k] = self.campaigns.get(k, 0) + v
        self.skipped_paused.extend(other.skipped_paused)
        self.missed += other.missed


# -- rendering and composing one letter -------------------------------------------------------


@dataclass(frozen=True)
class SendDay:
    """What every letter of one step sent on one day shares: the template context but the
    contact (read-only values) and the countdown summary stored with each message."""

    day: date
    context: dict[str, Any]
    summary: dict[str, Any]


def send_day_parts(spec: CampaignSpec, step: StepSpec, send_day: date) -> SendDay:
    """The :class:`SendDay` of ``step`` on ``send_day`` (campaign timezone)."""
    countdown = countdown_values(spec.milestones, send_day)
    context = day_context(
        campaign=spec, milestones=spec.milestones, today=send_day, step=step, countdown=countdown
    )
    summary = {
        "today": send_day.isoformat(),
        "milestones": {
            k: {
                "days_until": v["days_until"],
                "weeks_until": v["weeks_until"],
                "is_past": v["is_past"],
            }
            for k, v in countdown.items()
        },
    }
    return SendDay(send_day, context, summary)


def render_letter(
    renderer: TemplateRenderer,
    spec: CampaignSpec,
    step: StepSpec,
    contact: Contact,
    *,
    send_day: date,
    parts: SendDay | None = None,
) -> tuple[RenderedEmail, dict[str, Any]]:
    """Render ``step`` for ``contact`` as it reads on ``send_day`` (campaign timezone).
    Returns the rendered email and the countdown values it was rendered with. ``parts``: the
    day's shared parts when the caller has them (:func:`send_day_parts` of the same step and
    day), else they are built here."""
    if parts is None or parts.day != send_day:
        parts = send_day_parts(spec, step, send_day)
    context = dict(parts.context)
    context["contact"] = contact_record(contact)
    rendered = renderer.render(step.template, contact.language, context)
    return rendered, parts.summary


def message_id_domain(spec_or_campaign: Any, settings: Settings) -> str:
    if settings.message_id_domain:
        return settings.message_id_domain
    email = getattr(spec_or_campaign, "sender_email", None) or spec_or_campaign.sender.email
    return email.rsplit("@", 1)[1]


def compose_letter(
    *,
    campaign: Campaign | CampaignSpec,
    contact: Contact,
    step_key: str,
    subject: str,
    text: str,
    html: str | None,
    scheduled_for: datetime,
    message_id: str,
    settings: Settings,
) -> tuple[bytes, str]:
    """The final bytes (and their SHA-256) of one letter. Date is its scheduled time."""
    if isinstance(campaign, Campaign):
        slug, from_name, from_email, reply_to = (
            campaign.slug,
            campaign.sender_name,
            campaign.sender_email,
            campaign.reply_to,
        )
    else:
        slug, from_name, from_email, reply_to = (
            campaign.slug,
            campaign.sender.name,
            campaign.sender.email,
            campaign.sender.reply_to,
        )
    composed = compose(
        ComposeInput(
            from_name=from_name,
            from_email=from_email,
            to_name=contact.name or None,
            to_email=contact.email,
            reply_to=reply_to,
            subject=subject,
            text=text,
            html=html,
            date=scheduled_for,
            message_id=message_id,
            list_unsubscribe_mailto=reply_to or from_email,
            unsubscribe_url=settings.unsubscribe_url,
            extra_headers=(("X-Outreach-Campaign", slug), ("X-Outreach-Step", step_key)),
        )
    )
    return composed.raw, composed.sha256


def recompose_message(
    session: Session,
    message: Message,
    *,
    subject: str,
    text: str,
    html: str | None,
    settings: Settings,
) -> tuple[bytes, str]:
    """Compose ``message`` again with new content (a reviewer's edit): same headers,
    Message-ID and Date."""
    campaign = session.get(Campaign, message.campaign_id)
    contact = session.get(Contact, message.contact_id)
    step = session.get(Step, message.step_id)
    assert campaign is not None and contact is not None and step is not None
    return compose_letter(
        campaign=campaign,
        contact=contact,
        step_key=step.key,
        subject=subject,
        text=text,
        html=html,
        scheduled_for=message.scheduled_for,
        message_id=message.message_id,
        settings=settings,
    )


@dataclass(frozen=True)
class Letter:
    """One letter rendered for its send day and composed to its final bytes."""

    rendered: RenderedEmail
    summary: dict[str, Any]
    send_day: date
    raw: bytes
    sha256: str

    def columns(self) -> dict[str, Any]:
        """The message columns this letter sets."""
        return {
            "subject": self.rendered.subject,
            "text": self.rendered.text,
            "html": self.rendered.html,
            "template": self.rendered.template,
            "language": self.rendered.language,
            "render_context": self.summary,
            "rendered_for": self.send_day,
            "raw": self.raw,
            "content_hash": self.sha256,
            "render_error": None,
        }


def make_letter(
    renderer: TemplateRenderer,
    spec: CampaignSpec,
    step: StepSpec,
    contact: Contact,
    *,
    scheduled_for: datetime,
    message_id: str,
    settings: Settings,
    days: dict[tuple[str, date], SendDay] | None = None,
) -> Letter:
    """Render ``step`` for ``contact`` as it reads on its send day (the campaign-timezone date
    of ``scheduled_for``) and compose it. Raises :class:`OutreachError` (a template failure,
    or content refused in a header). ``days``: a cache of :class:`SendDay` parts by (step
    key, day) kept by the caller across the letters of one campaign."""
    send_day = local_date(scheduled_for, spec.timezone)
    parts = None
    if days is not None:
        parts = days.get((step.key, send_day))
        if parts is None:
            parts = days[(step.key, send_day)] = send_day_parts(spec, step, send_day)
    rendered, summary = render_letter(renderer, spec, step, contact, send_day=send_day, parts=parts)
    raw, sha = compose_letter(
        campaign=spec,
        contact=contact,
        step_key=step.key,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        scheduled_for=scheduled_for,
        message_id=message_id,
        settings=settings,
    )
    return Letter(rendered, summary, send_day, raw, sha)


def _requeue(
    session: Session,
    message: Message,
    letter: Letter,
    *,
    spec: CampaignSpec,
    now: datetime,
    actor: str,
    action: str,
    reason: str,
    **changes: Any,
) -> None:
    """Put new content on ``message`` and send it (back) to review; a campaign that needs no
    approval approves it again at once (and the event log says so)."""
    transition(
        session,
        message,
        MessageStatus.PENDING_REVIEW,
        now=now,
        actor=actor,
        action=action,
        reason=reason,
        approved_hash=None,
        **letter.columns(),
        **changes,
    )
    if not spec.require_approval:
        transition(
            session,
            message,
            MessageStatus.APPROVED,
            now=now,
            actor=actor,
            reason=AUTO_APPROVE_NOTE,
            approved_hash=letter.sha256,
            stale_reason=None,
        )


def _render_failed(
    session: Session,
    message: Message,
    error: OutreachError,
    *,
    now: datetime,
    actor: str,
    reason_prefix: str = "",
) -> None:
    """Record that ``message`` no longer renders (once per distinct error)."""
    if message.status != MessageStatus.RENDER_ERROR.value or message.render_error != error.message:
        transition(
            session,
            message,
            MessageStatus.RENDER_ERROR,
            now=now,
            actor=actor,
            reason=reason_prefix + error.message,
            render_error=error.message,
        )


def stale_reason_for(
    session: Session, message: Message, *, today: date, settings: Settings
) -> str | None:
    """Why ``message`` must go back to review when sent on ``today`` instead of the day it was
    rendered for: a reason when a re-render for ``today`` differs, else ``None``. A
    reviewer-edited message is never re-rendered (its text is a person's)."""
    if message.edited or message.rendered_for == today or message.template is None:
        return None
    campaign = session.get(Campaign, message.campaign_id)
    assert campaign is not None
    loaded = load_campaign(session, campaign=campaign)
    step_row = session.get(Step, message.step_id)
    contact = session.get(Contact, message.contact_id)
    assert step_row is not None and contact is not None
    try:
        step = loaded.spec.step(step_row.key)
    except KeyError:
        return f"step {step_row.key!r} is no longer in the campaign"
    try:
        rendered, _ = render_letter(
            renderer_for(settings.templates_dir), loaded.spec, step, contact, send_day=today
        )
    except TemplateError as exc:
        return f"re-render for {today} failed: {exc.message}"
    diffs = _differences(message, rendered)
    if not diffs:
        return None
    return (
        f"rendered for {message.rendered_for}, sent on {today}: {' and '.join(diffs)} would differ"
    )


def _differences(message: Message, rendered: RenderedEmail) -> list[str]:
    out = []
    if rendered.subject != message.subject:
        out.append("subject")
    if rendered.text != message.text:
        out.append("text")
    if (rendered.html or None) != (message.html or None):
        out.append("html")
    return out


# -- planning -----------------------------------------------------------------------------------


def plan(
    engine: Engine,
    *,
    now: datetime,
    settings: Settings,
    campaign: str | None = None,
    actor: str = "planner",
    batch: int = 500,
    workers: int | None = None,
) -> PlanReport:
    """Queue every message due within each active campaign's lookahead at ``now``.

    Commits per batch (planning is idempotent, so a crash half-way loses nothing and the next
    run continues). Render errors are recorded as ``render_error`` rows and reported.

    ``workers``: processes that render and compose (pure CPU) while this one reads and writes
    the database; ``None`` picks 2 on a multi-core machine for an audience of at least
    :data:`PARALLEL_MIN_CONTACTS` contacts when this process may fork (no other thread
    running), else 0 (everything in this process). The result is the same either way.
    """
    report = PlanReport()
    with session_scope(engine) as session:
        if campaign is not None:
            campaigns = [get_campaign(session, slug=campaign)]
        else:
            campaigns = list(session.exec(select(Campaign).order_by(Campaign.slug)))
    for c in campaigns:
        if c.state == CampaignState.PAUSED.value:
            report.skipped_paused.append(c.slug)
            continue
        report.merge(
            _plan_campaign(
                engine, c, now=now, settings=settings, actor=actor, batch=batch, workers=workers
            )
        )
    return report


def is_missed(due: datetime, now: datetime, spec: CampaignSpec) -> bool:
    """A dated (milestone or fixed-date) letter more than ``lookahead_days`` (at least one)
    days overdue is missed, not sent late: its countdown would no longer be the point of it.
    (A daemon that was down for a day or two still catches up.)"""
    grace = max(spec.lookahead_days, 1)
    return local_date(due, spec.timezone) < local_date(now, spec.timezone) - timedelta(days=grace)


@dataclass
class _Candidate:
    step: StepSpec
    step_id: int
    contact: Contact
    scheduled_for: datetime


#: Audiences at least this large are rendered and composed by worker processes (see plan).
PARALLEL_MIN_CONTACTS = 2_000
#: Candidates per task sent to a worker process.
_TASK = 100
#: Chunks (of ``batch`` candidates) the workers may be rendering while this process stores one.
_IN_FLIGHT = 3
#: The planning state of a worker process (set once, by fork, in _init_worker).
_WORKER: dict[str, Any] = {}


def _parallel_workers(contacts: int, workers: int | None) -> int:
    if workers is not None:
        return max(workers, 0)
    cores = os.cpu_count() or 1
    if (
        contacts < PARALLEL_MIN_CONTACTS
        or cores < 2
        or threading.active_count() > 1  # forking a threaded process can deadlock
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        return 0
    return 2


def _init_worker(state: dict[str, Any]) -> None:
    _WORKER.clear()
    _WORKER.update(state)
    _WORKER["days"] = {}


def _build_rows_in_worker(chunk: list[_Candidate]) -> list[dict[str, Any]]:
    w = _WORKER
    return [
        _build_row(
            w["renderer"],
            w["spec"],
            w["campaign"],
            cand,
            now=w["now"],
            settings=w["settings"],
            domain=w["domain"],
            days=w["days"],
        )
        for cand in chunk
    ]


def _plan_campaign(
    engine: Engine,
    c: Campaign,
    *,
    now: datetime,
    settings: Settings,
    actor: str,
    batch: int,
    workers: int | None = None,
) -> PlanReport:
    """Plan one campaign, a page of ``batch`` contacts (by id) at a time: each page's
    candidates are rendered, composed and inserted soon after the page is read (with worker
    processes, a few chunks are in flight), so memory stays flat however many contacts
    there are."""
    report = PlanReport()
    with session_scope(engine) as session:
        loaded = load_campaign(session, campaign=c)
        spec = loaded.spec
        audience_size = session.execute(
            sa.select(sa.func.count()).select_from(Contact)
        ).scalar_one()
        suppressed = suppressed_emails(session)
        render_error_ids = list(
            session.exec(
                select(Message.id).where(
                    Message.campaign_id == c.id,
                    Message.status == MessageStatus.RENDER_ERROR.value,
                )
            )
        )
        stale_ids = list(
            session.exec(
                select(Message.id).where(
                    Message.campaign_id == c.id,
                    Message.status == MessageStatus.PENDING_REVIEW.value,
                    Message.stale_reason.is_not(None),
                    Message.edited == False,  # noqa: E712
                )
            )
        )

    step_ids = {key: row.id for key, row in loaded.steps.items() if row.active}
    steps = []
    for key in step_order(spec):
        step = spec.step(key)
        prev_id = step_ids[step.when.after] if isinstance(step.when, AfterWhen) else None
        steps.append((step, step_ids[key], prev_id))
    renderer = renderer_for(settings.templates_dir)
    domain = message_id_domain(spec, settings)
    days: dict[tuple[str, date], SendDay] = {}
    pool: ProcessPoolExecutor | None = None
    n_workers = _parallel_workers(audience_size, workers)
    if n_workers:
        state = {
            "renderer": renderer,
            "spec": spec,
            "campaign": c,
            "now": now,
            "settings": settings,
            "domain": domain,
        }
        pool = ProcessPoolExecutor(
            n_workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_init_worker,
            initargs=(state,),
        )
    # with workers: chunks being rendered, oldest first (candidates, tasks, page enrollments)
    pending: deque[tuple[list[_Candidate], list[Future], dict[int, Enrollment]]] = deque()

    def store_pending(keep: int) -> None:
        while len(pending) > keep:
            chunk, tasks, page_enrollments = pending.popleft()
            rows = [row for task in tasks for row in task.result()]
            _store(
                engine, spec, c, chunk, rows, page_enrollments, now=now, actor=actor, report=report
            )

    try:
        after = 0
        while True:
            with session_scope(engine) as session:
                page = list(
                    session.exec(
                        select(Contact).where(Contact.id > after).order_by(Contact.id).limit(batch)
                    )
                )
                if not page:
                    break
                after = page[-1].id
                contacts = _in_audience(page, spec)
                ids = [contact.id for contact in contacts]
                existing = {
                    (sid, cid): (status, sent_at)
                    for sid, cid, status, sent_at in session.execute(
                        sa.select(
                            Message.step_id, Message.contact_id, Message.status, Message.sent_at
                        ).where(Message.campaign_id == c.id, Message.contact_id.in_(ids))
                    )
                }
                enrollments = {
                    e.contact_id: e
                    for e in session.exec(
                        select(Enrollment).where(
                            Enrollment.campaign_id == c.id, Enrollment.contact_id.in_(ids)
                        )
                    )
                }
            found = _candidates(spec, steps, contacts, existing, enrollments, suppressed, now)
            report.missed += found.missed
            for start in range(0, len(found.items), batch):
                chunk = found.items[start : start + batch]
                if pool is None:
                    rows = [
                        _build_row(
                            renderer,
                            spec,
                            c,
                            cand,
                            now=now,
                            settings=settings,
                            domain=domain,
                            days=days,
                        )
                        for cand in chunk
                    ]
                    _store(
                        engine,
                        spec,
                        c,
                        chunk,
                        rows,
                        enrollments,
                        now=now,
                        actor=actor,
                        report=report,
                    )
                    continue
                tasks = [
                    pool.submit(_build_rows_in_worker, chunk[i : i + _TASK])
                    for i in range(0, len(chunk), _TASK)
                ]
                pending.append((chunk, tasks, enrollments))
                store_pending(keep=_IN_FLIGHT)  # the workers render the next chunks meanwhile
            if len(page) < batch:
                break
        store_pending(keep=0)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    for ids, stale in ((stale_ids, True), (render_error_ids, False)):
        if ids:
            _rerender(
                engine,
                spec,
                ids,
                stale=stale,
                now=now,
                settings=settings,
                actor=actor,
                report=report,
            )
    return report


@dataclass
class _Candidates:
    items: list[_Candidate] = field(default_factory=list)
    missed: int = 0


def _candidates(
    spec: CampaignSpec,
    steps: Sequence[tuple[StepSpec, int, int | None]],
    contacts: Sequence[Contact],
    existing: dict[tuple[int, int], tuple[str, datetime | None]],
    enrollments: dict[int, Enrollment],
    suppressed: set[str],
    now: datetime,
) -> _Candidates:
    """The letters due for ``contacts`` (one page), step by step in plan order."""
    out = _Candidates()
    tags = set(spec.audience_tags)
    for step, step_id, prev_id in steps:
        for contact in contacts:
            if step.audience_tags is not None and not (set(step.audience_tags) & set(contact.tags)):
                continue
            if tags and not (tags & set(contact.tags)):
                continue
            if (step_id, contact.id) in existing:
                continue
            if contact.email in suppressed:
                continue
            enrollment = enrollments.get(contact.id)
            if enrollment is not None and enrollment.status != EnrollmentStatus.ACTIVE.value:
                continue
            previous_sent_at = None
            if prev_id is not None:
                prev = existing.get((prev_id, contact.id))
                if prev is None or prev[0] != MessageStatus.SENT.value or prev[1] is None:
                    continue
                previous_sent_at = prev[1]
            due = step_due(step, spec, previous_sent_at=previous_sent_at)
            if due is None or not within_lookahead(due, now, spec.lookahead_days, spec.timezone):
                continue
            if prev_id is None and is_missed(due, now, spec):
                out.missed += 1
                continue
            scheduled = next_window_opening(
                max(due, now), spec.sending, contact.timezone or spec.timezone
            )
            out.items.append(_Candidate(step, step_id, contact, scheduled))
    return out


def _store(
    engine: Engine,
    spec: CampaignSpec,
    c: Campaign,
    chunk: Sequence[_Candidate],
    rows: Sequence[dict[str, Any]],
    enrollments: dict[int, Enrollment],
    *,
    now: datetime,
    actor: str,
    report: PlanReport,
) -> None:
    """Insert one chunk of planned rows (and the enrollments they need) in one transaction."""
    with session_scope(engine) as session:
        _ensure_enrollments(
            session,
            c.id,
            [cand.contact.id for cand in chunk],
            enrollments,
            now=now,
            actor=actor,
        )
        inserted = _insert_messages(session, rows)
        created = []
        by_msgid = {r["message_id"]: r for r in rows}
        for mid, message_id in inserted:
            row = by_msgid[message_id]
            status = MessageStatus(row["status"])
            reason = AUTO_APPROVE_NOTE if status == MessageStatus.APPROVED else row["render_error"]
            created.append((mid, status, reason))
            if status == MessageStatus.RENDER_ERROR:
                report.render_errors.append(
                    RenderError(
                        spec.slug, row["_step_key"], row["envelope_to"], row["render_error"]
                    )
                )
            else:
                report.queued += 1
                report.campaigns[spec.slug] = report.campaigns.get(spec.slug, 0) + 1
                if status == MessageStatus.APPROVED:
                    report.auto_approved += 1
        record_created(session, created, now=now, actor=actor)


def _in_audience(contacts: Sequence[Contact], spec: CampaignSpec) -> list[Contact]:
    """The contacts with any of the campaign's audience tags (everyone when it names none)."""
    if not spec.audience_tags:
        return list(contacts)
    tags = set(spec.audience_tags)
    return [c for c in contacts if tags & set(c.tags)]


def _build_row(
    renderer: TemplateRenderer,
    spec: CampaignSpec,
    c: Campaign,
    cand: _Candidate,
    *,
    now: datetime,
    settings: Settings,
    domain: str,
    days: dict[tuple[str, date], SendDay] | None = None,
) -> dict[str, Any]:
    send_day = local_date(cand.scheduled_for, spec.timezone)
    message_id = make_message_id(domain=domain)
    row: dict[str, Any] = {
        "campaign_id": c.id,
        "step_id": cand.step_id,
        "contact_id": cand.contact.id,
        "message_id": message_id,
        "scheduled_for": cand.scheduled_for,
        "due_at": cand.scheduled_for,
        "rendered_for": send_day,
        "envelope_from": spec.sender.email,
        "envelope_to": cand.contact.email,
        "created_at": now,
        "updated_at": now,
        "subject": "",
        "text": "",
        "html": None,
        "template": None,
        "language": None,
        "render_context": {},
        "render_error": None,
        "raw": None,
        "content_hash": None,
        "approved_hash": None,
        "_step_key": cand.step.key,
    }
    try:
        letter = make_letter(
            renderer,
            spec,
            cand.step,
            cand.contact,
            scheduled_for=cand.scheduled_for,
            message_id=message_id,
            settings=settings,
            days=days,
        )
    except OutreachError as exc:  # template failures and refused header content
        row["status"] = MessageStatus.RENDER_ERROR.value
        row["render_error"] = exc.message
        row["template"] = cand.step.template
        return row
    approved = not spec.require_approval
    row.update(letter.columns())
    row["status"] = (MessageStatus.APPROVED if approved else MessageStatus.PENDING_REVIEW).value
    row["approved_hash"] = letter.sha256 if approved else None
    return row


def _insert_messages(session: Session, rows: Sequence[dict[str, Any]]) -> list[tuple[int, str]]:
    """Insert, skipping rows whose (campaign, step, contact) already exists (a racing
    planner); returns (id, message_id) of the rows actually inserted."""
    if not rows:
        return []
    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    dialect = postgresql if is_postgres(session) else sqlite
    table = Message.__table__  # Core: the ORM's bulk path costs more than the insert itself
    stmt = (
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=["campaign_id", "step_id", "contact_id"])
        .returning(table.c.id, table.c.message_id)
    )
    return [(r[0], r[1]) for r in session.execute(stmt, clean)]


def _ensure_enrollments(
    session: Session,
    campaign_id: int,
    contact_ids: Iterable[int | None],
    known: dict[int, Enrollment],
    *,
    now: datetime,
    actor: str,
) -> None:
    """Enroll the contacts not in ``known`` (skipping any a racing planner just enrolled)."""
    missing = sorted({cid for cid in contact_ids if cid is not None and cid not in known})
    if not missing:
        return
    dialect = postgresql if is_postgres(session) else sqlite
    stmt = dialect.insert(Enrollment.__table__).on_conflict_do_nothing(
        index_elements=["campaign_id", "contact_id"]
    )
    session.execute(
        stmt,
        [
            {
                "campaign_id": campaign_id,
                "contact_id": cid,
                "status": EnrollmentStatus.ACTIVE.value,
                "created_at": now,
                "updated_at": now,
            }
            for cid in missing
        ],
    )


def _rerender(
    engine: Engine,
    spec: CampaignSpec,
    ids: list[int],
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
      the one they were rendered for) — so that what the reviewer approves next is what will be
      true when it leaves. One already rendered for its new day is left alone.
    """
    renderer = renderer_for(settings.templates_dir)
    with session_scope(engine) as session:
        for m in session.exec(select(Message).where(Message.id.in_(ids))):
            step_row = session.get(Step, m.step_id)
            contact = session.get(Contact, m.contact_id)
            if step_row is None or contact is None or not step_row.active:
                continue
            scheduled = next_window_opening(
                max(m.scheduled_for, now), spec.sending, contact.timezone or spec.timezone
            )
            if (
                stale
                and local_date(scheduled, spec.timezone) == m.rendered_for
                and scheduled == m.scheduled_for
            ):
                continue
            step = spec.step(step_row.key)
            try:
                letter = make_letter(
                    renderer,
                    spec,
                    step,
                    contact,
                    scheduled_for=scheduled,
                    message_id=m.message_id,
                    settings=settings,
                )
            except OutreachError as exc:
                _render_failed(session, m, exc, now=now, actor=actor)
                report.render_errors.append(
                    RenderError(spec.slug, step.key, contact.email, exc.message)
                )
                continue
            _requeue(
                session,
                m,
                letter,
                spec=spec,
                now=now,
                actor=actor,
                action="rerendered",
                reason=(
                    f"stale: re-rendered for {letter.send_day}"
                    if stale
                    else "the template renders again"
                ),
                scheduled_for=scheduled,
                due_at=scheduled,
            )
            report.rerendered += 1
            if not stale:
                report.queued += 1


# -- re-planning after a campaign reload --------------------------------------------------------


_REPLANNABLE = (
    MessageStatus.PENDING_REVIEW,
    MessageStatus.APPROVED,
    MessageStatus.RETRYING,
)


def replan(
    session: Session,
    loaded: LoadedCampaign,
    *,
    now: datetime,
    settings: Settings,
    actor: str,
) -> dict[str, int]:
    """After a reload: unsent messages whose schedule or content changes are re-rendered and go
    back to ``pending_review`` (the event says why); messages of removed steps, or for
    contacts no longer in the audience, are cancelled. Sent messages are never touched;
    reviewer-edited messages keep their text (only their schedule may move)."""
    spec = loaded.spec
    counts = {"replanned": 0, "cancelled": 0, "unchanged": 0}
    steps_by_id = {row.id: row for row in loaded.steps.values()}
    messages = list(
        session.exec(
            select(Message).where(
                Message.campaign_id == loaded.campaign.id,
                Message.status.in_([s.value for s in _REPLANNABLE]),
            )
        )
    )
    if not messages:
        return counts
    contacts = {
        c.id: c
        for c in session.exec(
            select(Contact).where(Contact.id.in_({m.contact_id for m in messages}))
        )
    }
    prev_sent = {
        (sid, cid): sent_at
        for sid, cid, sent_at in session.execute(
            sa.select(Message.step_id, Message.contact_id, Message.sent_at).where(
                Message.campaign_id == loaded.campaign.id,
                Message.status == MessageStatus.SENT.value,
            )
        )
    }
    renderer = renderer_for(settings.templates_dir)
    audience = set(spec.audience_tags)
    for m in messages:
        row = steps_by_id.get(m.step_id)
        contact = contacts[m.contact_id]
        if row is None or not row.active:
            transition(
                session,
                m,
                MessageStatus.CANCELLED,
                now=now,
                actor=actor,
                reason="campaign reloaded: its step was removed",
            )
            counts["cancelled"] += 1
            continue
        step = spec.step(row.key)
        in_audience = (not audience or audience & set(contact.tags)) and (
            step.audience_tags is None or set(step.audience_tags) & set(contact.tags)
        )
        if not in_audience:
            transition(
                session,
                m,
                MessageStatus.CANCELLED,
                now=now,
                actor=actor,
                reason="campaign reloaded: the contact is no longer in the step's audience",
            )
            counts["cancelled"] += 1
            continue
        previous_sent_at = None
        if isinstance(step.when, AfterWhen):
            prev_row = loaded.steps.get(step.when.after)
            previous_sent_at = prev_sent.get((prev_row.id, m.contact_id)) if prev_row else None
        due = step_due(step, spec, previous_sent_at=previous_sent_at)
        scheduled = m.scheduled_for
        if due is not None:
            nominal = next_window_opening(
                max(due, now), spec.sending, contact.timezone or spec.timezone
            )
            # a due moment that moved: follow it; otherwise keep the planned time
            if nominal != m.scheduled_for and due > now:
                scheduled = nominal
        reasons = []
        if scheduled != m.scheduled_for:
            reasons.append(
                f"schedule moved from {m.scheduled_for.isoformat()} to {scheduled.isoformat()}"
            )
        if m.edited:  # a reviewer's text is kept; only its schedule (and Date) may move
            if not reasons:
                counts["unchanged"] += 1
                continue
            raw, sha = compose_letter(
                campaign=spec,
                contact=contact,
                step_key=step.key,
                subject=m.subject,
                text=m.text,
                html=m.html,
                scheduled_for=scheduled,
                message_id=m.message_id,
                settings=settings,
            )
            kept = RenderedEmail(m.subject, m.text, m.html, m.template or step.template, m.language)
            send_day = m.rendered_for or local_date(scheduled, spec.timezone)
            letter = Letter(kept, dict(m.render_context), send_day, raw, sha)
        else:
            try:
                letter = make_letter(
                    renderer,
                    spec,
                    step,
                    contact,
                    scheduled_for=scheduled,
                    message_id=m.message_id,
                    settings=settings,
                )
            except OutreachError as exc:
                _render_failed(
                    session, m, exc, now=now, actor=actor, reason_prefix="campaign reloaded: "
                )
                counts["replanned"] += 1
                continue
            diffs = _differences(m, letter.rendered)
            if diffs:
                reasons.append(f"{' and '.join(diffs)} changed")
        if not reasons:
            counts["unchanged"] += 1
            continue
        _requeue(
            session,
            m,
            letter,
            spec=spec,
            now=now,
            actor=actor,
            action="replanned",
            reason="campaign reloaded: " + "; ".join(reasons),
            stale_reason=None,
            scheduled_for=scheduled,
            due_at=scheduled,
        )
        counts["replanned"] += 1
    return counts


# -- preview ------------------------------------------------------------------------------------


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
    """Render and compose one letter exactly as planning at ``now`` would queue it."""
    from outreach.errors import NotFoundError

    c = get_campaign(session, slug=campaign)
    loaded = load_campaign(session, campaign=c)
    try:
        step_spec = loaded.spec.step(step)
    except KeyError:
        known = ", ".join(s.key for s in loaded.spec.steps)
        raise NotFoundError(
            f"campaign {campaign!r} has no step {step!r} (steps: {known})"
        ) from None
    contact = session.exec(
        select(Contact).where(Contact.email == contact_email.strip().lower())
    ).first()
    if contact is None:
        raise NotFoundError(f"no contact {contact_email!r}")
    spec = loaded.spec
    previous_sent_at = None
    if isinstance(step_spec.when, AfterWhen):
        prev_row = loaded.steps[step_spec.when.after]
        previous_sent_at = (
            session.exec(
                select(Message.sent_at).where(
                    Message.step_id == prev_row.id,
                    Message.contact_id == contact.id,
                    Message.status == MessageStatus.SENT.value,
                )
            ).first()
            or now
        )
    due = step_due(step_spec, spec, previous_sent_at=previous_sent_at)
    scheduled = next_window_opening(
        max(due, now) if due else now, spec.sending, contact.timezone or spec.timezone
    )
    send_day = local_date(scheduled, spec.timezone)
    rendered, _ = render_letter(
        renderer_for(settings.templates_dir), spec, step_spec, contact, send_day=send_day
    )
    raw, _sha = compose_letter(
        campaign=spec,
        contact=contact,
        step_key=step_spec.key,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        scheduled_for=scheduled,
        message_id=make_message_id(domain=message_id_domain(spec, settings), unique="preview"),
        settings=settings,
    )
    return Preview(rendered, scheduled, send_day, raw)
