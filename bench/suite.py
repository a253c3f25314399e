"""The benchmarks, by name. Each takes the run's :class:`~bench.context.Context` and adds its
rows and targets to it; it raises :class:`~bench.context.NotAvailable` when its product code
path does not exist yet.

* ``dispatch`` (:mod:`bench.dispatch_cases`): the dispatcher to smtp-sink, ceiling the raw
  aiosmtplib loop; ``peer`` (:mod:`bench.peer_cases`): django-post-office on the same sink and
  messages, and dispatch as a ratio to it; ``slow``: the dispatcher to a slow sink, ceiling the
  ideal rate;
* ``replies`` (:mod:`bench.replies_cases`): reply intake, ceiling a header-only pipeline;
* ``plan`` (:mod:`bench.plan_cases`): the planner, ceiling a raw render+compose+insert pipeline.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.context import QUICK, Context, NotAvailable, Sizes, Skipped
from bench.dispatch_cases import bench_dispatch, bench_slow
from bench.peer_cases import bench_peer
from bench.plan_cases import bench_plan
from bench.replies_cases import bench_replies

__all__ = ["BENCHES", "QUICK", "Context", "NotAvailable", "Sizes", "Skipped"]

BENCHES: dict[str, Callable[[Context], None]] = {
    "plan": bench_plan,
    "dispatch": bench_dispatch,
    "peer": bench_peer,
    "slow": bench_slow,
    "replies": bench_replies,
}
