"""The repository layer: every SQL statement of the stages lives here, one module per aggregate.

Keyword-only functions over a ``Session`` (``claim_due(*, session, now, limit)``-style) returning
model rows or named result rows, never tuple positions. Stages and CLI commands call these;
state changes go through :mod:`outreach.lifecycle` (compare-and-set plus the event row).

Modules: :mod:`.campaigns` (campaign/milestone/step rows <-> :class:`~outreach.spec.CampaignSpec`),
:mod:`.contacts` (contact upserts and listing), :mod:`.suppressions` (the suppression list),
:mod:`.outbox` (every query of dispatch: claims, send-time loads, leases, daily counts, the
dry-run preview and the operator's queue lookups).
"""
