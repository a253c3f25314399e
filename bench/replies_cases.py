"""The reply-intake benchmark: ``import_paths`` on an mbox of mixed replies to a sent campaign,
against the intake ceiling (:func:`bench.ceilings.run_replies_ceiling`, one process per core)
and a naive baseline (the stdlib's full ``policy.default`` parse of the same mbox)."""

from __future__ import annotations

import time
from pathlib import Path

from bench import data
from bench.context import (
    Context,
    NotAvailable,
    default_concurrency,
    group_rate,
    run_group,
    usable_cores,
)
from bench.dispatch_cases import check_dispatch_available, dispatch_jobs
from bench.stats import Row, Target, summarise


def bench_replies(ctx: Context) -> None:
    """``outreach replies import`` of an mbox of 20,000 mixed messages (human replies,
    out-of-office, DSNs) answering a sent campaign, on SQLite. Ceiling: split the same mbox,
    parse header blocks only, hash and insert one row each, one process per core. Naive
    baseline: the stdlib reading the same mbox (mailbox.mbox + BytesParser, policy.default),
    no database."""
    try:
        from outreach.replies.intake import import_paths  # noqa: F401
    except ImportError as exc:
        raise NotAvailable(f"outreach.replies.intake.import_paths: {exc}") from None
    check_dispatch_available()
    n = ctx.sizes.replies
    kind = "sqlite"
    sent_url = _sent_db(ctx, kind)
    dbs = ctx.dbs(kind)
    mbox = ctx.workdir / f"replies-{n}.mbox"
    mix = data.write_replies_mbox(mbox, _sent_messages(sent_url), n)
    procs = usable_cores()
    ours, ceiling, naive, classes = [], [], [], {}
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
        ceiling.append(_ceiling_rate(ctx, sent_url, mbox, procs, n))
        naive.append(n / _stdlib_mbox_seconds(mbox))
        last = time.monotonic() - t0
        ctx.log(
            f"  replies import: {ours[-1]:,.0f} msg/s (ceiling {ceiling[-1]:,.0f}, "
            f"stdlib parse {naive[-1]:,.0f}) {classes}"
        )
    fig = summarise(ours)
    name = f"import mbox of {n:,} ({mix['human']} human, {mix['auto']} auto, {mix['dsn']} DSN)"
    ctx.rows.append(
        Row(
            "replies",
            name,
            fig,
            summarise(ceiling),
            f"split + header-block parse + Core insert, {procs} processes",
            extra={"by_class": classes, "messages": n},
        )
    )
    ctx.rows.append(
        Row(
            "replies",
            "import, vs naive baseline",
            fig,
            summarise(naive),
            "stdlib mbox full parse, no database",
            comparison="baseline",
        )
    )
    ctx.targets.append(Target("replies import msg/s", 2000, fig.median))


def _sent_db(ctx: Context, kind: str) -> str:
    """A database in which the dispatch benchmark's messages were all sent (dispatching them
    here when that benchmark did not run)."""
    sent_url = ctx.sent_dbs.get((kind, ctx.sizes.dispatch))
    if sent_url is None:
        url = ctx.dbs(kind).clone(ctx.planned_db(kind, ctx.sizes.dispatch))
        run_group(dispatch_jobs(url, ctx.sink().port, 1, default_concurrency(), None))
        sent_url = ctx.sent_dbs[(kind, ctx.sizes.dispatch)] = url
    return sent_url


def _sent_messages(url: str) -> list[tuple[str, str]]:
    """(Message-ID, recipient) of every sent message at ``url``."""
    import sqlalchemy as sa

    from outreach.db import create_engine
    from outreach.models import Message

    engine = create_engine(url)
    t = Message.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        sent = [
            (r.message_id, r.envelope_to)
            for r in conn.execute(
                sa.select(t.c.message_id, t.c.envelope_to).where(t.c.status == "sent")
            )
        ]
    engine.dispose()
    if not sent:
        raise RuntimeError("no sent messages to reply to")
    return sent


def _ceiling_rate(ctx: Context, sent_url: str, mbox: Path, procs: int, n: int) -> float:
    dbs = ctx.dbs("sqlite")
    url = dbs.clone(sent_url)
    jobs = [
        ("replies_ceiling", {"url": url, "mbox": str(mbox), "share": i, "shares": procs})
        for i in range(procs)
    ]
    results = run_group(jobs)
    dbs.drop(url)
    processed = sum(r["processed"] for r in results)
    if processed != n:
        raise RuntimeError(f"replies ceiling stored {processed} of {n}")
    return group_rate(results, "processed")


def _stdlib_mbox_seconds(path: Path) -> float:
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
