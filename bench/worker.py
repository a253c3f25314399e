"""Benchmark worker processes: ``python -m bench.worker KIND SPEC_JSON``.

Each timed run happens in a fresh process so that its peak RSS is its own and several
processes can run at once. Protocol on stdout: ``READY`` once set up (imports done, data
loaded), then the worker waits for a line on stdin (the start signal, sent to every process of
a group at once), runs, and prints ``RESULT {json}``. When the product code path is missing
(an ImportError / AttributeError: a module another engineer is still writing) the worker prints
``RESULT {"unavailable": reason}`` instead.

Wall-clock ``start``/``end`` are ``time.time()`` so the parent can combine processes.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
import types
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux: ``5`` into ``/proc/self/clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def cpu_seconds() -> float:
    """This process's CPU time so far (user + system, every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ready_and_wait() -> None:
    print("READY", flush=True)
    sys.stdin.readline()


def _emit(result: dict[str, Any]) -> None:
    print("RESULT " + json.dumps(result, default=str), flush=True)


def _settings(spec: dict[str, Any]) -> Any:
    from outreach.settings import load_settings

    values: dict[str, Any] = {"database_url": spec["url"]}
    if spec.get("templates_dir"):
        values["templates_dir"] = Path(spec["templates_dir"])
    if spec.get("port"):
        values.update(
            smtp_host="127.0.0.1",
            smtp_port=spec["port"],
            smtp_tls="none",
            smtp_concurrency=spec.get("concurrency", 4),
        )
    return load_settings(env={}, **values)


# -- plan -----------------------------------------------------------------------------------------


def run_plan(spec: dict[str, Any]) -> dict[str, Any]:
    from outreach.db import create_engine
    from outreach.planner import plan

    settings = _settings(spec)
    engine = create_engine(settings.sqlalchemy_url)
    now = datetime.fromisoformat(spec["now"])
    _ready_and_wait()
    base = _status_kb("VmRSS")
    reset = reset_peak_rss()
    t0 = time.perf_counter()
    start = time.time()
    report = plan(engine, now=now, settings=settings, workers=spec.get("workers"))
    elapsed = time.perf_counter() - t0
    end = time.time()
    engine.dispose()
    return {
        "elapsed": elapsed,
        "start": start,
        "end": end,
        "queued": report.queued,
        "render_errors": len(report.render_errors),
        "first_error": report.render_errors[0].error if report.render_errors else None,
        "rss_base_kb": base,
        "rss_peak_kb": _status_kb("VmHWM"),
        # the planner's worker processes (forked; much of their memory is shared)
        "rss_children_peak_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        "peak_reset": reset,
    }


def run_seed(spec: dict[str, Any]) -> dict[str, Any]:
    """Setup, not a measurement: an approved message for every contact of the bench campaign,
    bulk-inserted (with each contact's enrollment). One letter is rendered and composed by the
    planner's own code (:func:`outreach.planner.make_letter`) and re-used for every contact
    with its own Message-ID header and hashes, and the contact's envelope address; due and
    dated as the planner would (``step_due`` and the sending window). What is then timed on
    these rows is the real dispatcher. (No "created" events are written: nothing reads them.)
    On PostgreSQL the database is then analysed, as the peer's queue is.
    """
    import hashlib

    import sqlalchemy as sa
    from sqlmodel import Session, select

    from outreach.compose import make_message_id
    from outreach.countdown import next_window_opening, step_due
    from outreach.db import create_engine
    from outreach.models import Campaign, Contact, Enrollment
    from outreach.planner import make_letter, message_id_domain, renderer_for
    from outreach.repository.campaigns import load_campaign
    from outreach.repository.planning import insert_messages
    from outreach.states import EnrollmentStatus, MessageStatus

    settings = _settings(spec)
    now = datetime.fromisoformat(spec["now"])
    engine = create_engine(settings.sqlalchemy_url)
    t0 = time.perf_counter()
    with Session(engine) as session:
        campaign = session.exec(select(Campaign)).one()
        loaded = load_campaign(session, campaign=campaign)
        first = session.exec(select(Contact).order_by(Contact.id).limit(1)).one()
    spec_c = loaded.spec
    (step,) = spec_c.steps
    step_id = loaded.steps[step.key].id
    domain = message_id_domain(spec_c, settings)
    due = step_due(step, spec_c, previous_sent_at=None)
    assert due is not None
    template_mid = make_message_id(domain=domain)
    scheduled0 = next_window_opening(max(due, now), spec_c.sending, spec_c.timezone)
    letter = make_letter(
        renderer_for(settings.templates_dir),
        spec_c,
        step,
        first,
        scheduled_for=scheduled0,
        message_id=template_mid,
        settings=settings,
    )
    old = template_mid.encode("ascii")
    if letter.raw.count(old) != 1:
        raise RuntimeError("the composed letter does not quote its Message-ID exactly once")
    columns = letter.columns()
    ct = Contact.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        contacts = list(conn.execute(sa.select(ct.c.id, ct.c.email, ct.c.timezone)))
    windows: dict[str | None, datetime] = {}
    inserted = 0
    chunk = 1000
    for i in range(0, len(contacts), chunk):
        messages, enrollments = [], []
        for cid, email, tz in contacts[i : i + chunk]:
            if tz not in windows:
                windows[tz] = next_window_opening(
                    max(due, now), spec_c.sending, tz or spec_c.timezone
                )
            scheduled = windows[tz]
            mid = make_message_id(domain=domain)
            raw = letter.raw.replace(old, mid.encode("ascii"))
            sha = hashlib.sha256(raw).hexdigest()
            messages.append(
                {
                    **columns,
                    "campaign_id": campaign.id,
                    "step_id": step_id,
                    "contact_id": cid,
                    "message_id": mid,
                    "status": MessageStatus.APPROVED.value,
                    "raw": raw,
                    "content_hash": sha,
                    "approved_hash": sha,
                    "envelope_from": spec_c.sender.email,
                    "envelope_to": email,
                    "scheduled_for": scheduled,
                    "due_at": scheduled,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            enrollments.append(
                {
                    "campaign_id": campaign.id,
                    "contact_id": cid,
                    "status": EnrollmentStatus.ACTIVE.value,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        with Session(engine) as session, session.begin():
            session.execute(sa.insert(Enrollment), enrollments)
            inserted += len(insert_messages(session, rows=messages))
    if engine.dialect.name == "postgresql":
        # statistics, as autovacuum gathers them soon after a bulk insert (a real queue is
        # planned days ahead): without them the claim's plan sorts every due row
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    elapsed = time.perf_counter() - t0
    engine.dispose()
    return {"queued": inserted, "elapsed": elapsed}


# -- dispatch ------------------------------------------------------------------------------------


def run_dispatch(spec: dict[str, Any]) -> dict[str, Any]:
    """The real dispatcher, built the way ``outreach send --now`` builds it (same stale check),
    sending up to ``limit`` messages."""
    from outreach.clock import FixedClock
    from outreach.db import create_engine
    from outreach.dispatch.runner import build_dispatcher

    settings = _settings(spec)
    engine = create_engine(settings.sqlalchemy_url)
    clock = FixedClock(datetime.fromisoformat(spec["now"]))
    dispatcher = build_dispatcher(engine, settings, clock=clock)
    _ready_and_wait()
    start = time.time()
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    summary = dispatcher.run_sync(limit=spec.get("limit"))
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    end = time.time()
    engine.dispose()
    data = summary.as_dict()
    return {
        "sent": data["sent"],
        "elapsed": elapsed,
        "cpu_s": cpu,
        "start": start,
        "end": end,
        "summary": data,
        "rss_peak_kb": _status_kb("VmHWM"),
    }


def run_raw_smtp(spec: dict[str, Any]) -> dict[str, Any]:
    """The SMTP ceiling: aiosmtplib, ``concurrency`` connections each reused for every message,
    sending the stored bytes of approved messages (loaded before the start signal) with
    MAIL/RCPT/DATA: no database, no checks, no bookkeeping."""
    import aiosmtplib
    import sqlalchemy as sa

    from outreach.db import create_engine
    from outreach.models import Message, MessageBody

    engine = create_engine(spec["url"])
    t = Message.__table__  # type: ignore[attr-defined]
    b = MessageBody.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = [
            (r[0], r[1], r[2])
            for r in conn.execute(
                sa.select(t.c.envelope_from, t.c.envelope_to, b.c.raw)
                .join(b, b.c.message_id == t.c.id)
                .where(t.c.status == "approved")
                .order_by(t.c.id)
                .offset(spec.get("offset", 0))
                .limit(spec["limit"])
            )
        ]
    engine.dispose()
    concurrency = int(spec["concurrency"])
    port = int(spec["port"])

    async def main() -> int:
        it = iter(rows)
        sent = 0

        async def worker() -> None:
            nonlocal sent
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=60)
            await client.connect()
            try:
                for frm, to, raw in it:
                    await client.mail(frm)
                    await client.rcpt(to)
                    await client.data(raw)
                    sent += 1
            finally:
                await client.quit()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return sent

    _ready_and_wait()
    start = time.time()
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    sent = asyncio.run(main())
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    return {"sent": sent, "elapsed": elapsed, "cpu_s": cpu, "start": start, "end": time.time()}


def run_floor_smtp(spec: dict[str, Any]) -> dict[str, Any]:
    """The dispatch floor (:mod:`bench.floor`): the raw loop plus the guarantees' writes alone,
    bare sqlite3."""
    from bench import floor

    connection, writer = floor.prepare(spec["url"], now=datetime.fromisoformat(spec["now"]))
    _ready_and_wait()
    start = time.time()
    cpu0 = cpu_seconds()
    result = floor.run(writer, port=int(spec["port"]), conc=int(spec["concurrency"]))
    cpu = cpu_seconds() - cpu0
    connection.close()
    return {**result, "cpu_s": cpu, "start": start, "end": time.time()}


# -- replies -------------------------------------------------------------------------------------


def run_replies(spec: dict[str, Any]) -> dict[str, Any]:
    from outreach.db import create_engine
    from outreach.replies.intake import import_paths
    from outreach.replies.pool import default_workers

    settings = _settings(spec)
    engine = create_engine(settings.sqlalchemy_url)
    now = datetime.fromisoformat(spec["now"])
    _ready_and_wait()
    reset_peak_rss()
    start = time.time()
    t0 = time.perf_counter()
    report = import_paths(engine, [Path(spec["mbox"])], settings=settings, now=now)
    elapsed = time.perf_counter() - t0
    end = time.time()
    engine.dispose()
    return {
        "processed": report.processed,
        "duplicates": report.duplicates,
        "by_class": dict(report.by_class),
        "unmatched": report.unmatched,
        "errors": report.errors,
        "elapsed": elapsed,
        "start": start,
        "end": end,
        "rss_peak_kb": _status_kb("VmHWM"),
        "workers": default_workers(),
    }


def run_replies_prepare(spec: dict[str, Any]) -> dict[str, Any]:
    """The intake's own parse + classify of the mbox (prepared_batches, as import_paths runs
    it, with the same worker processes) and nothing else: no database."""
    from outreach.replies.limits import DEFAULT_MAX_BYTES
    from outreach.replies.pool import default_workers, prepared_batches
    from outreach.replies.sources import iter_files

    workers = default_workers()
    _ready_and_wait()
    start = time.time()
    t0 = time.perf_counter()
    processed = 0
    for chunk in prepared_batches(
        iter_files([Path(spec["mbox"])]),
        batch=500,
        max_bytes=DEFAULT_MAX_BYTES,
        unsubscribe_addresses=frozenset(),
        workers=workers,
    ):
        processed += len(chunk)
    elapsed = time.perf_counter() - t0
    return {
        "processed": processed,
        "elapsed": elapsed,
        "start": start,
        "end": time.time(),
        "workers": workers,
    }


def run_plan_ceiling(spec: dict[str, Any]) -> dict[str, Any]:
    from bench.ceilings import run_plan_ceiling as ceiling

    return ceiling(spec, _ready_and_wait)


def run_replies_ceiling(spec: dict[str, Any]) -> dict[str, Any]:
    from bench.ceilings import run_replies_ceiling as ceiling

    return ceiling(spec, _ready_and_wait)


def run_components(spec: dict[str, Any]) -> dict[str, Any]:
    from bench.ceilings import run_components as components

    return components(spec)


KINDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "plan": run_plan,
    "seed": run_seed,
    "components": run_components,
    "plan_ceiling": run_plan_ceiling,
    "replies_ceiling": run_replies_ceiling,
    "dispatch": run_dispatch,
    "raw_smtp": run_raw_smtp,
    "floor_smtp": run_floor_smtp,
    "replies": run_replies,
    "replies_prepare": run_replies_prepare,
}


def main() -> None:
    kind, spec = sys.argv[1], json.loads(sys.argv[2])
    try:
        result = KINDS[kind](spec)
    except (ImportError, AttributeError) as exc:
        # only a missing module, or a name missing from a module, means "not written yet"
        if isinstance(exc, AttributeError) and not isinstance(
            getattr(exc, "obj", None), types.ModuleType
        ):
            raise
        _emit({"unavailable": f"{type(exc).__name__}: {exc}"})
        return
    _emit(result)


if __name__ == "__main__":
    main()
