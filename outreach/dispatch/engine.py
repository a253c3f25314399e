"""The dispatcher: the loop that claims due mail, has it checked, sends it and has the
outcomes recorded (see :mod:`outreach.dispatch` for the flow).

One run (:meth:`Dispatcher.run_once`) is three kinds of task on one event loop: the claimer
keeps committed claims buffered; ``SMTP_CONCURRENCY`` workers each hold one connection and
send chunk after chunk; the database driver runs every database round on one thread — each
round writes the outcomes pending so far and checks every chunk the workers asked for since the
last one, in one transaction, so its work per message shrinks as the load grows.

Decisions worth knowing:

* ``attempts`` counts claims that may have reached the server; a claim released without SMTP
  traffic (shutdown, auth failure, server down, paused campaign, window) gives its attempt back.
* A connection-level failure (refused, timeout, a 4xx/5xx greeting, 421 at any stage) charges
  the one message that was being tried (``retrying`` with the server's backoff); every other
  message of the run is released to ``approved`` with ``due_at`` pushed to the same moment, and
  the dispatcher claims nothing more until then.
* A connection lost (or a timeout) *during* DATA makes the message ``unknown``: the server may
  have accepted it, and rule 2 forbids a silent resend.
* Nothing here reads the wall clock directly: the :class:`Dispatcher` reads its injected clock
  once per claim batch, per database round and per outcome. Only the rate limiter uses
  monotonic time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import socket
import ssl
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from outreach.clock import Clock
from outreach.db import Engine, session_scope
from outreach.dispatch.claims import campaign_exists, claim_due
from outreach.dispatch.policy import (
    TokenBucket,
    attempt_outcome,
    chunk_size,
    claim_sizes,
    lost_during_data,
    released_outcome,
)
from outreach.dispatch.rounds import (
    StaleCheck,
    StaleRerender,
    record_and_prepare,
    record_outcomes,
)
from outreach.dispatch.smtp import PlainAuthRefused, SmtpConnection, build_tls_context
from outreach.dispatch.sweep import sweep_expired
from outreach.dispatch.values import Claim, DispatchSummary, Outcome, Ready, SweepCounts
from outreach.errors import NotFoundError, SmtpAuthError, SmtpTlsError
from outreach.retry import RetryDecision, Stage, decide
from outreach.settings import Settings

ResultT = TypeVar("ResultT")

#: Outcomes are written when this many are pending, or after FLUSH_SECONDS (or sooner, with the
#: next chunks' checks).
FLUSH_EVERY = 200
FLUSH_SECONDS = 0.1


@dataclass
class RunState:
    """One run_once's mutable state (touched only from the event loop)."""

    counts: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)  #: by (outcome, reason)
    reached: bool | None = None  #: an SMTP connection was made (None: none was tried)
    #: outcomes not yet written
    pending: list[Outcome] = field(default_factory=list)
    #: claimed (committed) rows no worker has taken yet
    claims: deque[Claim] = field(default_factory=deque)
    #: the claimer will add nothing more to ``claims``
    claims_done: bool = False
    #: chunks waiting for the database thread's next round: (claims, future of their Ready rows)
    requests: list[tuple[list[Claim], asyncio.Future[list[Ready]]]] = field(default_factory=list)
    fatal: BaseException | None = None
    backoff_until: datetime | None = None
    halted: bool = False
    closing: bool = False
    db_wake: asyncio.Event = field(default_factory=asyncio.Event)
    claims_wanted: asyncio.Event = field(default_factory=asyncio.Event)
    claims_added: asyncio.Event = field(default_factory=asyncio.Event)

    def tally(self, counts: Mapping[str, int]) -> None:
        """Add ``counts`` (outcome kind → messages) to the run's."""
        for kind, n in counts.items():
            self.counts[kind] += n

    def fail(self, exc: BaseException) -> None:
        """Stop the run on ``exc`` (the first error is the one raised at the end)."""
        self.fatal = self.fatal or exc
        self.halted = True


async def _wait(event: asyncio.Event, timeout: float) -> None:
    """Wait for ``event`` (at most ``timeout`` seconds), then clear it."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=timeout)
    event.clear()


class Dispatcher:
    """Sends due approved mail. One instance per process; :meth:`run_once` may be called again
    and again (the daemon), :meth:`stop` from a signal handler.

    ``stale_check(session, message, today) -> reason | None`` is asked when a message goes out
    on another day than the one it was rendered for (``None``: no re-render check), and
    ``rerender_stale`` renders what it sends back to review again at once;
    :func:`outreach.dispatch.runner.build_dispatcher` wires in the planner's.
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        clock: Clock,
        owner: str | None = None,
        stale_check: StaleCheck | None = None,
        rerender_stale: StaleRerender | None = None,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        on_outcome: Callable[[str, int], None] | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.stale_check = stale_check
        self.rerender_stale = rerender_stale
        self.rng = rng or random.Random()
        self.monotonic = monotonic
        self.on_outcome = on_outcome
        self.backoff_until: datetime | None = None
        self._stopping = False
        self._bucket = (
            TokenBucket(settings.smtp_rate_per_minute) if settings.smtp_rate_per_minute else None
        )
        self._executor: ThreadPoolExecutor | None = None
        self._tls_context: ssl.SSLContext | None = None

    # -- public ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming; in-flight messages finish, claimed unsent ones go back to approved."""
        self._stopping = True

    def run_sync(self, limit: int | None = None, campaign: str | None = None) -> DispatchSummary:
        """:meth:`run_once` from synchronous code."""
        return asyncio.run(self.run_once(limit=limit, campaign=campaign))

    async def run_once(
        self, limit: int | None = None, campaign: str | None = None
    ) -> DispatchSummary:
        """Sweep expired leases, then claim and send batches until nothing is due, ``limit``
        messages were claimed, or :meth:`stop`. Raises :class:`SmtpAuthError` /
        :class:`SmtpTlsError` (after releasing every unsent claim) when the server cannot be
        used at all."""
        self._stopping = False
        run = RunState()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="outreach-dispatch-db")
        try:
            return await self._run(run, limit, campaign)
        finally:
            self._executor.shutdown(wait=True)
            self._executor = None

    # -- the run -----------------------------------------------------------------------------

    async def _db(self, fn: Callable[..., ResultT], *args: Any, **kwargs: Any) -> ResultT:
        """``fn(session, *args, **kwargs)`` in one transaction on the database thread."""

        def work() -> ResultT:
            with session_scope(self.engine) as session:
                return fn(session, *args, **kwargs)

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, work)

    async def _run(self, run: RunState, limit: int | None, campaign: str | None) -> DispatchSummary:
        s = self.settings
        if campaign is not None and not await self._db(campaign_exists, campaign):
            raise NotFoundError(f"no campaign {campaign!r}")
        swept = await self._db(sweep_expired, now=self.clock.now(), actor=self.owner)
        now = self.clock.now()
        if self.backoff_until is not None and now < self.backoff_until:
            run.skipped["SMTP server backing off"] += 1
            return self._summary(run, swept)
        if s.smtp_tls != "none" and self._tls_context is None:
            self._tls_context = build_tls_context(s)
        sizes = claim_sizes(
            batch=s.dispatch_batch,
            concurrency=s.smtp_concurrency,
            rate_per_minute=s.smtp_rate_per_minute,
            lease_seconds=s.lease_seconds,
        )
        workers = [asyncio.create_task(self._worker(run)) for _ in range(s.smtp_concurrency)]
        driver = asyncio.create_task(self._db_driver(run))
        try:
            await self._claimer(run, limit, campaign, sizes.batch, sizes.buffered)
        except BaseException as exc:
            run.fail(exc)
        finally:
            await self._wind_down(run, workers, driver)
        if run.backoff_until is not None:
            self.backoff_until = run.backoff_until
        if run.fatal is not None:
            raise run.fatal
        return self._summary(run, swept)

    async def _wind_down(
        self, run: RunState, workers: list[asyncio.Task[None]], driver: asyncio.Task[None]
    ) -> None:
        """Let the workers finish, give back what no worker took, then let the database
        driver finish its rounds and write every outcome still pending."""
        run.claims_done = True
        run.claims_added.set()
        for res in await asyncio.gather(*workers, return_exceptions=True):
            if isinstance(res, BaseException) and run.fatal is None:
                run.fail(res)
        # anything still buffered was never prepared: give it back
        if run.claims:
            self._release(run, list(run.claims))
            run.claims.clear()
        run.closing = True
        run.db_wake.set()
        for res in await asyncio.gather(driver, return_exceptions=True):
            if isinstance(res, BaseException) and run.fatal is None:
                run.fatal = res
        await self._flush(run)

    def _summary(self, run: RunState, swept: SweepCounts) -> DispatchSummary:
        return DispatchSummary.from_counts(
            run.counts, swept=swept, skipped=run.skipped, reasons=run.reasons, reached=run.reached
        )

    async def _claimer(
        self,
        run: RunState,
        limit: int | None,
        campaign: str | None,
        batch_size: int,
        buffered: int,
    ) -> None:
        """Keep about ``buffered`` committed claims ready for the workers."""
        remaining = limit
        while not (self._stopping or run.halted):
            if remaining is not None and remaining <= 0:
                break
            if len(run.claims) >= buffered:
                await _wait(run.claims_wanted, FLUSH_SECONDS)
                continue
            size = batch_size if remaining is None else min(batch_size, remaining)
            batch = await self._db(
                claim_due,
                now=self.clock.now(),
                owner=self.owner,
                limit=size,
                lease_seconds=self.settings.lease_seconds,
                campaign=campaign,
            )
            for reason, n in batch.skipped.items():
                run.skipped[reason] += n
            if not batch.claims:
                if batch.scanned:  # all bumped to their window: look again
                    continue
                break
            if remaining is not None:
                remaining -= len(batch.claims)
            run.claims.extend(batch.claims)
            run.claims_added.set()

    def _release(self, run: RunState, claims: Iterable[Claim]) -> None:
        """Give ``claims`` back unsent (why: the run stopped or backs off)."""
        reason = self._halt_reason(run)
        at = self.clock.now()
        claims = list(claims)
        if claims:
            run.skipped[reason.split(":")[0]] += len(claims)
        for c in claims:
            run.pending.append(released_outcome(c, at=at, reason=reason, due_at=run.backoff_until))

    def _halt_reason(self, run: RunState) -> str:
        if run.fatal is not None:
            return f"dispatcher stopped on an error: {run.fatal}"
        if run.backoff_until is not None:
            return "SMTP server unavailable (backing off)"
        return "dispatcher stopped"

    # -- the workers -------------------------------------------------------------------------

    async def _worker(self, run: RunState) -> None:
        """One SMTP connection. Its next chunk is checked and recorded ``data_sent`` (by the
        database thread) while the current one is on the wire."""
        connection = SmtpConnection(self.settings, self._tls_context)
        ahead: asyncio.Task[list[Ready] | None] | None = None
        try:
            ahead = asyncio.create_task(self._next_ready(run))
            while True:
                ready = await ahead
                ahead = None
                if ready is None:
                    return
                if self._stopping or run.halted:
                    self._release(run, [r.claim for r in ready])
                    return
                ahead = asyncio.create_task(self._next_ready(run))
                try:
                    await self._send_chunk(run, ready, connection)
                except Exception as exc:
                    # a bug: stop; this chunk's rows are left to the lease sweeper
                    # (approved if never sent, unknown if they may have been)
                    run.fail(exc)
        finally:
            if ahead is not None:
                ahead.cancel()
                with contextlib.suppress(BaseException):
                    await ahead
            await connection.close()

    async def _next_ready(self, run: RunState) -> list[Ready] | None:
        """The next chunk for one connection, checked and recorded ``data_sent``; ``None`` when
        there is nothing more to send (or the run stopped)."""
        s = self.settings
        while True:
            if self._stopping or run.halted:
                return None
            if run.claims:
                n = chunk_size(
                    len(run.claims), batch=s.dispatch_batch, concurrency=s.smtp_concurrency
                )
                claims = [run.claims.popleft() for _ in range(min(n, len(run.claims)))]
                run.claims_wanted.set()
                fut: asyncio.Future[list[Ready]] = asyncio.get_running_loop().create_future()
                run.requests.append((claims, fut))
                run.db_wake.set()
                return await fut
            if run.claims_done:
                return None
            run.claims_wanted.set()
            await _wait(run.claims_added, FLUSH_SECONDS)

    async def _send_chunk(
        self, run: RunState, ready: list[Ready], connection: SmtpConnection
    ) -> None:
        for i, item in enumerate(ready):
            if self._stopping or run.halted:
                self._release(run, [r.claim for r in ready[i:]])
                break
            if self._bucket is not None:
                wait = self._bucket.reserve(self.monotonic())
                if wait > 0:
                    await asyncio.sleep(wait)
            outcome = await self._send_one(run, connection, item)
            # appended after the await: the database round may have swapped the list meanwhile
            run.pending.append(outcome)
            if outcome.kind not in ("sent", "released"):
                run.reasons[(outcome.kind, outcome.reason or outcome.response or "")] += 1
            if len(run.pending) >= FLUSH_EVERY:
                run.db_wake.set()

    async def _send_one(self, run: RunState, connection: SmtpConnection, item: Ready) -> Outcome:
        """Send one message; the outcome to record (and the run halted when the server cannot
        be used, or must be left alone for a while)."""
        claim = item.claim
        try:
            result = await connection.send(item.envelope_from, item.envelope_to, item.raw)
        except (SmtpAuthError, SmtpTlsError, PlainAuthRefused) as exc:
            run.fail(exc)
            return released_outcome(claim, at=self.clock.now(), reason=str(exc))
        run.reached = bool(run.reached) or result.stage != "connect"
        if result.lost and result.stage == "data":
            return lost_during_data(claim, at=self.clock.now(), error=result.text)
        decision = self._decide(claim, result.code, result.text, result.stage)
        if result.stage == "connect":
            return self._server_down(run, item, decision, result.code, result.text, "connect")
        if result.refused and decision.outcome == "auth_error":
            run.fail(
                SmtpAuthError(
                    f"the SMTP server refused to send without authentication: {decision.reason}"
                    "; messages stay approved"
                )
            )
            return released_outcome(claim, at=self.clock.now(), reason=decision.reason)
        if result.refused and decision.outcome == "server_backoff":
            return self._server_down(run, item, decision, result.code, result.text, result.stage)
        return attempt_outcome(
            item,
            decision,
            code=result.code,
            text=result.text,
            stage=result.stage,
            at=self.clock.now(),
        )

    def _decide(self, claim: Claim, code: int | None, text: str, stage: Stage) -> RetryDecision:
        return decide(
            code,
            text,
            attempts=claim.attempt,
            first_attempt_at=claim.first_attempt_at,
            now=self.clock.now(),
            lifetime=self.settings.retry_lifetime,
            rng=self.rng,
            stage=stage,
        )

    def _server_down(
        self,
        run: RunState,
        item: Ready,
        decision: RetryDecision,
        code: int | None,
        text: str,
        stage: Stage,
    ) -> Outcome:
        """Charge this one message; hold every other one of this run until the backoff ends."""
        if decision.next_attempt_at is not None:
            run.backoff_until = max(
                run.backoff_until or decision.next_attempt_at, decision.next_attempt_at
            )
        run.halted = True
        return attempt_outcome(
            item, decision, code=code, text=text, stage=stage, at=self.clock.now()
        )

    # -- the database thread -----------------------------------------------------------------

    def _notify(self, counts: Mapping[str, int]) -> None:
        if self.on_outcome is not None:
            for kind, n in counts.items():
                if n:
                    self.on_outcome(kind, n)

    async def _db_driver(self, run: RunState) -> None:
        """The database thread's rounds: each one writes the outcomes pending so far and checks
        every chunk the workers asked for since the last round, in one transaction. A round
        starts as soon as a chunk is asked for, FLUSH_EVERY outcomes are pending, or
        FLUSH_SECONDS have passed."""
        while True:
            if not run.requests:
                if run.closing:
                    return
                await _wait(run.db_wake, FLUSH_SECONDS)
            requests, run.requests = run.requests, []
            if not requests and not run.pending:
                continue
            outcomes, run.pending = run.pending, []
            claims = [c for part, _ in requests for c in part]
            try:
                written, prepared = await self._db(
                    record_and_prepare,
                    outcomes,
                    claims,
                    now=self.clock.now(),
                    actor=self.owner,
                    lease_seconds=self.settings.lease_seconds,
                    stale_check=self.stale_check,
                    rerender_stale=self.rerender_stale,
                )
            except BaseException as exc:
                # nothing more can be checked or recorded: stop every worker
                run.fail(exc)
                for _, fut in requests + run.requests:
                    if not fut.done():
                        fut.set_exception(exc)
                run.requests = []
                raise
            for counts in (written, prepared.counts):
                run.tally(counts)
                self._notify(counts)
            run.reasons += Counter(prepared.reasons)
            by_id = {r.claim.message_id: r for r in prepared.ready}
            for part, fut in requests:
                if not fut.done():
                    fut.set_result([by_id[c.message_id] for c in part if c.message_id in by_id])

    async def _flush(self, run: RunState) -> None:
        if not run.pending:
            return
        items, run.pending = run.pending, []
        counts = await self._db(record_outcomes, items, now=self.clock.now(), actor=self.owner)
        run.tally(counts)
        self._notify(counts)
