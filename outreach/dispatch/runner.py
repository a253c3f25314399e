"""Building and running a dispatcher for its callers — ``outreach send``, the daemon and the
bench: one wiring of the planner's stale check, one place that builds a :class:`Dispatcher`
from settings, engine and clock, and the send service the CLI only presents."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from outreach.clock import Clock
from outreach.db import Engine, Session, session_scope
from outreach.dispatch.claims import campaign_exists, preview_due
from outreach.dispatch.engine import Dispatcher
from outreach.dispatch.rounds import StaleCheck, StaleRerender
from outreach.dispatch.values import DispatchSummary
from outreach.dispatch.waits import Waiting, waiting_now
from outreach.errors import NotFoundError
from outreach.models import Message
from outreach.planner.replan import rerender_stale, stale_reason_for
from outreach.repository.outbox import DuePreview
from outreach.settings import Settings


def planner_stale_check(settings: Settings) -> StaleCheck:
    """The stale check every dispatcher uses: the planner's re-render of a letter for the day
    it actually goes out (:func:`outreach.planner.stale_reason_for`)."""

    def stale_check(session: Session, message: Message, today: date) -> str | None:
        return stale_reason_for(session, message, today=today, settings=settings)

    return stale_check


def planner_rerender(settings: Settings) -> StaleRerender:
    """What every dispatcher does with a letter it sends back to review as stale: the
    planner renders it again at once (:func:`outreach.planner.replan.rerender_stale`)."""

    def rerender(session: Session, ids: Sequence[int], now: datetime, actor: str) -> None:
        rerender_stale(session, ids, now=now, settings=settings, actor=actor)

    return rerender


def build_dispatcher(
    engine: Engine,
    settings: Settings,
    *,
    clock: Clock,
    owner: str | None = None,
    on_outcome: Callable[[str, int], None] | None = None,
) -> Dispatcher:
    """A :class:`Dispatcher` over ``engine`` with the planner's stale check and re-render
    wired in."""
    return Dispatcher(
        engine,
        settings,
        clock=clock,
        owner=owner,
        stale_check=planner_stale_check(settings),
        rerender_stale=planner_rerender(settings),
        on_outcome=on_outcome,
    )


def require_campaign(engine: Engine, slug: str | None) -> None:
    """Raise :class:`NotFoundError` unless ``slug`` is ``None`` or names a campaign."""
    if slug is None:
        return
    with session_scope(engine) as session:
        if not campaign_exists(session, slug):
            raise NotFoundError(f"no campaign {slug!r}")


@dataclass(frozen=True)
class SendPreview:
    """What ``outreach send`` would send now (``items``), why other due messages would be
    left (``skipped``: reason → count), and every other approved or retrying message grouped
    by why it waits, with its next try (``waiting``)."""

    items: list[DuePreview]
    skipped: dict[str, int]
    waiting: list[Waiting]


def preview_send(
    engine: Engine, *, now: datetime, limit: int | None, campaign: str | None
) -> SendPreview:
    """What a send at ``now`` would take, and what waits and until when; changing nothing."""
    with session_scope(engine) as session:
        items, skipped = preview_due(session, now=now, limit=limit, campaign=campaign)
        waiting = waiting_now(session, now=now, campaign=campaign, sending=[i.id for i in items])
    return SendPreview(items, skipped, waiting)


def send_now(
    engine: Engine,
    settings: Settings,
    *,
    clock: Clock,
    limit: int | None,
    campaign: str | None,
    on_outcome: Callable[[str, int], None] | None = None,
) -> DispatchSummary:
    """One dispatch run of what is due now (see :meth:`Dispatcher.run_once`); SIGTERM and
    SIGINT stop it cleanly (in-flight messages finish, claimed unsent ones go back)."""
    dispatcher = build_dispatcher(engine, settings, clock=clock, on_outcome=on_outcome)

    async def run() -> DispatchSummary:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, dispatcher.stop)
        return await dispatcher.run_once(limit=limit, campaign=campaign)

    return asyncio.run(run())
