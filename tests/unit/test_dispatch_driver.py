"""The dispatcher's database driver without a database: its claim order (a run never holds more
than one batch of claimed, unfinished messages — those waiting for a connection and those the
connections hold — which is what a pause lets through after it is committed), and what a failed
round or claim does (no DATA may start, the workers stop)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

from outreach.clock import FixedClock
from outreach.dispatch.driver import DatabaseDriver, RunState
from outreach.dispatch.policy import ClaimSizes
from outreach.dispatch.values import Claim, Ready

T0 = datetime(2010, 4, 20, 12, 0, tzinfo=UTC)


def ready(n: int) -> list[Ready]:
    return [
        Ready(Claim(i, "t", 1, i, 1, T0), b"x", "a@example.org", f"p{i}@example.org")
        for i in range(n)
    ]


def driver(batch: int = 40, low: int = 20) -> DatabaseDriver:
    lane = cast(Any, object())
    return DatabaseDriver(
        rounds=lane,
        claims=lane,
        clock=FixedClock(T0),
        owner="test",
        lease_seconds=300,
        sizes=ClaimSizes(batch, low),
        concurrency=2,
    )


def test_the_top_up_counts_the_messages_the_connections_hold() -> None:
    run = RunState()
    run.ready.extend(ready(19))
    run.taken = 2
    order = driver().claim_order(run)
    assert order is not None and order.limit == 40 - 19 - 2


def test_no_claim_while_the_connections_hold_a_whole_batch() -> None:
    run = RunState()
    run.taken = 4
    assert driver(batch=4, low=2).claim_order(run) is None
    run.taken = 3
    order = driver(batch=4, low=2).claim_order(run)
    assert order is not None and order.limit == 1


def test_no_claim_above_the_low_mark_nor_after_the_last() -> None:
    run = RunState()
    run.ready.extend(ready(20))
    assert driver().claim_order(run) is None
    run.ready.clear()
    run.claims_done = True
    assert driver().claim_order(run) is None


class FailingLane:
    """A database lane whose every call fails, as a lost database would."""

    def __init__(self) -> None:
        self.calls = 0

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        raise RuntimeError("the database went away")


async def test_a_failed_round_answers_every_mark_no_and_stops_the_run() -> None:
    lane = FailingLane()
    d = driver()
    d.rounds = d.claims = cast(Any, lane)
    run = RunState()
    run.claims_done = True  # only marks: no claim is wanted
    first = d.request_mark(run, ready(1)[0].claim)
    task = d.start(run)
    assert await first is False  # DATA must not start
    await asyncio.gather(task, return_exceptions=True)
    assert isinstance(run.fatal, RuntimeError) and run.halted
    assert lane.calls == 1
    # a mark asked for after the failure is answered at once, without the database
    assert await d.request_mark(run, ready(2)[1].claim) is False
    assert lane.calls == 1


async def test_a_failed_claim_stops_the_run_and_wakes_the_workers() -> None:
    lane = FailingLane()
    d = driver()
    d.rounds = d.claims = cast(Any, lane)
    run = RunState()
    order = d.claim_order(run)
    assert order is not None
    await d._claim(run, order)
    assert isinstance(run.fatal, RuntimeError) and run.halted
    assert run.ready_added.is_set()  # a worker waiting for claims sees the run stopped
    assert d.claim_order(run) is None
