"""Prepare inbound messages ahead of the database writes, in forked worker processes.

:func:`prepared_batches` turns ``(source, raw)`` items into batches of
:class:`~outreach.replies.prepare.PreparedReply`, in input order. Parsing and classifying are
CPU work and need no database, so with ``workers`` ≥ 1 and more than one batch of input the
batches are prepared in that many worker processes, at most ``workers + 1`` batches ahead of
the caller, which stores the previous batch meanwhile. The same
:func:`~outreach.replies.prepare.prepare_reply` runs either way, with every hostile-input cap
(:mod:`~outreach.replies.limits`), so the result is the same; a batch is cut at ``batch``
messages or :data:`MAX_BATCH_BYTES` of raw mail, whichever comes first, so what is held in
memory stays bounded. The workers are forked (they start at once with the code loaded, and
touch no inherited connection), so a process running other threads prepares in-process
(forking a threaded process can deadlock), as :mod:`outreach.planner.pool` does. Should the
pool fail (a worker killed, out of memory), the batches not yet prepared are prepared in this
process and the run goes on.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import chain

from outreach.replies.prepare import PreparedReply, prepare_reply

log = logging.getLogger(__name__)

#: Raw bytes in one batch at most (a batch holds at least one message, however big).
MAX_BATCH_BYTES = 32 * 1024 * 1024
#: Worker processes :func:`default_workers` suggests: measured on 2 cores, two beat one (the
#: database writer waits on the disk and the server part of the time).
MAX_WORKERS = 2

Item = tuple[str, bytes]


def default_workers() -> int:
    """:data:`MAX_WORKERS` worker processes on a machine of two cores or more where this
    process may fork (see the module docstring), else 0."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return MAX_WORKERS if cores >= 2 and _may_fork() else 0


def _may_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def prepared_batches(
    items: Iterable[Item],
    *,
    batch: int,
    max_bytes: int,
    unsubscribe_addresses: frozenset[str],
    workers: int = 0,
) -> Iterator[list[PreparedReply]]:
    """The prepared batches of ``items``, in order (see the module docstring). ``workers=0``,
    input that fits in one batch, or a process that may not fork prepares everything in this
    process."""
    args = (max_bytes, unsubscribe_addresses)
    chunks = _batches(items, batch)
    first = next(chunks, None)
    pooled = workers > 0 and _may_fork()
    second = next(chunks, None) if first is not None and pooled else None
    if second is None:
        for chunk in chain([first] if first is not None else [], chunks):
            yield prepare_chunk(chunk, *args)
        return
    yield from _pooled(chain([first, second], chunks), args, workers)


def prepare_chunk(
    chunk: list[Item], max_bytes: int, unsubscribe_addresses: frozenset[str]
) -> list[PreparedReply]:
    """One batch prepared (what a worker process runs)."""
    return [
        prepare_reply(source, raw, max_bytes=max_bytes, unsubscribe_addresses=unsubscribe_addresses)
        for source, raw in chunk
    ]


def _batches(items: Iterable[Item], batch: int) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    size = 0
    for item in items:
        chunk.append(item)
        size += len(item[1])
        if len(chunk) >= batch or size >= MAX_BATCH_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _pooled(
    chunks: Iterator[list[Item]], args: tuple[int, frozenset[str]], workers: int
) -> Iterator[list[PreparedReply]]:
    """Prepare ``chunks`` in a pool of ``workers`` processes, ``workers + 1`` ahead."""
    ahead = _Ahead(workers, args)
    try:
        while True:
            while len(ahead.pending) < workers + 1:
                chunk = next(chunks, None)
                if chunk is None:
                    break
                ahead.submit(chunk)
            if not ahead.pending:
                return
            yield ahead.next_result()
    finally:
        ahead.close()


class _Ahead:
    """The pool and the batches submitted to it, oldest first; once the pool fails, batches
    are prepared in this process."""

    def __init__(self, workers: int, args: tuple[int, frozenset[str]]) -> None:
        self.args = args
        self.pending: deque[tuple[list[Item], Future[list[PreparedReply]] | None]] = deque()
        self.pool: ProcessPoolExecutor | None = None
        try:
            self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
        except Exception as exc:
            self._give_up(exc)

    def submit(self, chunk: list[Item]) -> None:
        future = None
        if self.pool is not None:
            try:
                future = self.pool.submit(prepare_chunk, chunk, *self.args)
            except Exception as exc:
                self._give_up(exc)
        self.pending.append((chunk, future))

    def next_result(self) -> list[PreparedReply]:
        chunk, future = self.pending.popleft()
        if future is not None:
            try:
                return future.result()
            except Exception as exc:
                self._give_up(exc)
        return prepare_chunk(chunk, *self.args)

    def _give_up(self, exc: Exception) -> None:
        log.warning("reply preparation pool failed (%r); going on in this process", exc)
        self.close()
        self.pending = deque((chunk, None) for chunk, _ in self.pending)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
