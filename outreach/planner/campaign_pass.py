"""The planning pass: queue what is due, rendered for its day and composed to its final bytes.

One pass per active campaign, a page of contacts (by id) at a time: the page's letters are
selected (:mod:`~outreach.planner.selection`), built into message rows (in this process or by
the fork pool, :mod:`~outreach.planner.pool`) and inserted soon after the page is read, so
memory stays flat however many contacts there are and the number of SQL statements is bounded
by the number of pages and chunks, not of contacts. Then render errors and stale letters are
rendered again (:func:`~outreach.planner.replan.rerender`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from outreach.compose import make_message_id
from outreach.countdown import send_date
from outreach.db import Engine, Session, session_scope
from outreach.errors import OutreachError
from outreach.lifecycle import record_created
from outreach.models import Campaign
from outreach.planner.assets import refresh_changed_files
from outreach.planner.letters import (
    SendDay,
    make_letter,
    message_id_domain,
    planned_token,
    renderer_for,
)
from outreach.planner.pool import (
    IN_FLIGHT,
    Built,
    Chunk,
    RowBuilder,
    parallel_workers,
    row_builder,
)
from outreach.planner.replan import rerender
from outreach.planner.report import PlanReport, RenderError
from outreach.planner.selection import (
    Candidate,
    Known,
    Recipient,
    in_audience,
    plan_steps,
    select_due,
)
from outreach.privacy.keys import current_check
from outreach.privacy.tokens import ErasureCheck
from outreach.repository import planning as queries
from outreach.repository.campaigns import (
    LoadedCampaign,
    get_campaign,
    list_campaigns,
    load_campaign,
)
from outreach.repository.suppressions import suppressed_emails
from outreach.review import AUTO_APPROVE_NOTE
from outreach.settings import Settings
from outreach.spec import CampaignSpec
from outreach.states import CampaignState, MessageStatus
from outreach.templating import TemplateRenderer


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
    :data:`~outreach.planner.pool.PARALLEL_MIN_CONTACTS` contacts when this process may fork
    (no other thread running), else 0 (everything in this process). The result is the same
    either way.
    """
    report = PlanReport()
    with session_scope(engine) as session:
        if campaign is not None:
            campaigns = [get_campaign(session, slug=campaign)]
        else:
            campaigns = list_campaigns(session)
    for c in campaigns:
        if c.state == CampaignState.PAUSED.value:
            report.skipped_paused.append(c.slug)
            continue
        if c.state == CampaignState.ARCHIVED.value:
            continue
        report.merge(
            _plan_campaign(
                engine, c, now=now, settings=settings, actor=actor, batch=batch, workers=workers
            )
        )
    with session_scope(engine) as session:  # the dispatcher reads these rows next
        queries.refresh_statistics(session, inserted=report.queued + len(report.render_errors))
    return report


@dataclass(frozen=True)
class _Start:
    """What a campaign's pass reads once, before its pages."""

    loaded: LoadedCampaign
    audience_size: int
    suppressed: set[str]
    erasures: ErasureCheck
    render_error_ids: list[int]
    stale_ids: list[int]


def _start(session: Session, c: Campaign, settings: Settings) -> _Start:
    assert c.id is not None
    return _Start(
        loaded=load_campaign(session, campaign=c),
        audience_size=queries.count_contacts(session),
        suppressed=suppressed_emails(session),
        erasures=current_check(session, settings),
        render_error_ids=queries.render_error_ids(session, campaign_id=c.id),
        stale_ids=queries.stale_ids(session, campaign_id=c.id),
    )


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
    there are. Files the campaign names that changed on disk are taken first (their letters
    re-planned, :mod:`~outreach.planner.assets`)."""
    report = PlanReport()
    report.rerendered += refresh_changed_files(engine, c, now=now, settings=settings, actor=actor)
    with session_scope(engine) as session:
        start = _start(session, c, settings)
    spec = start.loaded.spec
    steps = plan_steps(spec, {key: row.id for key, row in start.loaded.steps.items() if row.active})
    rows = MessageRows(
        renderer_for(settings.templates_dir),
        spec,
        c,
        now=now,
        settings=settings,
        domain=message_id_domain(spec, settings),
    )
    builder = _builder(rows, start.audience_size, workers)

    def store(done: Iterator[Built]) -> None:
        for built in done:
            _store(engine, spec, c, built, now=now, actor=actor, report=report)

    try:
        for page in _pages(engine, c, spec, start, batch=batch):
            selection = select_due(spec, steps, page.contacts, page.known, now=now)
            report.missed += selection.missed
            enrolled = frozenset(page.known.enrollments)
            for first in range(0, len(selection.candidates), batch):
                builder.submit(Chunk(selection.candidates[first : first + batch], enrolled))
                store(builder.finished(keep=IN_FLIGHT))  # the workers render the next meanwhile
        store(builder.finished(keep=0))
    finally:
        builder.close()
    for ids, stale in ((start.stale_ids, True), (start.render_error_ids, False)):
        if ids:
            rerender(
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


def _builder(rows: MessageRows, audience: int, workers: int | None) -> RowBuilder:
    """The row builder of a pass: in this process, or the fork pool (sooner for a campaign
    that prints PDF letters)."""
    heavy = any(step.letter for step in rows.spec.steps)
    return row_builder(parallel_workers(audience, workers, heavy=heavy), rows, heavy=heavy)


@dataclass(frozen=True)
class _Page:
    """One page of contacts: those in the campaign's audience, and what is known of them."""

    contacts: list[Recipient]
    known: Known


def _pages(
    engine: Engine,
    c: Campaign,
    spec: CampaignSpec,
    start: _Start,
    *,
    batch: int,
) -> Iterator[_Page]:
    """The contacts, ``batch`` at a time by id, each page read in its own short transaction;
    an address that was erased counts as suppressed."""
    assert c.id is not None
    after = 0
    while True:
        with session_scope(engine) as session:
            page = queries.contacts_page(session, after=after, limit=batch)
            if not page:
                return
            contacts = [contact for contact in page if in_audience(contact.tags, spec)]
            ids = [contact.id for contact in contacts if contact.id is not None]
            erased = start.erasures.erased(contact.email for contact in contacts)
            known = Known(
                messages=queries.planned_states(session, campaign_id=c.id, contact_ids=ids),
                enrollments=queries.enrollment_statuses(session, campaign_id=c.id, contact_ids=ids),
                suppressed=start.suppressed | erased if erased else start.suppressed,
            )
        yield _Page(list(contacts), known)
        if len(page) < batch:
            return
        after = page[-1].id


class MessageRows:
    """Builds the message row (column name → value) of each candidate letter of one
    campaign's pass: rendered and composed, ``pending_review`` (``approved`` when the campaign
    needs no approval), or ``render_error`` with the one-line error. Keeps the day parts
    shared by the letters of a step and day (:class:`~outreach.planner.letters.SendDay`)."""

    def __init__(
        self,
        renderer: TemplateRenderer,
        spec: CampaignSpec,
        campaign: Campaign,
        *,
        now: datetime,
        settings: Settings,
        domain: str,
    ) -> None:
        self.renderer = renderer
        self.spec = spec
        self.campaign_id = campaign.id
        self.now = now
        self.settings = settings
        self.domain = domain
        self.days: dict[tuple[str, date], SendDay] = {}

    def __call__(self, candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
        return [self.row(cand) for cand in candidates]

    def row(self, cand: Candidate) -> dict[str, Any]:
        """The row of one candidate letter (a fresh Message-ID each)."""
        message_id = make_message_id(domain=self.domain)
        row = self._base(cand, message_id)
        try:
            letter = make_letter(
                self.renderer,
                self.spec,
                cand.step,
                cand.contact,
                scheduled_for=cand.scheduled_for,
                message_id=message_id,
                settings=self.settings,
                days=self.days,
                unsubscribe_token=planned_token(self.settings),
            )
        except OutreachError as exc:  # template failures and refused header content
            row["status"] = MessageStatus.RENDER_ERROR.value
            row["render_error"] = exc.message
            row["template"] = cand.step.template
            return row
        approved = not self.spec.require_approval
        row.update(letter.columns())
        row["status"] = (MessageStatus.APPROVED if approved else MessageStatus.PENDING_REVIEW).value
        row["approved_hash"] = letter.sha256 if approved else None
        return row

    def _base(self, cand: Candidate, message_id: str) -> dict[str, Any]:
        """Every column but the status, content empty (a letter fills it in)."""
        return {
            "campaign_id": self.campaign_id,
            "step_id": cand.step_id,
            "contact_id": cand.contact.id,
            "message_id": message_id,
            "scheduled_for": cand.scheduled_for,
            "due_at": cand.scheduled_for,
            "rendered_for": send_date(
                cand.scheduled_for, cand.contact.timezone, self.spec.timezone
            ),
            "envelope_from": self.spec.sender.email,
            "envelope_to": cand.contact.email,
            "created_at": self.now,
            "updated_at": self.now,
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
            "unsubscribe_token_hash": None,
        }


def _store(
    engine: Engine,
    spec: CampaignSpec,
    c: Campaign,
    built: Built,
    *,
    now: datetime,
    actor: str,
    report: PlanReport,
) -> None:
    """Insert one chunk of planned rows (and the enrollments they need) in one transaction,
    with a "planned" event for each row actually inserted (a racing planner may have been
    first), and count them in ``report``."""
    assert c.id is not None
    candidates = built.chunk.candidates
    enrolled = built.chunk.enrolled
    with session_scope(engine) as session:
        new = {cand.contact.id for cand in candidates} - enrolled - {None}
        queries.enroll(session, campaign_id=c.id, contact_ids=sorted(new), now=now)
        inserted = queries.insert_messages(session, rows=built.rows)
        planned = {
            row["message_id"]: (row, cand) for row, cand in zip(built.rows, candidates, strict=True)
        }
        created = []
        for message in inserted:
            row, cand = planned[message.message_id]
            status = MessageStatus(row["status"])
            reason = AUTO_APPROVE_NOTE if status == MessageStatus.APPROVED else row["render_error"]
            created.append((message.id, status, reason))
            if status == MessageStatus.RENDER_ERROR:
                error = RenderError(spec.slug, cand.step.key, cand.contact.email, reason)
                report.render_errors.append(error)
            else:
                report.count_queued(spec.slug, approved=status == MessageStatus.APPROVED)
        record_created(session, created, now=now, actor=actor)
