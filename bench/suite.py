"""The benchmarks. Each ``bench_*`` function takes the run's :class:`Context` and returns table
rows; it raises :class:`NotAvailable` when its product code path does not exist yet.

Every timed run happens in worker processes (:mod:`bench.worker`) against a fresh clone of a
prepared database, so runs start from the same state and peak RSS is per run. Ceilings are
measured in the same run, on the same sink and data, as the figures they divide.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import data
from bench.dbs import Databases, postgres_problem
from bench.sinks import REPO, Sink, start_aiosmtpd_sink, start_fast_sink
from bench.stats import Figure, Row, Target, ratio, summarise


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


QUICK = Sizes(
    plan=(1_000, 5_000), dispatch=2_000, slow_seconds=1.5, replies=2_000, components_sample=200
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
    _contacts: dict[tuple[str, int], str] = field(default_factory=dict)
    _planned: dict[tuple[str, int], str] = field(default_factory=dict)
    _sent: dict[tuple[str, int], str] = field(default_factory=dict)
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

    def contacts_db(self, kind: str, n: int) -> str:
        """A database with the bench campaign loaded and ``n`` contacts imported (through
        outreach's own services), nothing planned."""
        key = (kind, n)
        if key not in self._contacts:
            from outreach.db import create_engine
            from outreach.operations.campaigns import load_campaigns
            from outreach.operations.contacts import import_contacts
            from outreach.settings import load_settings

            t0 = time.perf_counter()
            url = self.dbs(kind).fresh()
            settings = load_settings(env={}, database_url=url, templates_dir=data.TEMPLATES_DIR)
            folder = self.workdir / "campaign"
            folder.mkdir(exist_ok=True)
            data.write_campaign(folder)
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
            self._contacts[key] = url
        return self._contacts[key]

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
                raise WorkerError(f"{jobs[i][0]} worker failed at start: {_tail(err)}")
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
                raise WorkerError(f"{jobs[i][0]} worker failed: {_tail(err)}")
            result = json.loads(line[len("RESULT ") :])
            if "unavailable" in result:
                raise NotAvailable(result["unavailable"])
            results.append(result)
        return results
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def _tail(text: str | None, lines: int = 6) -> str:
    return " | ".join((text or "").strip().splitlines()[-lines:])


def plan_spec(url: str) -> dict[str, Any]:
    return {"url": url, "templates_dir": str(data.TEMPLATES_DIR), "now": data.PLAN_NOW.isoformat()}


def _rate(results: Sequence[dict], count_key: str) -> float:
    """Messages per second of a group of processes: total over the span first start-last end."""
    total = sum(r[count_key] for r in results)
    span = max(r["end"] for r in results) - min(r["start"] for r in results)
    return total / span


def default_concurrency() -> int:
    from outreach.settings import Settings

    return int(Settings.model_fields["smtp_concurrency"].default)


# -- plan -----------------------------------------------------------------------------------------


def bench_plan(ctx: Context) -> None:
    """Plan with 10,000 and 100,000 contacts on SQLite and PostgreSQL: msg/s and peak RSS; the
    ceiling is the raw pipeline (raw Jinja2 render + raw stdlib compose + raw batched insert
    of the same rows), measured in the same run. The small size and the ceilings run first on
    every database; then the large size, each only when its estimate fits the budget left
    (``--full`` runs it whatever the estimate)."""
    small, large = ctx.sizes.plan[0], ctx.sizes.plan[-1]
    render_rows: dict[str, Figure] = {}
    rates: dict[tuple[str, int], Figure] = {}
    rss: dict[tuple[str, int], float] = {}
    rows: dict[str, list[Row]] = {}
    ceilings: dict[str, float] = {}
    for kind in ctx.kinds():
        kept = _plan_size(ctx, kind, small, rates, rss, rows, keep=True)
        # ceilings: raw render + raw compose (once, on sqlite) and raw insert (per database)
        comp = _components(ctx, kind, small, kept, with_render=kind == "sqlite")
        if kept is not None:
            ctx.dbs(kind).drop(kept)
        if kind == "sqlite":
            render_rows.update(comp)
        if "render ours" in render_rows and "insert raw" in comp:
            per_msg = (
                1 / render_rows["render raw"].median
                + 1 / render_rows["compose raw"].median
                + 1 / comp["insert raw"].median
            )
            ceilings[kind] = 1 / per_msg
            ctx.rows.append(
                Row(
                    "ceiling",
                    f"raw batched insert, {kind}",
                    comp["insert raw"],
                    extra={"note": "Core executemany, 500 rows/txn"},
                )
            )
        if kind == "sqlite":
            ctx.rows.append(
                Row(
                    "render",
                    "TemplateRenderer vs raw Jinja2",
                    comp["render ours"],
                    comp["render raw"],
                    "raw Jinja2",
                )
            )
            ctx.rows.append(
                Row(
                    "compose",
                    "compose() vs raw stdlib EmailMessage",
                    comp["compose ours"],
                    comp["compose raw"],
                    "raw stdlib",
                )
            )
    if large != small:
        for kind in ctx.kinds():
            if not ctx.full:
                est = _estimate_large(ctx, kind, small, large, rates.get((kind, small)))
                left = ctx.budget - ctx.elapsed()
                if est > left:
                    msg = (
                        f"skipped: over budget (estimate {est:.0f} s, {max(left, 0):.0f} s "
                        "left); run with --full"
                    )
                    ctx.rows.append(Row("plan", f"{kind} {large:,} contacts", status=msg))
                    ctx.log(f"  plan {kind} {large:,}: {msg}")
                    continue
            _plan_size(ctx, kind, large, rates, rss, rows, keep=False)
    for kind, ceiling in ceilings.items():
        for row in rows.get(kind, []):
            row.ceiling = ceiling
            row.ceiling_label = "raw render+compose+insert"
    if "sqlite" in ctx.kinds():
        have = ("sqlite", large) in rss and ("sqlite", small) in rss
        ctx.targets.append(
            Target(
                f"plan msg/s at {large:,} contacts, sqlite",
                1000,
                rates[("sqlite", large)].median if ("sqlite", large) in rates else None,
            )
        )
        ctx.targets.append(
            Target(
                f"plan peak RSS {large:,} / {small:,} (sqlite)",
                1.2,
                rss[("sqlite", large)] / rss[("sqlite", small)] if have else None,
                at_most=True,
            )
        )


def _plan_size(
    ctx: Context,
    kind: str,
    n: int,
    rates: dict[tuple[str, int], Figure],
    rss: dict[tuple[str, int], float],
    rows: dict[str, list[Row]],
    *,
    keep: bool,
) -> str | None:
    """Plan ``n`` contacts on ``kind`` (as many runs as :meth:`Context.want_more` asks for) and
    add its row; returns the URL of one planned database when ``keep`` (for the raw insert
    ceiling)."""
    dbs = ctx.dbs(kind)
    base = ctx.contacts_db(kind, n)
    samples: list[float] = []
    peaks: list[float] = []
    bases: list[float] = []
    children: list[float] = []
    kept: str | None = None
    last = 0.0
    while not samples or ctx.want_more(len(samples), last):
        t0 = time.monotonic()
        url = dbs.clone(base)
        (res,) = run_group([("plan", plan_spec(url))])
        if res["queued"] != n:
            raise RuntimeError(f"plan queued {res['queued']} of {n}: {res}")
        samples.append(n / res["elapsed"])
        peaks.append(res["rss_peak_kb"] / 1024)
        bases.append(res["rss_base_kb"] / 1024)
        children.append(res.get("rss_children_peak_kb", 0) / 1024)
        ctx.log(f"  plan {kind} {n:,}: {samples[-1]:,.0f} msg/s, peak RSS {peaks[-1]:.0f} MB")
        if keep and kept is None:
            kept = url
        else:
            dbs.drop(url)
        last = time.monotonic() - t0
    rates[(kind, n)] = summarise(samples)
    rss[(kind, n)] = max(peaks)
    row = Row(
        "plan",
        f"{kind} {n:,} contacts",
        rates[(kind, n)],
        extra={
            "peak_rss_mb": round(max(peaks)),
            "rss_before_plan_mb": round(min(bases)),
            "worker_process_peak_rss_mb": round(max(children)),
            "messages": n,
        },
    )
    ctx.rows.append(row)
    rows.setdefault(kind, []).append(row)
    return kept


def _estimate_large(ctx: Context, kind: str, small: int, n: int, rate: Figure | None) -> float:
    if rate is None:
        return 0.0
    imp = ctx.setup.get(f"contacts import {kind} {small}")
    import_est = 0.0 if (kind, n) in ctx._contacts else (imp or 0) * n / small
    return n / rate.median + import_est + 5


def _components(
    ctx: Context, kind: str, n: int, rows_url: str | None, *, with_render: bool
) -> dict[str, Figure]:
    dbs = ctx.dbs(kind)
    base = ctx.contacts_db(kind, n)
    samples: dict[str, list[float]] = {}
    for _ in range(ctx.runs):
        target = dbs.clone(base)
        spec = {
            **plan_spec(base),
            "sample": ctx.sizes.components_sample if with_render else 0,
            "rows_url": rows_url,
            "insert_url": target,
        }
        (res,) = run_group([("components", spec)])
        dbs.drop(target)
        k = res["sample"]
        if with_render and k:
            for name, key in (
                ("render ours", "ours_render_s"),
                ("render raw", "raw_render_s"),
                ("compose ours", "ours_compose_s"),
                ("compose raw", "raw_compose_s"),
            ):
                samples.setdefault(name, []).append(k / res[key])
        if "raw_insert_s" in res:
            samples.setdefault("insert raw", []).append(res["insert_rows"] / res["raw_insert_s"])
    out = {name: summarise(v) for name, v in samples.items()}
    ctx.log(
        "  components " + kind + ": " + ", ".join(f"{k} {v.median:,.0f}/s" for k, v in out.items())
    )
    return out


# -- dispatch ------------------------------------------------------------------------------------


def _dispatch_jobs(url: str, port: int, procs: int, conc: int, limit: int | None) -> list:
    spec = {
        "url": url,
        "port": port,
        "concurrency": conc,
        "now": data.DISPATCH_NOW.isoformat(),
        "limit": limit,
    }
    return [("dispatch", spec)] * procs


def _raw_jobs(url: str, port: int, procs: int, conc: int, count: int) -> list:
    share = count // procs
    return [
        (
            "raw_smtp",
            {"url": url, "port": port, "concurrency": conc, "limit": share, "offset": i * share},
        )
        for i in range(procs)
    ]


def _check_dispatch_available() -> None:
    try:
        from outreach.dispatch import Dispatcher

        Dispatcher.run_once  # noqa: B018
    except (ImportError, AttributeError) as exc:
        raise NotAvailable(f"outreach.dispatch.Dispatcher.run_once: {exc}") from None


def bench_dispatch(ctx: Context) -> None:
    """20,000 approved messages through the real dispatcher to smtp-sink: one process (SQLite
    and PostgreSQL) and two processes (PostgreSQL); ceiling: raw aiosmtplib at the same
    connection count and process count, same bytes, same sink, same run."""
    _check_dispatch_available()
    n = ctx.sizes.dispatch
    conc = default_concurrency()
    sink = ctx.sink()
    cases = [c for c in [("sqlite", 1), ("postgres", 1), ("postgres", 2)] if c[0] in ctx.kinds()]
    figures: dict[tuple[str, int], tuple[Figure, Figure]] = {}
    for kind, procs in cases:
        golden = ctx.planned_db(kind, n)
        dbs = ctx.dbs(kind)
        ours, raw = [], []
        for _ in range(ctx.expensive_runs):
            url = dbs.clone(golden)
            rr = run_group(_raw_jobs(url, sink.port, procs, conc, n))
            raw.append(_rate(rr, "sent"))
            dr = run_group(_dispatch_jobs(url, sink.port, procs, conc, None))
            sent = sum(r["sent"] for r in dr)
            if sent != n:
                raise RuntimeError(f"dispatch sent {sent} of {n}: {[r['summary'] for r in dr]}")
            ours.append(_rate(dr, "sent"))
            ctx.log(f"  dispatch {kind} x{procs}: {ours[-1]:,.0f} msg/s (raw {raw[-1]:,.0f})")
            if kind == "sqlite" and ("sqlite", n) not in ctx._sent:
                ctx._sent[("sqlite", n)] = url  # kept for the replies benchmark
            else:
                dbs.drop(url)
        figures[(kind, procs)] = (summarise(ours), summarise(raw))
        ctx.rows.append(
            Row(
                "dispatch",
                f"{kind}, {procs} process{'es' if procs > 1 else ''} x {conc} connections",
                figures[(kind, procs)][0],
                figures[(kind, procs)][1],
                "raw aiosmtplib",
                extra={
                    "sink": "smtp-sink" if "smtp-sink" in sink.label else "aiosmtpd",
                    "messages": n,
                },
            )
        )
    if ("sqlite", 1) in figures:
        one = figures[("sqlite", 1)]
        ctx.targets.append(
            Target("dispatch 1 process / raw SMTP ceiling (sqlite)", 0.5, ratio(one[0], one[1]))
        )
    if ("postgres", 2) in figures:
        two = figures[("postgres", 2)]
        ctx.targets.append(
            Target("dispatch 2 processes / raw SMTP ceiling (postgres)", 0.6, ratio(two[0], two[1]))
        )
    ctx.notes.append(f"fast sink: {sink.label}")


# -- dispatch against a slow server --------------------------------------------------------------

SLOW_RCPT_MS = 20
SLOW_DATA_MS = 20


def bench_slow(ctx: Context) -> None:
    """The dispatcher against a sink that waits 20 ms at RCPT and 20 ms at DATA: rate against
    the ideal ``connections / per-message delay`` at 1, 8 and 32 connections (SQLite), and
    one vs two processes of 8 connections (PostgreSQL). smtp-sink's delays are whole seconds,
    so this sink is aiosmtpd (bench.slowsink)."""
    _check_dispatch_available()
    delay = (SLOW_RCPT_MS + SLOW_DATA_MS) / 1000
    cases = [
        c
        for c in [
            ("sqlite", 1, 1),
            ("sqlite", 1, 8),
            ("sqlite", 1, 32),
            ("postgres", 1, 8),
            ("postgres", 2, 8),
        ]
        if c[0] in ctx.kinds()
    ]
    n = ctx.sizes.dispatch
    sink = start_aiosmtpd_sink(SLOW_RCPT_MS, SLOW_DATA_MS, why="smtp-sink delays are whole seconds")
    ctx.notes.append(f"slow sink: {sink.label}")
    results: dict[tuple[str, int, int], Figure] = {}
    try:
        for kind, procs, conc in cases:
            ideal = procs * conc / delay
            count = min(n, max(20 * procs * conc, int(ideal * ctx.sizes.slow_seconds)))
            count -= count % procs
            golden = ctx.planned_db(kind, n)
            dbs = ctx.dbs(kind)
            ours, raw = [], []
            last = 0.0
            while not ours or ctx.want_more(len(ours), last):
                t0 = time.monotonic()
                url = dbs.clone(golden)
                rr = run_group(_raw_jobs(url, sink.port, procs, conc, count))
                raw.append(_rate(rr, "sent"))
                dr = run_group(_dispatch_jobs(url, sink.port, procs, conc, count // procs))
                ours.append(_rate(dr, "sent"))
                dbs.drop(url)
                last = time.monotonic() - t0
                ctx.log(
                    f"  slow {kind} {procs}x{conc}: {ours[-1]:,.0f} msg/s "
                    f"(ideal {ideal:,.0f}, raw {raw[-1]:,.0f})"
                )
            fig = summarise(ours)
            results[(kind, procs, conc)] = fig
            ctx.rows.append(
                Row(
                    "slow server",
                    f"{kind}, {procs} process{'es' if procs > 1 else ''} x {conc} connections",
                    fig,
                    ideal,
                    "ideal",
                    extra={
                        "raw_aiosmtplib": summarise(raw).as_dict(),
                        "ratio_to_raw": round(ratio(fig, summarise(raw)) or 0, 4),
                        "messages": count,
                        "ideal": f"{procs * conc}/{delay * 1000:.0f}ms",
                    },
                )
            )
    finally:
        sink.stop()
    for conc in (8, 32):
        fig = results.get(("sqlite", 1, conc))
        if fig is None:
            continue
        ctx.targets.append(
            Target(f"slow server, {conc} connections / ideal", 0.8, ratio(fig, conc / delay))
        )
    if ("postgres", 2, 8) in results:
        ctx.targets.append(
            Target(
                "slow server, 2 processes / 1 process (8 connections, postgres)",
                1.6,
                ratio(results[("postgres", 2, 8)], results[("postgres", 1, 8)]),
            )
        )


# -- replies -------------------------------------------------------------------------------------


def bench_replies(ctx: Context) -> None:
    """``outreach replies import`` of an mbox of 20,000 mixed messages (human replies,
    out-of-office, DSNs) answering a sent campaign, on SQLite; ceiling: the stdlib reading
    the same mbox (mailbox.mbox + BytesParser, policy.default)."""
    try:
        from outreach.replies.intake import import_paths  # noqa: F401
    except ImportError as exc:
        raise NotAvailable(f"outreach.replies.intake.import_paths: {exc}") from None
    _check_dispatch_available()
    import sqlalchemy as sa

    from outreach.db import create_engine
    from outreach.models import Message

    n = ctx.sizes.replies
    kind = "sqlite"
    sent_url = ctx._sent.get((kind, ctx.sizes.dispatch))
    dbs = ctx.dbs(kind)
    if sent_url is None:
        url = dbs.clone(ctx.planned_db(kind, ctx.sizes.dispatch))
        sink = ctx.sink()
        run_group(_dispatch_jobs(url, sink.port, 1, default_concurrency(), None))
        sent_url = ctx._sent[(kind, ctx.sizes.dispatch)] = url
    engine = create_engine(sent_url)
    t = Message.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        sent = [
            (r[0], r[1])
            for r in conn.execute(
                sa.select(t.c.message_id, t.c.envelope_to).where(t.c.status == "sent")
            )
        ]
    engine.dispose()
    if not sent:
        raise RuntimeError("no sent messages to reply to")
    mbox = ctx.workdir / f"replies-{n}.mbox"
    mix = data.write_replies_mbox(mbox, sent, n)
    ours, raw, classes = [], [], {}
    last = 0.0
    while not ours or ctx.want_more(len(ours), last):
        t0 = time.monotonic()
        url = dbs.clone(sent_url)
        spec = {
            "url": url,
            "mbox": str(mbox),
            "now": data.DISPATCH_NOW.replace(day=22).isoformat(),
        }
        (res,) = run_group([("replies", spec)])
        dbs.drop(url)
        ours.append(n / res["elapsed"])
        classes = res["by_class"]
        raw.append(n / _raw_mbox_seconds(mbox))
        last = time.monotonic() - t0
        ctx.log(f"  replies import: {ours[-1]:,.0f} msg/s (raw parse {raw[-1]:,.0f}) {classes}")
    fig = summarise(ours)
    ctx.rows.append(
        Row(
            "replies",
            f"import mbox of {n:,} ({mix['human']} human, {mix['auto']} auto, {mix['dsn']} DSN)",
            fig,
            summarise(raw),
            "stdlib mbox parse",
            extra={"by_class": classes, "messages": n},
        )
    )
    ctx.targets.append(Target("replies import msg/s", 2000, fig.median))


def _raw_mbox_seconds(path: Path) -> float:
    import mailbox
    from email import policy
    from email.parser import BytesParser

    parser = BytesParser(policy=policy.default)
    t0 = time.perf_counter()
    box = mailbox.mbox(str(path), create=False)
    for key in box.iterkeys():
        msg = parser.parsebytes(box.get_bytes(key))
        msg.get("In-Reply-To")
        msg.get_body(("plain",))
    box.close()
    return time.perf_counter() - t0


BENCHES: dict[str, Callable[[Context], None]] = {
    "plan": bench_plan,
    "dispatch": bench_dispatch,
    "slow": bench_slow,
    "replies": bench_replies,
}
