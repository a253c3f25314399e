"""The dispatcher: the loop that claims due mail, sends it and has the outcomes recorded (see
:mod:`outreach.dispatch` for the flow).

One run (:meth:`Dispatcher.run_once`) is two kinds of task on one event loop:
``SMTP_CONCURRENCY`` workers each hold one connection and send message after message, and the
database driver (:mod:`.driver`) runs every database round on one thread — recording
``data_sent`` for the messages whose DATA is about to start, writing outcomes, and claiming
(with the send-time checks) when the workers' supply runs low.

Decisions worth knowing:

* Each message's DATA waits for its ``data_sent`` mark to be committed; the mark is asked for as
  RCPT is sent, so the round overlaps RCPT's round trip. A connection asks for its next mark
  only after its previous outcome is pending; the driver writes outcomes soon enough that a
  crash leaves at most ``SMTP_CONCURRENCY × UNRECORDED_PER_CONNECTION`` (2) messages
  ``unknown`` — only ones whose DATA was under way or whose reply was not yet written.
* ``attempts`` counts claims that may have reached the server; a claim released without SMTP
  traffic (shutdown, auth failure, server down, a lease lost before DATA) gives its attempt back.
* A connection-level failure (refused, timeout, a 4xx/5xx greeting, 421 at any stage) charges
  the one message that was being tried (``retrying`` with the server's backoff); every other
  message of the run is released to ``approved`` with ``due_at`` pushed to the same moment, and
  the dispatcher claims nothing more until then.
* A connection lost (or a timeout) *during* DATA makes the message ``unknown``: the server may
  have accepted it, and rule 2 forbids a silent resend.
* Nothing here reads the wall clock directly: the :class:`Dispatcher` reads its injected clock
  once per database round and per outcome. Only the rate limiter uses monotonic time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from outreach.clock import Clock
from outreach.db import Engine, is_postgres
from outreach.dispatch.claims import StaleCheck, StaleRerender, campaign_exists
from outreach.dispatch.driver import (
    FLUSH_SECONDS,
    DatabaseDriver,
    DatabaseLane,
    RunState,
    wait_for_event,
)
from outreach.dispatch.policy import (
    TokenBucket,
    attempt_outcome,
    claim_sizes,
    lost_during_data,
    released_outcome,
)
from outreach.dispatch.smtp import PlainAuthRefused, SmtpConnection, SmtpResult, build_tls_context
from outreach.dispatch.sweep import sweep_expired
from outreach.dispatch.values import Claim, DispatchSummary, Outcome, Ready, SweepCounts
from outreach.errors import NotFoundError, SmtpAuthError, SmtpTlsError
from outreach.retry import RetryDecision, Stage, decide
from outreach.settings import Settings


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
        """Sweep expired leases, then claim and send until nothing is due, ``limit`` messages
        were claimed, or :meth:`stop`. Raises :class:`SmtpAuthError` /
        :class:`SmtpTlsError` (after releasing every unsent claim) when the server cannot be
        used at all."""
        self._stopping = False
        driver = self._driver(campaign)
        try:
            return await self._run(RunState(remaining=limit), driver, campaign)
        finally:
            await driver.close()

    def _driver(self, campaign: str | None) -> DatabaseDriver:
        s = self.settings
        sizes = claim_sizes(
            batch=s.dispatch_batch,
            concurrency=s.smtp_concurrency,
            rate_per_minute=s.smtp_rate_per_minute,
            lease_seconds=s.lease_seconds,
        )
        rounds = DatabaseLane(self.engine, "outreach-dispatch-db")
        # SQLite has one writer at a time: its claims take turns with the rounds
        claims = (
            DatabaseLane(self.engine, "outreach-dispatch-claims")
            if is_postgres(self.engine)
            else rounds
        )
        return DatabaseDriver(
            rounds,
            claims,
            self.clock,
            self.owner,
            s.lease_seconds,
            sizes,
            concurrency=s.smtp_concurrency,
            campaign=campaign,
            stale_check=self.stale_check,
            rerender_stale=self.rerender_stale,
            on_counts=self._notify,
            stopping=lambda: self._stopping,
        )

    # -- the run -----------------------------------------------------------------------------

    async def _run(
        self, run: RunState, driver: DatabaseDriver, campaign: str | None
    ) -> DispatchSummary:
        s = self.settings
        if campaign is not None and not await driver.call(campaign_exists, campaign):
            raise NotFoundError(f"no campaign {campaign!r}")
        swept = await driver.call(sweep_expired, now=self.clock.now(), actor=self.owner)
        now = self.clock.now()
        if self.backoff_until is not None and now < self.backoff_until:
            run.skipped["SMTP server backing off"] += 1
            return self._summary(run, swept)
        if s.smtp_tls != "none" and self._tls_context is None:
            self._tls_context = build_tls_context(s)
        driving = driver.start(run)
        workers = [
            asyncio.create_task(self._worker(run, driver)) for _ in range(s.smtp_concurrency)
        ]
        try:
            for res in await asyncio.gather(*workers, return_exceptions=True):
                if isinstance(res, BaseException):
                    run.fail(res)
        except BaseException as exc:
            run.fail(exc)
            raise
        finally:
            await self._wind_down(run, workers, driver, driving)
        if run.backoff_until is not None:
            self.backoff_until = run.backoff_until
        if run.fatal is not None:
            raise run.fatal
        return self._summary(run, swept)

    async def _wind_down(
        self,
        run: RunState,
        workers: list[asyncio.Task[None]],
        driver: DatabaseDriver,
        driving: asyncio.Task[None],
    ) -> None:
        """Let the workers finish, give back what no worker took, then let the database
        driver finish its rounds and write every outcome still pending."""
        run.claims_done = True
        run.ready_added.set()
        for res in await asyncio.gather(*workers, return_exceptions=True):
            if isinstance(res, BaseException) and run.fatal is None:
                run.fail(res)
        # anything still waiting was never started: give it back
        await driver.settle_claims()
        if run.ready:
            self._release(run, [r.claim for r in run.ready])
            run.ready.clear()
        await driver.stop(run, driving)

    def _summary(self, run: RunState, swept: SweepCounts) -> DispatchSummary:
        return DispatchSummary.from_counts(
            run.counts, swept=swept, skipped=run.skipped, reasons=run.reasons, reached=run.reached
        )

    def _release(self, run: RunState, claims: Iterable[Claim]) -> None:
        """Give ``claims`` back unsent (why: the run stopped or backs off)."""
        reason = self._halt_reason(run)
        at = self.clock.now()
        claims = list(claims)
        if claims:
            run.skipped[reason.split(":")[0]] += len(claims)
        for c in claims:
            run.add_outcome(released_outcome(c, at=at, reason=reason, due_at=run.backoff_until))

    def _halt_reason(self, run: RunState) -> str:
        if run.fatal is not None:
            return f"dispatcher stopped on an error: {run.fatal}"
        if run.backoff_until is not None:
            return "SMTP server unavailable (backing off)"
        return "dispatcher stopped"

    # -- the workers -------------------------------------------------------------------------

    async def _worker(self, run: RunState, driver: DatabaseDriver) -> None:
        """One SMTP connection, sending one checked claim after another."""
        connection = SmtpConnection(self.settings, self._tls_context)
        try:
            while (item := await self._next_ready(run, driver)) is not None:
                try:
                    if not await self._send_taken(run, connection, item, driver):
                        return
                finally:
                    run.taken -= 1
        finally:
            await connection.close()

    async def _send_taken(
        self, run: RunState, connection: SmtpConnection, item: Ready, driver: DatabaseDriver
    ) -> bool:
        """Send ``item`` (taken from the ready claims) and hand its outcome on; whether this
        connection goes on."""
        if self._bucket is not None:
            wait = self._bucket.reserve(self.monotonic())
            if wait > 0:
                await asyncio.sleep(wait)
        if self._stopping or run.halted:
            self._release(run, [item.claim])
            return False
        try:
            outcome = await self._send_one(run, connection, item, driver)
        except Exception as exc:
            # a bug: stop; this row is left to the lease sweeper
            # (approved if never marked, unknown if it was)
            run.fail(exc)
            return False
        # before this connection asks for its next mark (see driver.py)
        run.add_outcome(outcome)
        return True

    async def _next_ready(self, run: RunState, driver: DatabaseDriver) -> Ready | None:
        """The next checked claim for one connection; ``None`` when there is nothing more to
        send (or the run stopped)."""
        while True:
            if self._stopping or run.halted:
                return None
            if run.ready:
                item = run.ready.popleft()
                run.taken += 1
                if driver.claim_order(run) is not None:
                    run.db_wake.set()  # time to top the claims up
                return item
            if run.claims_done:
                return None
            run.db_wake.set()
            await wait_for_event(run.ready_added, FLUSH_SECONDS)

    async def _send_one(
        self, run: RunState, connection: SmtpConnection, item: Ready, driver: DatabaseDriver
    ) -> Outcome:
        """Send one message (its DATA only once it is recorded ``data_sent``); the outcome to
        record (and the run halted when the server cannot be used, or must be left alone for
        a while)."""
        claim = item.claim
        asked = False

        def gate() -> asyncio.Future[bool]:
            nonlocal asked
            asked = True
            run.before_rcpt -= 1
            return driver.request_mark(run, claim)

        run.before_rcpt += 1
        try:
            result = await connection.send(
                item.envelope_from, item.envelope_to, item.raw, gate=gate
            )
        except (SmtpAuthError, SmtpTlsError, PlainAuthRefused) as exc:
            run.fail(exc)
            return released_outcome(claim, at=self.clock.now(), reason=str(exc))
        finally:
            if not asked:
                run.before_rcpt -= 1
                run.db_wake.set()
        run.reached = bool(run.reached) or result.stage != "connect"
        outcome = self._outcome(run, item, result)
        return dataclasses.replace(outcome, marked=result.gate_passed)

    def _outcome(self, run: RunState, item: Ready, result: SmtpResult) -> Outcome:
        """What ``result`` means for ``item``'s row."""
        claim = item.claim
        if result.held:
            return released_outcome(
                claim, at=self.clock.now(), reason="lease no longer held when DATA was due"
            )
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

    def _notify(self, counts: Mapping[str, int]) -> None:
        if self.on_outcome is not None:
            for kind, n in counts.items():
                if n:
                    self.on_outcome(kind, n)
