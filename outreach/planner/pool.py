"""Building message rows for chunks of candidates: in this process, or in a small pool of
forked worker processes that render and compose (pure CPU) while this process reads and writes
the database.

Both builders hand chunks back in the order they were submitted, so the result of a planning
pass is the same either way. The pool forks, so it is only used when no other thread runs
(forking a threaded process can deadlock) and the audience is large enough to pay for it.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from outreach.planner.selection import Candidate

#: Audiences at least this large are rendered and composed by worker processes (see plan).
PARALLEL_MIN_CONTACTS = 2_000
#: The same for a campaign with PDF letters (printing one costs ~10-30 ms, not ~0.1 ms).
PARALLEL_MIN_CONTACTS_PDF = 100
#: Candidates per task sent to a worker process (a tenth of that for PDF letters, so that
#: both workers stay busy to the end of a chunk).
_TASK = 100
_TASK_PDF = 10
#: Chunks the workers may be rendering while this process stores one.
IN_FLIGHT = 3

#: Builds the message rows (column name → value) of some candidates, in their order.
BuildRows = Callable[[Sequence[Candidate]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Chunk:
    """Candidates to plan together, with the contacts (ids) already enrolled in the campaign."""

    candidates: list[Candidate]
    enrolled: frozenset[int]


@dataclass(frozen=True)
class Built:
    """A chunk with its message rows, one per candidate, in the same order."""

    chunk: Chunk
    rows: list[dict[str, Any]]


class RowBuilder(Protocol):
    def submit(self, chunk: Chunk) -> None: ...

    def finished(self, *, keep: int) -> Iterator[Built]:
        """The submitted chunks built so far, oldest first, leaving up to ``keep`` in flight."""
        ...

    def close(self) -> None: ...


def parallel_workers(contacts: int, workers: int | None, *, heavy: bool = False) -> int:
    """How many worker processes to use: ``workers`` when given, else 2 for an audience of at
    least :data:`PARALLEL_MIN_CONTACTS` (:data:`PARALLEL_MIN_CONTACTS_PDF` when the campaign
    prints PDF letters, ``heavy``) on a multi-core machine where this process may fork (no
    other thread running), else 0."""
    if workers is not None:
        return max(workers, 0)
    cores = os.cpu_count() or 1
    if (
        contacts < (PARALLEL_MIN_CONTACTS_PDF if heavy else PARALLEL_MIN_CONTACTS)
        or cores < 2
        or threading.active_count() > 1  # forking a threaded process can deadlock
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        return 0
    return 2


def row_builder(workers: int, build: BuildRows, *, heavy: bool = False) -> RowBuilder:
    """A :class:`RenderPool` of ``workers`` processes, or an :class:`InlineBuilder` for 0.
    ``heavy`` (PDF letters): smaller tasks, and WeasyPrint loaded (fonts and all) before the
    workers fork, so each of them does not pay for it again."""
    if not workers:
        return InlineBuilder(build)
    if heavy:
        from outreach.attachments.pdf import warm_up

        warm_up()
    return RenderPool(workers, build, task=_TASK_PDF if heavy else _TASK)


class InlineBuilder:
    """Builds each chunk in this process as it is submitted."""

    def __init__(self, build: BuildRows) -> None:
        self._build = build
        self._done: deque[Built] = deque()

    def submit(self, chunk: Chunk) -> None:
        self._done.append(Built(chunk, self._build(chunk.candidates)))

    def finished(self, *, keep: int) -> Iterator[Built]:
        while self._done:
            yield self._done.popleft()

    def close(self) -> None:
        self._done.clear()


#: The row builder of a worker process (set once, by fork, in _init_worker).
_WORKER_BUILD: list[BuildRows] = []


def _init_worker(build: BuildRows) -> None:
    _WORKER_BUILD[:] = [build]


def _build_in_worker(candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
    return _WORKER_BUILD[0](candidates)


class RenderPool:
    """Worker processes, forked with ``build`` (and all it holds: renderer, campaign, a cache
    of send days of their own), that build chunks in tasks of a hundred candidates."""

    def __init__(self, workers: int, build: BuildRows, *, task: int = _TASK) -> None:
        self._task = task
        self._executor = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_init_worker,
            initargs=(build,),
        )
        self._pending: deque[tuple[Chunk, list[Future[list[dict[str, Any]]]]]] = deque()

    def submit(self, chunk: Chunk) -> None:
        candidates = chunk.candidates
        tasks = [
            self._executor.submit(_build_in_worker, candidates[i : i + self._task])
            for i in range(0, len(candidates), self._task)
        ]
        self._pending.append((chunk, tasks))

    def finished(self, *, keep: int) -> Iterator[Built]:
        while len(self._pending) > keep:
            chunk, tasks = self._pending.popleft()
            yield Built(chunk, [row for task in tasks for row in task.result()])

    def close(self) -> None:
        self._executor.shutdown(cancel_futures=True)
