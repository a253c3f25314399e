"""Dispatch: claim due approved mail under a lease, check it again, send its stored bytes over
SMTP, record how each attempt ended (DESIGN.md rules 1, 2, 3 and 5).

The flow, per :meth:`Dispatcher.run_once`, one module per step:

1. :mod:`.sweep` — leases that ran out: a row that never reached DATA goes back to
   ``approved``; one whose DATA may have gone out becomes ``unknown`` (never resent by itself).
2. :mod:`.claims` — one transaction: due rows that :mod:`.policy` lets go now (active
   campaign, send window, daily limit) and that pass the send-time checks of :mod:`.checks`
   (a pure function over the loaded rows) move to ``sending`` under a fresh lease token; the
   others are cancelled or go back to review. Committed before any SMTP traffic.
3. :mod:`.smtp` — one reused aiosmtplib connection per worker, TLS mode set explicitly, a
   shared token bucket (:mod:`.policy`) for ``SMTP_RATE_PER_MINUTE``. Each message's DATA
   waits until the message is recorded ``data_sent``.
4. :mod:`.rounds` — the database round (:mod:`.driver` runs them on one thread): the
   ``data_sent`` marks asked for and the outcomes pending, in one transaction; every write
   guarded by the lease token: a dispatcher that lost its lease changes nothing. At most two
   messages per connection are ``data_sent`` without a recorded outcome, so a crash leaves at
   most ``2 × SMTP_CONCURRENCY`` messages ``unknown``.

:mod:`.engine` is the loop that drives them; :mod:`.runner` builds it for the CLI, the daemon
and the bench; :mod:`.operator_actions` are ``outreach queue resolve|cancel``; :mod:`.waits`
says what waits in the queue, until when and why; :mod:`.values` the values passed between
the steps. Every query is in :mod:`outreach.repository.outbox` and
:mod:`outreach.repository.attempts`; every state change goes through :mod:`outreach.lifecycle`
(which writes a batch's moves, attempts and events in one statement on PostgreSQL:
:mod:`outreach.repository.owned_moves`).

The names below are re-exported for the callers that import them from ``outreach.dispatch``.
"""

from __future__ import annotations

from outreach.dispatch.claims import claim_due, preview_due
from outreach.dispatch.engine import Dispatcher
from outreach.dispatch.operator_actions import (
    CANCELLABLE,
    QueueError,
    cancel_messages,
    resolve_unknown,
)
from outreach.dispatch.policy import TokenBucket, claim_sizes, window_from_json
from outreach.dispatch.rounds import (
    StaleCheck,
    mark_in_flight,
    record_outcomes,
    run_round,
)
from outreach.dispatch.smtp import PlainAuthRefused, build_tls_context, open_smtp
from outreach.dispatch.sweep import sweep_expired
from outreach.dispatch.values import (
    Claim,
    ClaimBatch,
    DispatchSummary,
    Outcome,
    Ready,
    SweepCounts,
)
from outreach.repository.outbox import DuePreview

__all__ = [
    "CANCELLABLE",
    "Claim",
    "ClaimBatch",
    "DispatchSummary",
    "Dispatcher",
    "DuePreview",
    "Outcome",
    "PlainAuthRefused",
    "QueueError",
    "Ready",
    "StaleCheck",
    "SweepCounts",
    "TokenBucket",
    "build_tls_context",
    "cancel_messages",
    "claim_due",
    "claim_sizes",
    "mark_in_flight",
    "open_smtp",
    "preview_due",
    "record_outcomes",
    "resolve_unknown",
    "run_round",
    "sweep_expired",
    "window_from_json",
]
