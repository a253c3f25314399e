"""The dispatch floor on SQLite: the raw aiosmtplib loop plus only the durable writes that
never-twice, never-lost and the crash bound stand on, with bare :mod:`sqlite3` and no checks.

It is an upper bound of the dispatcher's work with its guarantees: the same claim (the lease
update of up to a batch of due rows and their ``claimed`` events, the rows' bytes read in the
same transaction), the same ``data_sent`` attempt row committed before each DATA (the marks of
every connection waiting gathered into one commit), the same outcome writes (the message row,
its attempt row, a ``sent`` event) committed with the marks before a connection's second
unrecorded letter, all on one writer thread — and nothing else: no send-time checks, no
enrollment or suppression reads, no ORM, no per-letter bookkeeping. Its rate over the raw loop's
is what a dispatcher of this design (one writer, marks gathered) keeping those guarantees on
this schema can reach at most; the dispatcher's rate over the floor's is how much of that it
reaches (measured in the same run: single runs are noisy, compare medians).

The message rows keep no body: the claim reads each letter's bytes from ``message_body``, as
the dispatcher's claim does. (Before migration 0007 moved the bodies out, a second variant
moved them in an untimed setup to measure what that would give: docs/performance.md.)
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from outreach.db import create_engine
from outreach.dispatch.driver import FLUSH_SECONDS, GATHER_SECONDS, UNRECORDED_PER_CONNECTION
from outreach.dispatch.policy import ClaimSizes, claim_sizes
from outreach.settings import Settings

#: the dispatcher's defaults: claims of ``dispatch_batch`` rows, leases of ``lease_seconds``
BATCH: int = Settings.model_fields["dispatch_batch"].default
LEASE_SECONDS: int = Settings.model_fields["lease_seconds"].default


def _stamp(at: datetime) -> str:
    """A datetime as SQLAlchemy stores it in SQLite."""
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")


class FloorWriter:
    """The floor's statements, run on its one writer thread."""

    def __init__(self, db: sqlite3.Connection, *, now: datetime) -> None:
        self.db = db
        self.now = _stamp(now)
        self.lease = _stamp(now + timedelta(seconds=LEASE_SECONDS))
        self.token = secrets.token_hex(16)
        self.owner = "bench-floor"
        self.select = (
            "SELECT m.id, m.envelope_from, m.envelope_to, b.raw FROM message m "
            "JOIN message_body b ON b.message_id = m.id "
            "WHERE m.status = 'approved' AND m.due_at <= ? ORDER BY m.due_at, m.id LIMIT ?"
        )

    def claim(self, limit: int) -> list[tuple[int, str, str, bytes]]:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        rows = db.execute(self.select, (self.now, limit)).fetchall()
        if rows:
            ids = [r[0] for r in rows]
            q = ",".join("?" * len(ids))
            db.execute(
                "UPDATE message SET status = 'sending', attempts = attempts + 1, "
                "first_attempt_at = coalesce(first_attempt_at, ?), lease_owner = ?, "
                "lease_token = ?, lease_expires_at = ?, attempt_phase = 'claimed', updated_at = ? "
                f"WHERE id IN ({q}) AND status = 'approved'",
                (self.now, self.owner, self.token, self.lease, self.now, *ids),
            )
            self._events(ids, "claimed", "approved", "sending", None)
        db.execute("COMMIT")
        return rows

    def round(self, outcomes: list[int], marks: list[int]) -> set[int]:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        if outcomes:
            db.executemany(
                "UPDATE message SET status = 'sent', lease_token = NULL, lease_expires_at = NULL, "
                "attempt_phase = 'done', smtp_code = 250, smtp_response = '2.0.0 Ok', "
                "sent_at = ?, updated_at = ? WHERE id = ? AND lease_token = ? "
                "AND status = 'sending'",
                [(self.now, self.now, i, self.token) for i in outcomes],
            )
            db.executemany(
                "UPDATE attempt SET finished_at = ?, phase = 'done', outcome = 'sent', "
                "smtp_code = 250, smtp_response = '2.0.0 Ok' WHERE message_id = ? "
                "AND lease_token = ? AND finished_at IS NULL",
                [(self.now, i, self.token) for i in outcomes],
            )
            self._events(outcomes, "sent", "sending", "sent", "250 2.0.0 Ok")
        marked: set[int] = set()
        if marks:
            q = ",".join("?" * len(marks))
            marked = {
                r[0]
                for r in db.execute(
                    "INSERT INTO attempt (message_id, number, lease_token, started_at, phase) "
                    "SELECT id, attempts, lease_token, ?, 'data_sent' FROM message "
                    f"WHERE id IN ({q}) AND lease_token = ? AND status = 'sending' "
                    "AND lease_expires_at > ? RETURNING message_id",
                    (self.now, *marks, self.token, self.now),
                )
            }
        db.execute("COMMIT")
        return marked

    def _events(self, ids: list[int], action: str, old: str, new: str, reason: str | None) -> None:
        q = ",".join("?" * len(ids))
        self.db.execute(
            "INSERT INTO event (at, actor, entity, entity_id, action, from_state, to_state, "
            f"reason, data) SELECT ?, ?, 'message', id, ?, ?, ?, ?, '{{}}' FROM message "
            f"WHERE id IN ({q})",
            (self.now, self.owner, action, old, new, reason, *ids),
        )


async def _send_all(writer: FloorWriter, executor: ThreadPoolExecutor, port: int, conc: int) -> int:
    """Every approved message through ``conc`` connections; returns how many were sent."""
    import aiosmtplib

    loop = asyncio.get_running_loop()
    sizes: ClaimSizes = claim_sizes(
        batch=BATCH, concurrency=conc, rate_per_minute=None, lease_seconds=LEASE_SECONDS
    )
    flush_marked = conc * (UNRECORDED_PER_CONNECTION - 1) + 1
    ready: deque[tuple[int, str, str, bytes]] = deque()
    marks: list[tuple[int, asyncio.Future[bool]]] = []
    pending: list[int] = []
    wake, ready_added = asyncio.Event(), asyncio.Event()
    #: before_rcpt: connections that took a letter and have not asked for its mark yet
    st = {"done": False, "claiming": False, "taken": 0, "sent": 0, "finished": 0, "before_rcpt": 0}
    claims: set[asyncio.Task[None]] = set()
    failed: list[BaseException] = []

    async def claim(limit: int) -> None:
        try:
            rows = await loop.run_in_executor(executor, writer.claim, limit)
        except BaseException as exc:  # no more claims: the connections stop, the run fails
            failed.append(exc)
            rows = []
        st["done"] = not rows
        ready.extend(rows)
        st["claiming"] = False
        ready_added.set()
        wake.set()

    async def driver() -> None:
        nonlocal pending
        while True:
            if not st["done"] and not st["claiming"] and len(ready) < sizes.low:
                size = sizes.batch - len(ready) - st["taken"]
                if size > 0:
                    st["claiming"] = True
                    task = asyncio.ensure_future(claim(size))
                    claims.add(task)
                    task.add_done_callback(claims.discard)
            flush = len(pending) >= flush_marked
            if not marks and not flush:
                if st["finished"] == conc:
                    if pending:
                        await loop.run_in_executor(executor, writer.round, pending, [])
                    return
                try:
                    async with asyncio.timeout(FLUSH_SECONDS):
                        await wake.wait()
                except TimeoutError:
                    flush = bool(pending)
                wake.clear()
                if not flush:
                    continue
            elif st["before_rcpt"]:  # let the connections whose MAIL is under way join
                deadline = loop.time() + GATHER_SECONDS
                while st["before_rcpt"] and (left := deadline - loop.time()) > 0:
                    wake.clear()
                    try:
                        async with asyncio.timeout(left):
                            await wake.wait()
                    except TimeoutError:
                        break
            asked, marks[:] = list(marks), []
            written: list[int] = []
            if flush:
                written, pending = pending, []
            got = await loop.run_in_executor(executor, writer.round, written, [m for m, _ in asked])
            for m, fut in asked:
                fut.set_result(m in got)

    async def connection() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=60)
        await client.connect()
        try:
            while True:
                while not ready:
                    if st["done"]:
                        return
                    ready_added.clear()
                    await ready_added.wait()
                mid, frm, to, raw = ready.popleft()
                st["taken"] += 1
                st["before_rcpt"] += 1
                wake.set()
                await client.mail(frm)
                fut: asyncio.Future[bool] = loop.create_future()
                marks.append((mid, fut))
                st["before_rcpt"] -= 1
                wake.set()
                await client.rcpt(to)
                if not await fut:
                    raise RuntimeError(f"message {mid}: data_sent not recorded")
                await client.data(raw)
                st["sent"] += 1
                st["taken"] -= 1
                pending.append(mid)
                if len(pending) >= flush_marked:
                    wake.set()
        finally:
            st["finished"] += 1
            wake.set()
            await client.quit()

    task = asyncio.ensure_future(driver())
    try:
        await asyncio.gather(*(connection() for _ in range(conc)))
    finally:
        st["finished"] = conc
        wake.set()
        await task
    if failed:
        raise failed[0]
    return st["sent"]


def prepare(url: str, *, now: datetime) -> tuple[Any, FloorWriter]:
    """The floor's one connection to the SQLite database at ``url``, opened by outreach's own
    engine (its pragmas: WAL, foreign keys, ``synchronous=NORMAL``; no implicit transactions),
    and its writer. Close the returned connection when done."""
    if sa.engine.make_url(url).get_backend_name() != "sqlite":
        raise ValueError(f"the floor runs on SQLite only, not {url!r}")
    connection = create_engine(url).raw_connection()
    db: sqlite3.Connection = connection.driver_connection  # type: ignore[assignment]
    connection.detach()  # closing it closes the database connection, not a pool's checkout
    return connection, FloorWriter(db, now=now)


def run(writer: FloorWriter, *, port: int, conc: int) -> dict[str, Any]:
    """Send every approved message; the timed part only (the caller has set up)."""
    executor = ThreadPoolExecutor(1, thread_name_prefix="floor-writer")
    try:
        t0 = time.perf_counter()
        sent = asyncio.run(_send_all(writer, executor, port, conc))
        elapsed = time.perf_counter() - t0
    finally:
        executor.shutdown(wait=True)
    return {"sent": sent, "elapsed": elapsed}
