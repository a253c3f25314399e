"""The plan benchmark: the real planner on 10,000 and 100,000 contacts (msg/s, peak RSS),
against the plan ceiling (:func:`bench.ceilings.run_plan_ceiling`, one process per core) and
a naive baseline (raw Jinja2 + stdlib ``EmailMessage`` + Core insert, per message), plus the
render and compose components against theirs, all measured in the same run."""

from __future__ import annotations

import time

from bench.context import Context, group_rate, plan_spec, run_group, usable_cores
from bench.stats import Figure, Row, Target, summarise

#: what the plan ceiling is, for the table
CEILING_LABEL = "raw Jinja2 + byte-join + Core insert, {procs} processes"
BASELINE_LABEL = "raw Jinja2 + stdlib EmailMessage + Core insert, per message"


def bench_plan(ctx: Context) -> None:
    """Plan with 10,000 and 100,000 contacts on SQLite and PostgreSQL: msg/s and peak RSS, as
    a share of the plan ceiling and as a speed-up over the naive baseline, both measured on
    the same database in the same run. The small size, the ceiling and the components run
    first on every database; then the large size, each only when its estimate fits the budget
    left (``--full`` runs it whatever the estimate)."""
    small, large = ctx.sizes.plan[0], ctx.sizes.plan[-1]
    rates: dict[tuple[str, int], Figure] = {}
    rss: dict[tuple[str, int], float] = {}
    rows: dict[str, list[Row]] = {}
    ceilings: dict[str, tuple[Figure, int]] = {}
    baselines: dict[str, float] = {}
    components: dict[str, Figure] = {}
    for kind in ctx.kinds():
        kept = _plan_size(ctx, kind, small, rates, rss, rows, keep=True)
        comp = _components(ctx, kind, small, kept, with_render=kind == "sqlite")
        if kept is not None:
            ceilings[kind] = _plan_ceiling(ctx, kind, small, kept)
            ctx.dbs(kind).drop(kept)
        if kind == "sqlite":
            components.update(comp)
            _component_rows(ctx, comp)
        if "render raw" in components and "insert raw" in comp:
            baselines[kind] = 1 / (
                1 / components["render raw"].median
                + 1 / components["compose stdlib"].median
                + 1 / comp["insert raw"].median
            )
            ctx.rows.append(
                Row(
                    "plan",
                    f"component: raw Core insert, {kind}",
                    comp["insert raw"],
                    extra={"note": "executemany, 500 rows/txn"},
                )
            )
    if large != small:
        for kind in ctx.kinds():
            if _large_fits(ctx, kind, small, large, rates):
                _plan_size(ctx, kind, large, rates, rss, rows, keep=False)
    for kind, plan_rows in rows.items():
        if kind in ceilings:
            fig, procs = ceilings[kind]
            for row in plan_rows:
                row.ceiling, row.ceiling_label = fig, CEILING_LABEL.format(procs=procs)
                row.extra["ceiling_measured_at"] = f"{small:,} contacts"
        if kind in baselines:
            for row in plan_rows:
                ctx.rows.append(
                    Row(
                        "plan",
                        f"{row.name}, vs naive baseline",
                        row.figure,
                        baselines[kind],
                        BASELINE_LABEL,
                        comparison="baseline",
                    )
                )
    _plan_with_pdf_letters(ctx, rates)
    for kind in ctx.kinds():
        have = (kind, large) in rss and (kind, small) in rss
        ctx.targets.append(
            Target(
                f"plan msg/s at {large:,} contacts ({kind})",
                1000,
                rates[(kind, large)].median if (kind, large) in rates else None,
            )
        )
        ctx.targets.append(
            Target(
                f"plan peak RSS {large:,} / {small:,} ({kind})",
                1.2,
                rss[(kind, large)] / rss[(kind, small)] if have else None,
                at_most=True,
            )
        )


def _plan_with_pdf_letters(ctx: Context, rates: dict[tuple[str, int], Figure]) -> None:
    """Plan ``sizes.plan_pdf`` contacts whose letter attaches a PDF printed per contact
    (WeasyPrint), on SQLite: once with the planner's render pool (its default for such a
    campaign: 2 forked workers on a multi-core machine) and once in one process. Rows: msg/s,
    milliseconds per letter, and the rate as a share of plain planning (same run)."""
    kind, n = "sqlite", ctx.sizes.plan_pdf
    if kind not in ctx.kinds():
        return
    base = ctx.contacts_db(kind, n, letter=True)
    plain = rates.get((kind, ctx.sizes.plan[0]))
    for label, workers in (("render pool", None), ("one process", 0)):
        samples: list[float] = []
        last = 0.0
        while not samples or ctx.want_more(len(samples), last):
            t0 = time.monotonic()
            url = ctx.dbs(kind).clone(base)
            (res,) = run_group([("plan", {**plan_spec(url), "workers": workers})])
            ctx.dbs(kind).drop(url)
            if res["queued"] != n:
                raise RuntimeError(f"plan with PDF letters queued {res['queued']} of {n}: {res}")
            samples.append(n / res["elapsed"])
            ctx.log(f"  plan {kind} {n:,} with a PDF letter ({label}): {samples[-1]:,.1f} msg/s")
            last = time.monotonic() - t0
        fig = summarise(samples)
        ctx.rows.append(
            Row(
                "plan",
                f"{kind} {n:,} contacts with a PDF letter each ({label})",
                fig,
                plain.median if plain else None,
                "plain planning, same run (no PDF)",
                extra={"ms_per_letter": round(1000 / fig.median, 1), "messages": n},
                comparison="baseline",
            )
        )


def _component_rows(ctx: Context, comp: dict[str, Figure]) -> None:
    ctx.rows.append(
        Row("render", "TemplateRenderer", comp["render ours"], comp["render raw"], "raw Jinja2")
    )
    ctx.rows.append(
        Row(
            "compose",
            "compose()",
            comp["compose ours"],
            comp["compose join"],
            "byte-join, no checks",
        )
    )
    ctx.rows.append(
        Row(
            "compose",
            "compose(), vs naive baseline",
            comp["compose ours"],
            comp["compose stdlib"],
            "stdlib EmailMessage",
            comparison="baseline",
        )
    )


def _large_fits(
    ctx: Context, kind: str, small: int, large: int, rates: dict[tuple[str, int], Figure]
) -> bool:
    """Whether the large plan on ``kind`` runs: ``--full``, or its estimate fits the budget
    left (else a row says it was skipped, and why)."""
    if ctx.full:
        return True
    est = _estimate_large(ctx, kind, small, large, rates.get((kind, small)))
    left = ctx.budget - ctx.elapsed()
    if est <= left:
        return True
    msg = f"skipped: over budget (estimate {est:.0f} s, {max(left, 0):.0f} s left); run with --full"
    ctx.rows.append(Row("plan", f"{kind} {large:,} contacts", status=msg))
    ctx.log(f"  plan {kind} {large:,}: {msg}")
    return False


def _plan_ceiling(ctx: Context, kind: str, n: int, rows_url: str) -> tuple[Figure, int]:
    """The plan ceiling on ``kind`` (msg/s, and how many processes ran it): one pipeline per
    core, each a share of the ``n`` contacts, started at once, into a fresh copy of the
    contacts database, inserting the rows stored at ``rows_url``."""
    dbs = ctx.dbs(kind)
    base = ctx.contacts_db(kind, n)
    procs = usable_cores()
    samples: list[float] = []
    last = 0.0
    while not samples or ctx.want_more(len(samples), last):
        t0 = time.monotonic()
        target = dbs.clone(base)
        jobs = [
            (
                "plan_ceiling",
                {**plan_spec(target), "rows_url": rows_url, "share": i, "shares": procs},
            )
            for i in range(procs)
        ]
        results = run_group(jobs)
        dbs.drop(target)
        queued = sum(r["queued"] for r in results)
        if queued != n:
            raise RuntimeError(f"plan ceiling queued {queued} of {n}")
        samples.append(group_rate(results, "queued"))
        last = time.monotonic() - t0
        ctx.log(f"  plan ceiling {kind} {n:,} ({procs} processes): {samples[-1]:,.0f} msg/s")
    return summarise(samples), procs


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
    import_est = 0.0 if (kind, n, False) in ctx.contact_dbs else (imp or 0) * n / small
    return n / rate.median + import_est + 5


def _components(
    ctx: Context, kind: str, n: int, rows_url: str | None, *, with_render: bool
) -> dict[str, Figure]:
    """Render, compose (ours, byte-join, stdlib) on a sample, and the raw insert of the rows
    stored at ``rows_url`` (all per message, msg/s)."""
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
                ("compose join", "join_compose_s"),
                ("compose stdlib", "stdlib_compose_s"),
            ):
                samples.setdefault(name, []).append(k / res[key])
        if "raw_insert_s" in res:
            samples.setdefault("insert raw", []).append(res["insert_rows"] / res["raw_insert_s"])
    out = {name: summarise(v) for name, v in samples.items()}
    ctx.log(
        "  components " + kind + ": " + ", ".join(f"{k} {v.median:,.0f}/s" for k, v in out.items())
    )
    return out
