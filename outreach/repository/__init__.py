"""The repository layer: every SQL statement of the stages lives here, one module per aggregate.

Keyword-only functions over a ``Session`` (``claim_due(*, session, now, limit)``-style) returning
model rows or named result rows, never tuple positions. Stages and CLI commands call these;
state changes go through :mod:`outreach.lifecycle` (compare-and-set plus the event row).

Modules: :mod:`.campaigns` (campaign/milestone/step rows <-> :class:`~outreach.spec.CampaignSpec`),
:mod:`.contacts` (contact upserts and listing), :mod:`.suppressions` (the suppression list),
:mod:`.review` (pending messages, approvals, review locks, the queue listing), :mod:`.funnel`
(state counts per campaign), :mod:`.jobs` (the daemon's ``job_run`` rows and advisory locks),
:mod:`.demo` (the demo's read-only narration queries),
:mod:`.inbound` (inbound mail and every query reply intake makes), :mod:`.planning` (what the
planner reads and inserts: enrollments, planned messages, re-render candidates),
:mod:`.bodies` (message bodies, apart from the message rows), :mod:`.outbox` (every query
of dispatch: claims, send-time loads, leases, daily counts, the dry-run preview and the
operator's queue lookups), :mod:`.attempts` (attempt rows: the
``data_sent`` mark, finished attempts, what the lease sweeper reads), :mod:`.events` (the event
log's inserts).
"""
