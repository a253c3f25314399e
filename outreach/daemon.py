"""The daemon: an APScheduler (3.x) asyncio loop running the same service functions the CLI
runs — plan, dispatch, replies fetch and the lease sweeper — for months, across restarts.

* One instance of each job at a time (``max_instances=1``), missed runs coalesced.
* On PostgreSQL, several daemons on several hosts share the work: planning runs under an
  advisory lock (one planner at a time; the unique key is the backstop), dispatch claims with
  ``SKIP LOCKED``, replies fetch runs under a lock per mailbox.
* SIGTERM / SIGINT: stop claiming, let in-flight SMTP transactions finish (bounded by
  ``OUTREACH_SHUTDOWN_GRACE`` seconds), release unsent claims, exit 0.
* Each job records when it last ran on this instance, how it ended and when it last succeeded
  (``job_run``), which ``outreach status`` shows and ``outreach status --check`` judges.
* The retention job reduces received mail older than ``OUTREACH_INBOUND_RETENTION`` (hourly).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from outreach.clock import Clock, SystemClock
from outreach.db import Engine, migrate, session_scope
from outreach.errors import OutreachError, SmtpAuthError
from outreach.repository.jobs import advisory_lock, record_job_run
from outreach.settings import Settings

log = logging.getLogger("outreach.daemon")

JOBS = ("plan", "dispatch", "replies", "sweep", "retention")
#: How often the retention job runs, in seconds.
RETENTION_INTERVAL = 3600


#: What the jobs import when they first run (late, so that importing this module stays cheap).
JOB_MODULES = (
    "outreach.planner",
    "outreach.dispatch.runner",
    "outreach.dispatch.sweep",
    "outreach.privacy.retention",
    "outreach.replies.intake",
    "outreach.web.routes.health",
    "outreach.web.server",
)


def import_job_modules() -> None:
    """Import what the jobs use before any of them runs. The jobs start together, on the event
    loop and on worker threads, and two threads importing one package at once can deadlock on
    Python's import locks or find it half-initialised: seen as the first dispatch and sweep
    runs failing (``_DeadlockError``, ``cannot import name 'Dispatcher'``) and dispatch then
    failing on every run until a restart."""
    for name in JOB_MODULES:
        importlib.import_module(name)


def job_intervals(settings: Settings) -> dict[str, int]:
    """The jobs a daemon with ``settings`` schedules, each with its interval in seconds, in
    the order they first run (``replies`` only when IMAP is configured)."""
    intervals = {
        "sweep": max(settings.lease_seconds // 4, 5),
        "plan": settings.plan_interval,
        "dispatch": settings.dispatch_interval,
        "retention": RETENTION_INTERVAL,
    }
    if settings.imap_configured:
        intervals["replies"] = settings.imap_interval
    return intervals


@dataclass
class JobResult:
    """How a job run ended: ``outcome`` is ``ok``, ``skipped`` or ``error``."""

    outcome: str
    detail: str = ""


@dataclass
class Daemon:
    """The scheduler and its jobs. ``clock`` is injected (tests and the demo drive a virtual
    one); intervals come from the settings."""

    engine: Engine
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    instance: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    results: dict[str, JobResult] = field(default_factory=dict)
    _dispatcher: Any = None
    _stop: asyncio.Event | None = None

    # -- the jobs (each also callable on its own) ------------------------------------------------

    def plan_job(self) -> str:
        from outreach.planner import plan

        with advisory_lock(self.engine, "plan") as got:
            if not got:
                return "skipped: another daemon is planning"
            report = plan(
                self.engine,
                now=self.clock.now(),
                settings=self.settings,
                actor=f"daemon:{self.instance}",
            )
        detail = f"queued {report.queued}"
        if report.render_errors:
            detail += (
                f", {len(report.render_errors)} render error(s): {report.render_errors[0].error}"
            )
        return detail

    @property
    def dispatcher(self) -> Any:
        if self._dispatcher is None:
            from outreach.dispatch.runner import build_dispatcher

            self._dispatcher = build_dispatcher(
                self.engine, self.settings, clock=self.clock, owner=self.instance
            )
        return self._dispatcher

    async def dispatch_job(self) -> str:
        summary = await self.dispatcher.run_once()
        return summary.describe()

    def replies_job(self) -> str:
        if not self.settings.imap_configured:
            return "skipped: IMAP not configured"
        from outreach.replies.intake import fetch_mailbox

        mailbox = (
            f"{self.settings.imap_username}@{self.settings.imap_host}/{self.settings.imap_mailbox}"
        )
        with advisory_lock(self.engine, f"imap:{mailbox}") as got:
            if not got:
                return "skipped: another daemon is fetching this mailbox"
            report = fetch_mailbox(self.engine, settings=self.settings, now=self.clock.now())
        return str(report)

    def sweep_job(self) -> str:
        from outreach.dispatch.sweep import sweep_expired

        with session_scope(self.engine) as session:
            counts = sweep_expired(session, now=self.clock.now(), actor=f"daemon:{self.instance}")
        return counts.describe()

    def retention_job(self) -> str:
        from outreach.privacy.retention import apply_retention

        return apply_retention(
            self.engine,
            settings=self.settings,
            now=self.clock.now(),
            actor=f"daemon:{self.instance}",
        )

    # -- running -------------------------------------------------------------------------------

    def _record(
        self, name: str, started: datetime, *, finished: datetime | None, result: JobResult | None
    ) -> None:
        """Upsert this instance's ``job_run`` row for ``name`` (``result`` None: running)."""
        with session_scope(self.engine) as session:
            record_job_run(
                session,
                job=name,
                instance=self.instance,
                started_at=started,
                finished_at=finished,
                outcome=result.outcome if result else "running",
                detail=result.detail if result else None,
            )

    async def _call(self, name: str, fn: Callable[[], Any]) -> JobResult:
        """Run one job and say how it ended; never raises (a job must never kill the daemon)."""
        try:
            if asyncio.iscoroutinefunction(fn):
                detail = await fn()
            else:
                detail = await asyncio.to_thread(fn)
            result = JobResult(
                "skipped" if str(detail).startswith("skipped") else "ok", str(detail)
            )
            log.info("job %s: %s", name, detail, extra={"job": name, "outcome": result.outcome})
        except SmtpAuthError as exc:
            result = JobResult("error", exc.message)
            log.error("job %s: %s", name, exc.message, extra={"job": name, "outcome": "error"})
            if self._stop is not None:
                self._stop.set()  # bad credentials will not fix themselves: stop, loudly
        except OutreachError as exc:
            result = JobResult("error", exc.message)
            log.error("job %s: %s", name, exc.message, extra={"job": name, "outcome": "error"})
        except Exception as exc:  # a job must never kill the daemon
            result = JobResult("error", f"{type(exc).__name__}: {exc}")
            log.exception("job %s failed", name, extra={"job": name, "outcome": "error"})
        return result

    async def _run_job(self, name: str, fn: Callable[[], Any]) -> JobResult:
        """Run one job, recording on ``job_run`` that it started and how it ended."""
        started = self.clock.now()
        await asyncio.to_thread(self._record, name, started, finished=None, result=None)
        result = await self._call(name, fn)
        self.results[name] = result
        await asyncio.to_thread(
            self._record, name, started, finished=self.clock.now(), result=result
        )
        return result

    def _jobs(self) -> list[tuple[str, Callable[[], Any], int]]:
        """(name, job, interval) of each job :func:`job_intervals` schedules."""
        return [
            (name, getattr(self, f"{name}_job"), seconds)
            for name, seconds in job_intervals(self.settings).items()
        ]

    async def run_once(self) -> dict[str, JobResult]:
        """Each job once, in pipeline order (for cron and tests)."""
        import_job_modules()
        for name, fn, _ in self._jobs():
            await self._run_job(name, fn)
        if not self.settings.imap_configured:
            self.results["replies"] = JobResult("skipped", "IMAP not configured")
        return self.results

    async def run_forever(self) -> int:
        """Run on the schedule until SIGTERM/SIGINT; returns the exit code."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        import_job_modules()
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._request_stop, sig)
        scheduler = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
        )
        for name, fn, seconds in self._jobs():
            scheduler.add_job(
                self._run_job,
                "interval",
                args=(name, fn),
                seconds=seconds,
                id=name,
                name=name,
                next_run_time=datetime.now().astimezone(),
            )
        scheduler.start()
        health = self._start_health_port()
        log.info(
            "daemon started",
            extra={"instance": self.instance, "jobs": [j[0] for j in self._jobs()]},
        )
        await self._stop.wait()
        log.info("stopping: no more claims; letting in-flight sends finish")
        await self._stop_health_port(health)
        scheduler.pause()
        if self._dispatcher is not None:
            self._dispatcher.stop()  # in-flight sends finish; unsent claims go back to approved
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if pending:
            _done, still = await asyncio.wait(pending, timeout=self.settings.shutdown_grace)
            for t in still:
                t.cancel()
        scheduler.shutdown(wait=False)
        log.info("daemon stopped", extra={"instance": self.instance})
        return 0

    def _start_health_port(self) -> tuple[Any, asyncio.Task[None]] | None:
        """Serve ``/healthz`` and ``/metrics`` on ``OUTREACH_METRICS_PORT`` (when set) in this
        event loop; (the server, its task) or None."""
        port = self.settings.metrics_port
        if port is None:
            return None
        from outreach.web.routes.health import health_app
        from outreach.web.server import QuietServer, config

        server = QuietServer(
            config(
                health_app(self.engine, self.settings, self.clock),
                host=self.settings.web_host,
                port=port,
            )
        )
        log.info(
            "serving /healthz and /metrics", extra={"host": self.settings.web_host, "port": port}
        )
        return server, asyncio.create_task(server.serve())

    async def _stop_health_port(self, health: tuple[Any, asyncio.Task[None]] | None) -> None:
        if health is None:
            return
        server, task = health
        server.should_exit = True
        await asyncio.wait([task], timeout=5)

    def _request_stop(self, sig: signal.Signals) -> None:
        log.info("received %s", sig.name)
        if self._stop is not None:
            self._stop.set()


def start(
    engine: Engine, settings: Settings, *, clock: Clock | None = None, once: bool = False
) -> int:
    """Migrate, then run the daemon (forever, or each job once)."""
    migrate(engine)
    if settings.imap_notice is not None:
        log.warning(settings.imap_notice)
    daemon = Daemon(engine, settings, clock=clock or SystemClock())
    if once:
        results = asyncio.run(daemon.run_once())
        return 1 if any(r.outcome == "error" for r in results.values()) else 0
    return asyncio.run(daemon.run_forever())
