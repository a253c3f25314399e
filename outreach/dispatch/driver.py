"""The database side of one dispatch run: its shared state, and the driver that runs every
database round on one thread (see :mod:`.rounds` for what a round writes).

The SMTP workers (:mod:`.engine`) never touch the database: they take checked claims from
:attr:`RunState.ready`, ask :meth:`DatabaseDriver.request_mark` as each RCPT goes out (DATA
waits for the answer), and hand outcomes to :meth:`RunState.add_outcome`. The driver turns what
has gathered since its last round — marks, outcomes, the need for more claims — into the next
round: the marks and the outcomes in one transaction, however many connections it serves (so
its cost per message shrinks as the load grows), then a claim in its own.

Decisions worth knowing:

* The crash bound. Outcomes of marked attempts are written with the marks as soon as more than
  ``SMTP_CONCURRENCY × (UNRECORDED_PER_CONNECTION − 1)`` of them are pending; with at most one
  marked attempt in flight per connection, no commit ever leaves more than
  ``SMTP_CONCURRENCY × UNRECORDED_PER_CONNECTION`` messages ``data_sent`` without an outcome.
* A round that only marks waits (at most GATHER_SECONDS) for the connections whose MAIL is under
  way, so that the connections share commits instead of queueing behind each other's.
* The database thread keeps one connection for the whole run. On PostgreSQL a round that only
  marks runs on a second one, in autocommit: its statement is committed by the server before
  its answer comes back, one round trip instead of three (``BEGIN``, the statement,
  ``COMMIT``), and still one WAL flush per round. A round with outcomes stays one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from outreach.clock import Clock
from outreach.db import Engine, HeldSession, is_postgres
from outreach.dispatch.claims import StaleCheck, StaleRerender, claim_due
from outreach.dispatch.policy import ClaimSizes
from outreach.dispatch.rounds import RoundResult, record_outcomes, run_round
from outreach.dispatch.values import Claim, ClaimBatch, Outcome, Ready

ResultT = TypeVar("ResultT")

#: Outcomes are written at the latest when this many are pending or after FLUSH_SECONDS.
FLUSH_EVERY = 200
FLUSH_SECONDS = 0.1
#: The crash bound, per connection: at most this many messages recorded ``data_sent`` without a
#: recorded outcome — the one whose DATA may be under way, and those whose reply has not been
#: written yet. A SIGKILL leaves at most ``SMTP_CONCURRENCY × UNRECORDED_PER_CONNECTION``
#: messages ``unknown``.
UNRECORDED_PER_CONNECTION = 2
#: A round that only marks waits at most this long for the marks of the connections about to
#: send RCPT, so that one commit serves them all (the RCPTs are on the wire meanwhile).
GATHER_SECONDS = 0.001


@dataclass(frozen=True)
class ClaimOrder:
    """A claim the driver is to make: how many rows at most."""

    limit: int


@dataclass
class RunState:
    """One run's mutable state, shared by the workers and the driver (touched only from the
    event loop)."""

    #: claims the run may still make (``None``: no limit)
    remaining: int | None = None
    counts: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)  #: by (outcome, reason)
    reached: bool | None = None  #: an SMTP connection was made (None: none was tried)
    #: outcomes not yet written
    pending: list[Outcome] = field(default_factory=list)
    #: how many of them are of attempts recorded ``data_sent``
    pending_marked: int = 0
    #: claimed, checked messages no worker has taken yet
    ready: deque[Ready] = field(default_factory=deque)
    #: claimed messages a worker has taken and not finished with (at most one per connection)
    taken: int = 0
    #: no more claims will be made
    claims_done: bool = False
    #: ``data_sent`` marks asked for since the last round, each with its answer to come
    marks: list[tuple[Claim, asyncio.Future[bool]]] = field(default_factory=list)
    #: connections in a transaction that have not asked for their mark yet (MAIL under way)
    before_rcpt: int = 0
    fatal: BaseException | None = None
    backoff_until: datetime | None = None
    halted: bool = False
    closing: bool = False
    db_wake: asyncio.Event = field(default_factory=asyncio.Event)
    ready_added: asyncio.Event = field(default_factory=asyncio.Event)

    def add_outcome(self, outcome: Outcome) -> None:
        """An attempt ended: its outcome waits for the next round that writes outcomes."""
        self.pending.append(outcome)
        self.pending_marked += outcome.marked
        if outcome.kind not in ("sent", "released"):
            self.reasons[(outcome.kind, outcome.reason or outcome.response or "")] += 1
        if len(self.pending) >= FLUSH_EVERY:
            self.db_wake.set()

    def take_outcomes(self) -> list[Outcome]:
        """The pending outcomes, handed to a round."""
        taken, self.pending, self.pending_marked = self.pending, [], 0
        return taken

    def tally(self, counts: Mapping[str, int]) -> None:
        """Add ``counts`` (outcome kind → messages) to the run's."""
        for kind, n in counts.items():
            self.counts[kind] += n

    def fail(self, exc: BaseException) -> None:
        """Stop the run on ``exc`` (the first error is the one raised at the end)."""
        self.fatal = self.fatal or exc
        self.halted = True


async def wait_for_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait for ``event`` (at most ``timeout`` seconds), then clear it; whether it was set."""
    fired = True
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        fired = False
    event.clear()
    return fired


class DatabaseLane:
    """One database thread and the connection it keeps for the whole run (no pool checkout, no
    ping, per transaction). On PostgreSQL it keeps a second one for work that is one statement
    whose commit stands alone (:meth:`call` with ``alone``): the server commits it before its
    answer arrives, without the ``BEGIN`` and ``COMMIT`` round trips of a transaction."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._held = HeldSession(engine)
        self._alone = HeldSession(engine, autocommit=True) if is_postgres(engine) else None

    async def call(
        self, fn: Callable[..., ResultT], *args: Any, alone: bool = False, **kwargs: Any
    ) -> ResultT:
        """``fn(session, *args, **kwargs)`` in one transaction on this lane's thread: commits
        on success, rolls back (and drops the connection) on any exception. ``alone`` (when
        every statement of ``fn`` may commit on its own, as it ends): on PostgreSQL each
        statement is its own transaction, committed before ``fn`` goes on."""
        held = self._alone if alone and self._alone is not None else self._held

        def work() -> ResultT:
            session = held.session()
            try:
                result = fn(session, *args, **kwargs)
                session.commit()
            except BaseException:
                held.drop()
                raise
            session.expunge_all()
            return result

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, work)

    async def close(self) -> None:
        """Let go of the connections, then of the thread."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self.executor, self._held.drop)
            if self._alone is not None:
                await loop.run_in_executor(self.executor, self._alone.drop)
        finally:
            self.executor.shutdown(wait=True)


@dataclass
class DatabaseDriver:
    """Runs one dispatch run's database rounds on the ``rounds`` lane, and its claims on the
    ``claims`` lane (the same one on SQLite, where one transaction writes at a time; a second
    connection on PostgreSQL, so that no mark waits for a claim)."""

    rounds: DatabaseLane
    claims: DatabaseLane
    clock: Clock
    owner: str
    lease_seconds: int
    sizes: ClaimSizes
    #: how many connections send (the crash bound is per connection)
    concurrency: int = 1
    campaign: str | None = None
    stale_check: StaleCheck | None = None
    rerender_stale: StaleRerender | None = None
    #: told every count written (kind, n)
    on_counts: Callable[[Mapping[str, int]], None] = lambda counts: None
    #: whether claiming must stop (the dispatcher was told to stop)
    stopping: Callable[[], bool] = lambda: False
    #: the claim under way, if any
    _claiming: asyncio.Task[None] | None = None

    async def call(self, fn: Callable[..., ResultT], *args: Any, **kwargs: Any) -> ResultT:
        """``fn(session, *args, **kwargs)`` in one transaction on the rounds lane."""
        return await self.rounds.call(fn, *args, **kwargs)

    async def close(self) -> None:
        """Let go of both lanes."""
        try:
            await self.rounds.close()
        finally:
            if self.claims is not self.rounds:
                await self.claims.close()

    def request_mark(self, run: RunState, claim: Claim) -> asyncio.Future[bool]:
        """Ask the next round to record ``claim`` ``data_sent``; the future says whether it
        was (``False``: lease lost or expired, or the database failed — do not send DATA)."""
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if run.fatal is not None:
            fut.set_result(False)
            return fut
        run.marks.append((claim, fut))
        run.db_wake.set()
        return fut

    def claim_order(self, run: RunState) -> ClaimOrder | None:
        """The claim the next round should make, if any: when the run still claims and fewer
        than ``sizes.low`` checked claims wait for a connection, enough to top them up to
        ``sizes.batch`` — counting those the connections hold, so that a run never holds more
        than one batch of claimed, unfinished messages (what a pause lets through)."""
        if run.claims_done or run.halted or self.stopping() or self._claiming is not None:
            return None
        if len(run.ready) >= self.sizes.low:
            return None
        size = self.sizes.batch - len(run.ready) - run.taken
        if size <= 0:
            return None
        if run.remaining is not None:
            size = min(size, run.remaining)
        return ClaimOrder(size)

    def start(self, run: RunState) -> asyncio.Task[None]:
        """:meth:`run` as a task; should it end on an error, the run fails with it (every mark
        asked for is answered no, and the workers stop instead of waiting for an answer)."""

        def ended(task: asyncio.Task[None]) -> None:
            if task.cancelled() or task.exception() is None:
                return
            run.fail(task.exception())  # type: ignore[arg-type]
            for _, fut in run.marks:
                if not fut.done():
                    fut.set_result(False)
            run.marks = []
            run.ready_added.set()

        task = asyncio.create_task(self.run(run))
        task.add_done_callback(ended)
        return task

    async def run(self, run: RunState) -> None:
        """The rounds. A round starts as soon as a mark or a claim is wanted, or outcomes must
        be written: FLUSH_EVERY of them, or enough of marked attempts to reach the crash
        bound, or any after FLUSH_SECONDS; the driver returns once the run is closing and
        nothing is left to write."""
        flush_marked = self.concurrency * (UNRECORDED_PER_CONNECTION - 1) + 1
        while True:
            claim = self.claim_order(run)
            if claim is not None:
                self._claiming = asyncio.create_task(self._claim(run, claim))
            flush = len(run.pending) >= FLUSH_EVERY or run.pending_marked >= flush_marked
            if not (run.marks or flush):
                if run.closing and not run.pending:
                    return
                if not run.closing and await wait_for_event(run.db_wake, FLUSH_SECONDS):
                    continue
                if not run.pending:
                    continue
                flush = True
            elif run.before_rcpt:
                await self._gather_marks(run)
            await self._round(run, flush)

    async def _gather_marks(self, run: RunState) -> None:
        """Wait (at most GATHER_SECONDS) until the connections whose MAIL is under way have
        asked for their marks."""
        deadline = asyncio.get_running_loop().time() + GATHER_SECONDS
        while run.before_rcpt and not run.closing:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0 or not await wait_for_event(run.db_wake, left):
                return

    async def _round(self, run: RunState, flush: bool) -> None:
        """One round: the marks asked for and (when ``flush``) the pending outcomes, in one
        transaction."""
        marks, run.marks = run.marks, []
        outcomes = run.take_outcomes() if flush else []
        if not (marks or outcomes):
            return
        try:
            # marks alone: each statement commits as it ends (on PostgreSQL, no BEGIN/COMMIT)
            result: RoundResult = await self.rounds.call(
                run_round,
                outcomes,
                [c for c, _ in marks],
                alone=not outcomes,
                now=self.clock.now(),
                actor=self.owner,
            )
            run.tally(result.written)
            self.on_counts(result.written)
            for c, fut in marks:
                fut.set_result(c.message_id in result.marked)
        except BaseException as exc:
            # nothing more can be marked or recorded: no DATA may start; stop every worker
            run.fail(exc)
            for _, fut in marks + run.marks:
                if not fut.done():
                    fut.set_result(False)
            run.marks = []
            raise

    async def _claim(self, run: RunState, claim: ClaimOrder) -> None:
        """Make ``claim`` on the claims lane and hand what it took to the workers (a failed
        claim stops the run)."""
        try:
            batch = await self.claims.call(
                claim_due,
                now=self.clock.now(),
                owner=self.owner,
                limit=claim.limit,
                lease_seconds=self.lease_seconds,
                campaign=self.campaign,
                stale_check=self.stale_check,
                rerender_stale=self.rerender_stale,
            )
            self._take_claims(run, batch)
        except BaseException as exc:  # the run's error: raised when the run ends
            run.fail(exc)
            run.ready_added.set()
        finally:
            self._claiming = None
            run.db_wake.set()

    async def settle_claims(self) -> None:
        """Wait for the claim under way, if any (its failure is already the run's)."""
        task = self._claiming
        if task is not None:
            with contextlib.suppress(BaseException):
                await task

    def _take_claims(self, run: RunState, batch: ClaimBatch) -> None:
        """Hand a claim's checked messages to the workers; nothing claimed and nothing looked
        at means nothing more is due."""
        for reason, n in batch.skipped.items():
            run.skipped[reason] += n
        run.tally(batch.counts)
        run.reasons.update(batch.reasons)
        self.on_counts(batch.counts)
        if not batch.ready:
            if not batch.scanned:
                run.claims_done = True
                run.ready_added.set()
            return
        if run.remaining is not None:
            run.remaining -= len(batch.ready)
            run.claims_done = run.remaining <= 0
        run.ready.extend(batch.ready)
        run.ready_added.set()

    async def flush(self, run: RunState) -> None:
        """Write every outcome still pending (after the driver stopped)."""
        if not run.pending:
            return
        items = run.take_outcomes()
        counts = await self.call(record_outcomes, items, now=self.clock.now(), actor=self.owner)
        run.tally(counts)
        self.on_counts(counts)

    async def stop(self, run: RunState, task: asyncio.Task[None]) -> None:
        """Close the run: let ``task`` (this driver's :meth:`run`) finish its last rounds, then
        write what is left."""
        run.closing = True
        run.db_wake.set()
        with contextlib.suppress(BaseException):
            await task
        if task.done() and not task.cancelled() and task.exception() is not None:
            run.fatal = run.fatal or task.exception()
        await self.flush(run)
