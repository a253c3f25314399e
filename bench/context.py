"""What every benchmark shares: the run's :class:`Context` (sizes, runs, budget, prepared
databases, the fast sink, the rows and targets collected), and :func:`run_group`, which runs
timed work in worker processes (:mod:`bench.worker`) started all at once.

Every timed run happens in worker processes against a fresh clone of a prepared database, so
runs start from the same state and peak RSS is per run. Ceilings, baselines and the peer are
measured in the same run, on the same sink and data, as the figures they are compared with.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import data
from bench.cpu import CpuSnapshot, CpuUse
from bench.dbs import Databases, postgres_problem
from bench.sinks import REPO, Sink, start_fast_sink
from bench.stats import Figure, Row, Target


class NotAvailable(Exception):
    """The product code path this benchmark measures does not exist (yet)."""


class Skipped(Exception):
    """The benchmark was not run (budget, missing service); the message says why."""


@dataclass(frozen=True)
class Sizes:
    plan: tuple[int, ...] = (10_000, 100_000)
    dispatch: int = 20_000
    #: messages per slow-sink case: about 4 s at the ideal rate
    slow_seconds: float = 4.0
    replies: int = 20_000
    components_sample: int = 1_000
    #: contacts planned with a PDF letter each (printing one costs tens of milliseconds)
    plan_pdf: int = 2_000


QUICK = Sizes(
    plan=(1_000, 5_000),
    dispatch=2_000,
    slow_seconds=1.5,
    replies=2_000,
    components_sample=200,
    plan_pdf=300,
)


#: a run shorter than this is cheap: cheap figures get ``--runs`` runs, others ``expensive_runs``
CHEAP_RUN_SECONDS = 12.0


@dataclass
class Context:
    workdir: Path
    #: runs per cheap figure (a few seconds a run)
    runs: int
    sizes: Sizes
    budget: float
    full: bool = False
    #: runs per expensive figure (dispatch of 20,000, planning): their spread is small
    expensive_runs: int = 1
    only_db: str | None = None
    log: Callable[[str], None] = print
    started: float = field(default_factory=time.monotonic)
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    setup: dict[str, float] = field(default_factory=dict)
    _dbs: dict[str, Databases] = field(default_factory=dict)
    contact_dbs: dict[tuple[str, int, bool], str] = field(default_factory=dict)
    _planned: dict[tuple[str, int], str] = field(default_factory=dict)
    #: a database whose dispatch benchmark sent everything (for the replies benchmark)
    sent_dbs: dict[tuple[str, int], str] = field(default_factory=dict)
    #: outreach dispatch rates by (database, processes), for the peer comparison
    dispatch_rates: dict[tuple[str, int], Figure] = field(default_factory=dict)
    _sink: Sink | None = None
    _pg_problem: str | None = None
    _pg_checked: bool = False

    # -- plumbing -----------------------------------------------------------------------------

    def want_more(self, done: int, seconds: float) -> bool:
        """Whether a figure needs another run after ``done`` runs, the last of which took
        ``seconds``: ``runs`` runs when a run is cheap (under :data:`CHEAP_RUN_SECONDS`),
        ``expensive_runs`` when it is not (every figure's JSON says how many it got)."""
        return done < (self.runs if seconds < CHEAP_RUN_SECONDS else self.expensive_runs)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def kinds(self) -> list[str]:
        """The database kinds available: sqlite always, postgres when reachable."""
        if self.only_db == "sqlite":
            return ["sqlite"]
        if not self._pg_checked:
            self._pg_problem = postgres_problem(Databases("postgres", self.workdir).pg_base)
            self._pg_checked = True
            if self._pg_problem:
                self.notes.append(f"PostgreSQL cases skipped: {self._pg_problem}")
        if self.only_db == "postgres":
            return [] if self._pg_problem else ["postgres"]
        return ["sqlite"] if self._pg_problem else ["sqlite", "postgres"]

    def dbs(self, kind: str) -> Databases:
        if kind not in self._dbs:
            self._dbs[kind] = Databases(kind, self.workdir)
        return self._dbs[kind]

    def sink(self) -> Sink:
        if self._sink is None or self._sink.proc.poll() is not None:
            self._sink = start_fast_sink()
            self.log(f"  sink: {self._sink.label} on 127.0.0.1:{self._sink.port}")
        return self._sink

    def close(self) -> None:
        if self._sink is not None:
            self._sink.stop()
        for dbs in self._dbs.values():
            dbs.drop_all()

    # -- prepared databases (set up once per run, then cloned) ----------------------------------

    def contacts_db(self, kind: str, n: int, *, letter: bool = False) -> str:
        """A database with the bench campaign loaded (``letter``: its variant that attaches a
        PDF letter) and ``n`` contacts imported (through outreach's own services), nothing
        planned."""
        key = (kind, n, letter)
        if key not in self.contact_dbs:
            from outreach.db import create_engine
            from outreach.operations.campaigns import load_campaigns
            from outreach.operations.contacts import import_contacts
            from outreach.settings import load_settings

            t0 = time.perf_counter()
            url = self.dbs(kind).fresh()
            settings = load_settings(env={}, database_url=url, templates_dir=data.TEMPLATES_DIR)
            folder = self.workdir / ("campaign-letter" if letter else "campaign")
            folder.mkdir(exist_ok=True)
            data.write_campaign(folder, letter=letter)
            csv_path = self.workdir / f"contacts-{n}.csv"
            if not csv_path.exists():
                data.write_contacts(csv_path, n)
            engine = create_engine(url)
            load_campaigns(engine, folder, settings=settings, now=data.PLAN_NOW, actor="bench")
            t1 = time.perf_counter()
            import_contacts(engine, csv_path, now=data.PLAN_NOW)
            t2 = time.perf_counter()
            engine.dispose()
            self.setup[f"contacts import {kind} {n}"] = round(t2 - t1, 2)
            self.setup[f"contacts db {kind} {n} total"] = round(t2 - t0, 2)
            self.log(f"  setup: {n:,} contacts imported on {kind} in {t2 - t1:.1f} s")
            self.contact_dbs[key] = url
        return self.contact_dbs[key]

    def planned_db(self, kind: str, n: int) -> str:
        """``n`` approved messages ready for dispatch: one letter rendered and composed by the
        planner's code, bulk-inserted once per contact with its own Message-ID (setup only,
        see :func:`bench.worker.run_seed`; the plan benchmark times the real planner)."""
        key = (kind, n)
        if key not in self._planned:
            url = self.dbs(kind).clone(self.contacts_db(kind, n))
            result = run_group([("seed", plan_spec(url))])[0]
            if result["queued"] != n:
                raise RuntimeError(f"seeding queued {result['queued']} of {n}: {result}")
            self.setup[f"approved messages {kind} {n} (bulk insert)"] = round(result["elapsed"], 2)
            self.log(
                f"  setup: {n:,} approved messages inserted on {kind} in {result['elapsed']:.1f} s"
            )
            self._planned[key] = url
        return self._planned[key]


# -- worker processes ---------------------------------------------------------------------------


class WorkerError(RuntimeError):
    pass


def run_group(jobs: Sequence[tuple[str, dict[str, Any]]], timeout: float = 3600) -> list[dict]:
    """Start one worker process per job, wait until every one is set up, start them all at
    once, and return their results in order. Raises :class:`NotAvailable` when a worker
    reports its code path missing."""
    return run_group_measured(jobs, timeout)[0]


def run_group_measured(
    jobs: Sequence[tuple[str, dict[str, Any]]], timeout: float = 3600
) -> tuple[list[dict], CpuUse]:
    """:func:`run_group`, and the CPU the machine and the sink spent from the start signal
    until the last worker ended (:mod:`bench.cpu`)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.worker", kind, json.dumps(spec, default=str)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for kind, spec in jobs
    ]
    early: dict[int, str] = {}
    try:
        for i, p in enumerate(procs):
            assert p.stdout is not None
            line = p.stdout.readline()
            if line.startswith("RESULT "):
                early[i] = line
            elif line.strip() != "READY":
                _, err = p.communicate(timeout=30)
                raise WorkerError(f"{jobs[i][0]} worker failed at start: {tail_lines(err)}")
        before, t0 = CpuSnapshot.take(), time.perf_counter()
        for i, p in enumerate(procs):
            if i not in early:
                assert p.stdin is not None
                p.stdin.write("go\n")
                p.stdin.flush()
        results = []
        for i, p in enumerate(procs):
            out, err = p.communicate(timeout=timeout)
            text = early.get(i, "") + out
            line = next((ln for ln in text.splitlines() if ln.startswith("RESULT ")), None)
            if p.returncode != 0 or line is None:
                raise WorkerError(f"{jobs[i][0]} worker failed: {tail_lines(err)}")
            result = json.loads(line[len("RESULT ") :])
            if "unavailable" in result:
                raise NotAvailable(result["unavailable"])
            results.append(result)
        use = CpuUse.between(before, CpuSnapshot.take(), time.perf_counter() - t0)
        return results, use
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def tail_lines(text: str | None, lines: int = 6) -> str:
    return " | ".join((text or "").strip().splitlines()[-lines:])


def plan_spec(url: str) -> dict[str, Any]:
    return {"url": url, "templates_dir": str(data.TEMPLATES_DIR), "now": data.PLAN_NOW.isoformat()}


def group_rate(results: Sequence[dict], count_key: str) -> float:
    """Messages per second of a group of processes: total over the span first start-last end."""
    total = sum(r[count_key] for r in results)
    span = max(r["end"] for r in results) - min(r["start"] for r in results)
    return total / span


def default_concurrency() -> int:
    from outreach.settings import Settings

    return int(Settings.model_fields["smtp_concurrency"].default)


def usable_cores() -> int:
    """The cores this process may run on (a ceiling uses them all: it must be an upper bound
    of the same work, however many processes our code uses)."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1
