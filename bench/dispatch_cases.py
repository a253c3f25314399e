"""Dispatch benchmarks: the real dispatcher to Postfix's smtp-sink (against the raw aiosmtplib
loop sending the same stored bytes), and to a slow sink (against the ideal rate)."""

from __future__ import annotations

import time

from bench import data
from bench.context import (
    Context,
    NotAvailable,
    default_concurrency,
    group_rate,
    run_group,
    run_group_measured,
    usable_cores,
)
from bench.cpu import cpu_note, per_message_us
from bench.sinks import start_aiosmtpd_sink
from bench.stats import Figure, Row, Target, ratio, summarise


def dispatch_jobs(url: str, port: int, procs: int, conc: int, limit: int | None) -> list:
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


def check_dispatch_available() -> None:
    try:
        from outreach.dispatch import Dispatcher

        Dispatcher.run_once  # noqa: B018
    except (ImportError, AttributeError) as exc:
        raise NotAvailable(f"outreach.dispatch.Dispatcher.run_once: {exc}") from None


#: (database, processes) of the dispatch cases; the peer runs the same ones
DISPATCH_CASES = (("sqlite", 1), ("sqlite", 2), ("postgres", 1), ("postgres", 2))
#: targets (issue 13): dispatch / raw aiosmtplib loop at the same process count
DISPATCH_VS_RAW = {("sqlite", 1): 0.5, ("postgres", 1): 0.4, ("postgres", 2): 0.6}


def processes_label(procs: int) -> str:
    return f"{procs} process{'es' if procs > 1 else ''}"


def bench_dispatch(ctx: Context) -> None:
    """20,000 approved messages through the real dispatcher to smtp-sink, with one and two
    processes on SQLite and PostgreSQL; ceiling: raw aiosmtplib at the same connection count
    and process count, same bytes, same sink, same run. The rates are kept in the context
    for the peer's comparison (:mod:`bench.peer_cases`)."""
    check_dispatch_available()
    n = ctx.sizes.dispatch
    conc = default_concurrency()
    sink = ctx.sink()
    figures: dict[tuple[str, int], tuple[Figure, Figure]] = {}
    for kind, procs in [c for c in DISPATCH_CASES if c[0] in ctx.kinds()]:
        name = f"{kind}, {processes_label(procs)} x {conc} connections"
        try:
            ours, raw, cpu, floor = _dispatch_case(ctx, kind, procs, conc, sink.port)
        except NotAvailable:
            raise
        except Exception as exc:  # one broken case must not hide the others
            ctx.rows.append(Row("dispatch", name, status=f"error: {type(exc).__name__}: {exc}"))
            ctx.log(f"  dispatch {kind} x{procs}: error: {exc}")
            continue
        figures[(kind, procs)] = (ours, raw)
        ctx.dispatch_rates[(kind, procs)] = ours
        ctx.rows.append(
            Row(
                "dispatch",
                name,
                ours,
                raw,
                "raw aiosmtplib loop",
                extra={
                    "sink": "smtp-sink" if "smtp-sink" in sink.label else "aiosmtpd",
                    "messages": n,
                    "cpu_us_per_message": cpu,
                },
            )
        )
        ctx.notes.append(
            cpu_note(
                f"{kind}, {processes_label(procs)}", cpu["outreach"], cpu["raw"], usable_cores()
            )
        )
        _floor_rows(ctx, name, ours, raw, floor, n, cpu)
    for (kind, procs), wanted in DISPATCH_VS_RAW.items():
        if (kind, procs) in figures:
            ours, raw = figures[(kind, procs)]
            ctx.targets.append(
                Target(
                    f"dispatch {processes_label(procs)} / raw aiosmtplib loop ({kind})",
                    wanted,
                    ratio(ours, raw),
                )
            )
    ctx.notes.append(f"fast sink: {sink.label}")


#: the cases that also measure the floor (bench.floor: SQLite, one writer)
FLOOR_CASES = (("sqlite", 1),)
#: the floor's row label
FLOOR_LABEL = "floor: the guarantees' writes alone, bare sqlite3"


def _floor_rows(
    ctx: Context,
    name: str,
    ours: Figure,
    raw: Figure,
    floor: Figure | None,
    n: int,
    cpu: dict[str, dict[str, float]],
) -> None:
    """The floor's rows (bench.floor): the floor against the raw loop, and the dispatcher
    against the floor (a ratio over 100 % would mean it is no floor)."""
    if floor is None:
        return
    ctx.rows.append(
        Row(
            "dispatch",
            f"{name}, {FLOOR_LABEL}",
            floor,
            raw,
            "raw aiosmtplib loop",
            extra={"messages": n, "cpu_us_per_message": cpu.get("floor", {})},
        )
    )
    own = cpu.get("floor", {}).get("own")
    if own is not None:
        ctx.notes.append(f"CPU per message, {FLOOR_LABEL}: {own:,.0f} µs (last run)")
    ctx.rows.append(
        Row(
            "dispatch",
            f"{name}, against its floor",
            ours,
            floor,
            "floor: the guarantees' writes alone",
            extra={"messages": n},
        )
    )


def _floor_job(url: str, port: int, conc: int) -> list:
    spec = {"url": url, "port": port, "concurrency": conc, "now": data.DISPATCH_NOW.isoformat()}
    return [("floor_smtp", spec)]


def _dispatch_case(
    ctx: Context, kind: str, procs: int, conc: int, port: int
) -> tuple[Figure, Figure, dict[str, dict[str, float]], Figure | None]:
    """(ours, raw loop, CPU µs per message of each in the last run, the floor or ``None``)
    over ``expensive_runs`` runs, each on fresh clones of the prepared messages: the raw loop
    first, then the dispatcher, then (in :data:`FLOOR_CASES`) the floor."""
    n = ctx.sizes.dispatch
    golden = ctx.planned_db(kind, n)
    dbs = ctx.dbs(kind)
    ours, raw = [], []
    floors: list[float] = []
    cpu: dict[str, dict[str, float]] = {}
    for _ in range(ctx.expensive_runs):
        url = dbs.clone(golden)
        rr, raw_use = run_group_measured(_raw_jobs(url, port, procs, conc, n))
        raw.append(group_rate(rr, "sent"))
        dr, our_use = run_group_measured(dispatch_jobs(url, port, procs, conc, None))
        cpu = {
            "raw": per_message_us(raw_use, sum(r["cpu_s"] for r in rr), n),
            "outreach": per_message_us(our_use, sum(r["cpu_s"] for r in dr), n),
        }
        sent = sum(r["sent"] for r in dr)
        if sent != n:
            raise RuntimeError(f"dispatch sent {sent} of {n}: {[r['summary'] for r in dr]}")
        ours.append(group_rate(dr, "sent"))
        line = f"  dispatch {kind} x{procs}: {ours[-1]:,.0f} msg/s (raw {raw[-1]:,.0f}"
        if kind == "sqlite" and procs == 1 and ("sqlite", n) not in ctx.sent_dbs:
            ctx.sent_dbs[("sqlite", n)] = url  # kept for the replies benchmark
        else:
            dbs.drop(url)
        if (kind, procs) in FLOOR_CASES:
            url = dbs.clone(golden)
            fr, floor_use = run_group_measured(_floor_job(url, port, conc))
            dbs.drop(url)
            if fr[0]["sent"] != n:
                raise RuntimeError(f"the floor sent {fr[0]['sent']} of {n}")
            floors.append(group_rate(fr, "sent"))
            cpu["floor"] = per_message_us(floor_use, fr[0]["cpu_s"], n)
            line += f", floor {floors[-1]:,.0f}"
        ctx.log(line + ")")
    return (
        summarise(ours),
        summarise(raw),
        cpu,
        summarise(floors) if floors else None,
    )


# -- dispatch against a slow server --------------------------------------------------------------

SLOW_RCPT_MS = 20
SLOW_DATA_MS = 20


def bench_slow(ctx: Context) -> None:
    """The dispatcher against a sink that waits 20 ms at RCPT and 20 ms at DATA: rate against
    the ideal ``connections / per-message delay`` at 1, 8 and 32 connections (SQLite), and
    one vs two processes of 8 connections (PostgreSQL). smtp-sink's delays are whole seconds,
    so this sink is aiosmtpd (bench.slowsink)."""
    check_dispatch_available()
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
    raws: dict[tuple[str, int, int], Figure] = {}
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
                raw.append(group_rate(rr, "sent"))
                dr = run_group(dispatch_jobs(url, sink.port, procs, conc, count // procs))
                ours.append(group_rate(dr, "sent"))
                dbs.drop(url)
                last = time.monotonic() - t0
                ctx.log(
                    f"  slow {kind} {procs}x{conc}: {ours[-1]:,.0f} msg/s "
                    f"(ideal {ideal:,.0f}, raw {raw[-1]:,.0f})"
                )
            fig = summarise(ours)
            results[(kind, procs, conc)] = fig
            raws[(kind, procs, conc)] = summarise(raw)
            ctx.rows.append(
                Row(
                    "slow server",
                    f"{kind}, {processes_label(procs)} x {conc} connections",
                    fig,
                    ideal,
                    "ideal",
                    extra={
                        "raw_aiosmtplib": summarise(raw).as_dict(),
                        "raw_loop": f"{summarise(raw).median:,.0f} msg/s",
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
    if ("sqlite", 1, 32) in results:
        ctx.targets.append(
            Target(
                "slow server, 32 connections / raw aiosmtplib loop (same sink)",
                0.85,
                ratio(results[("sqlite", 1, 32)], raws[("sqlite", 1, 32)]),
            )
        )
    if ("postgres", 2, 8) in results:
        ctx.targets.append(
            Target(
                "slow server, 2 processes / 1 process (8 connections, postgres)",
                1.6,
                ratio(results[("postgres", 2, 8)], results[("postgres", 1, 8)]),
            )
        )
