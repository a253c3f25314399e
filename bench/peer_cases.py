"""The peer benchmark: django-post-office (the best-known Python durable outbox) sending the
same number of the same letters to the same smtp-sink as the dispatch benchmark, with one and
two processes, on SQLite and PostgreSQL; then outreach's dispatch rate as a ratio to it at the
same process count and database, and the target "dispatch >= 3x the peer" as met / NOT met.

The peer runs in its own virtual environment (:mod:`bench.peer_env`) through
``bench/peer_worker.py``. Its queue is made once per database (setup, not timed) and cloned
for each timed run, as outreach's is. When the peer cannot be installed its row says why and
the bench goes on.
"""

from __future__ import annotations

import json
import subprocess
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.context import Context, tail_lines
from bench.dispatch_cases import DISPATCH_CASES, processes_label
from bench.peer_env import WORKER, PeerUnavailable, peer_python, pinned
from bench.stats import Figure, Row, Target, ratio, summarise

PEER = "django-post-office"
#: target (issue 13): outreach dispatch / peer, same process count and database
TIMES_PEER = 3.0


def bench_peer(ctx: Context) -> None:
    """The peer's send rate for each (database, processes) of :data:`DISPATCH_CASES`, then a
    ``dispatch vs peer`` row and a target for each case both measured."""
    n = ctx.sizes.dispatch
    version = pinned().get("django-post-office", "?")
    try:
        python = peer_python(ctx.log)
    except PeerUnavailable as exc:
        ctx.rows.append(Row("peer", PEER, status=f"skipped: could not be installed: {exc}"))
        ctx.log(f"  peer: could not be installed: {exc}")
        _ratios(ctx, {})
        return
    sink = ctx.sink()
    rates: dict[tuple[str, int], Figure] = {}
    for kind in ctx.kinds():
        golden, setup = _queue(ctx, python, kind, n, sink.port)
        for procs in sorted({p for k, p in DISPATCH_CASES if k == kind}):
            name = f"{PEER} {version}, {kind}, {processes_label(procs)}"
            fig, last = _send(ctx, python, kind, golden, procs, sink.port, n)
            rates[(kind, procs)] = fig
            ctx.rows.append(
                Row(
                    "peer",
                    name,
                    fig,
                    extra={
                        "messages": n,
                        "note": f"{last['threads_per_process']} threads/process, "
                        f"log_level {last['log_level']} (package defaults)",
                        "message_bytes": setup["message_bytes"],
                        "enqueue_msg_s_send_many": round(n / setup["enqueue_s"], 1),
                        "versions": last["versions"],
                    },
                )
            )
    _ratios(ctx, rates)


def _ratios(ctx: Context, rates: dict[tuple[str, int], Figure]) -> None:
    """``dispatch vs peer`` rows and the targets, for every dispatch case (``not measured``
    when either side did not run)."""
    for kind, procs in DISPATCH_CASES:
        if kind not in ctx.kinds():
            continue
        ours, peer = ctx.dispatch_rates.get((kind, procs)), rates.get((kind, procs))
        name = f"{kind}, {processes_label(procs)}"
        if ours is not None and peer is not None:
            ctx.rows.append(Row("dispatch vs peer", name, ours, peer, PEER, comparison="peer"))
        ctx.targets.append(
            Target(
                f"dispatch / {PEER} ({kind}, {processes_label(procs)})",
                TIMES_PEER,
                ratio(ours, peer),
            )
        )


def _content(url: str) -> dict[str, Any]:
    """What the peer sends: the letter of the prepared messages at ``url`` (they all share one
    subject, text and html: see :func:`bench.worker.run_seed`), from the same From, to every
    recipient of them."""
    from outreach.db import create_engine
    from outreach.models import Message, MessageBody

    engine = create_engine(url)
    t = Message.__table__  # type: ignore[attr-defined]
    b = MessageBody.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        first = conn.execute(
            sa.select(t.c.subject, b.c.text, b.c.html, b.c.raw)
            .join(b, b.c.message_id == t.c.id)
            .order_by(t.c.id)
            .limit(1)
        ).one()
        recipients = list(conn.scalars(sa.select(t.c.envelope_to).order_by(t.c.id)))
    engine.dispose()
    sender = BytesHeaderParser().parsebytes(first.raw)["From"]
    return {
        "sender": str(sender),
        "subject": first.subject,
        "text": first.text,
        "html": first.html,
        "recipients": recipients,
    }


def db_spec(url: str) -> dict[str, Any]:
    """The peer worker's database spec for a SQLAlchemy URL (SQLite file or PostgreSQL)."""
    u = sa.engine.make_url(url)
    if u.get_backend_name() == "sqlite":
        return {"engine": "sqlite", "path": u.database}
    return {
        "engine": "postgresql",
        "name": u.database,
        "user": u.username,
        "password": u.password,
        "host": u.host or "127.0.0.1",
        "port": u.port or 5432,
    }


def _run(ctx: Context, python: Path, action: str, spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [str(python), str(WORKER), action, json.dumps(spec)],
        cwd=ctx.workdir,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"peer {action} failed: {tail_lines(done.stderr)}")
    return json.loads(line[len("RESULT ") :])


def _queue(ctx: Context, python: Path, kind: str, n: int, port: int) -> tuple[str, dict[str, Any]]:
    """A database of ``kind`` holding the peer's queue of ``n`` emails (setup, once)."""
    content = ctx.workdir / f"peer-content-{kind}.json"
    content.write_text(json.dumps(_content(ctx.planned_db(kind, n))), encoding="utf-8")
    url = ctx.dbs(kind).empty()
    spec = {"db": db_spec(url), "smtp_port": port, "content": str(content)}
    result = _run(ctx, python, "setup", spec)
    if result["queued"] != n:
        raise RuntimeError(f"peer queued {result['queued']} of {n}")
    ctx.setup[f"peer queue {kind} {n} (send_many)"] = round(result["enqueue_s"], 2)
    ctx.log(f"  setup: peer queue of {n:,} on {kind} in {result['enqueue_s']:.1f} s")
    return url, result


def _send(
    ctx: Context, python: Path, kind: str, golden: str, procs: int, port: int, n: int
) -> tuple[Figure, dict[str, Any]]:
    """The peer's send rate (``expensive_runs`` runs, each on a fresh copy of its queue)."""
    dbs = ctx.dbs(kind)
    samples: list[float] = []
    result: dict[str, Any] = {}
    for _ in range(ctx.expensive_runs):
        url = dbs.clone(golden)
        spec = {
            "db": db_spec(url),
            "smtp_port": port,
            "processes": procs,
            "lockfile": str(ctx.workdir / "peer-send"),
        }
        try:
            result = _run(ctx, python, "send", spec)
        finally:
            dbs.drop(url)
        if result["sent"] != n or result["failed"]:
            raise RuntimeError(f"peer sent {result['sent']} of {n}: {result}")
        samples.append(n / result["elapsed"])
        ctx.log(f"  peer {kind} x{procs}: {samples[-1]:,.0f} msg/s")
    return summarise(samples), result
