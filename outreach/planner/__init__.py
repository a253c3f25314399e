"""Planning: queue what is due, rendered for its day and composed to its final bytes.

``plan`` is one pass per campaign with batched reads and writes (a bounded number of SQL
statements however many contacts there are). Idempotent: the unique (campaign, step,
contact) key stops double planning, also when two planners race (inserts skip conflicts).

A message is rendered for its scheduled send date — the countdown it quotes is true on the day
it leaves — and composed then (DESIGN.md rule 1): dispatch sends the stored bytes unchanged.

Modules: :mod:`.selection` (pure: the audience rule, due dates, what a page of contacts is
due), :mod:`.letters` (render and compose one letter, with its attachments: PDF letter,
files, calendar event), :mod:`.assets` (files changed on disk: their letters re-planned),
:mod:`.campaign_pass` (the planning pass), :mod:`.pool` (the fork render pool), :mod:`.replan`
(letters already queued, planned again: after a reload, stale, render errors),
:mod:`.preview`, :mod:`.report`. Their SQL is in
:mod:`outreach.repository.planning`.
"""

from __future__ import annotations

from outreach.planner.campaign_pass import plan
from outreach.planner.letters import (
    Letter,
    SendDay,
    compose_letter,
    make_letter,
    message_id_domain,
    recompose_message,
    render_letter,
    renderer_for,
    send_day_parts,
)
from outreach.planner.pool import PARALLEL_MIN_CONTACTS
from outreach.planner.preview import Preview, preview
from outreach.planner.replan import replan, stale_reason_for
from outreach.planner.report import PlanReport, RenderError
from outreach.planner.selection import in_audience, is_missed

__all__ = [
    "PARALLEL_MIN_CONTACTS",
    "Letter",
    "PlanReport",
    "Preview",
    "RenderError",
    "SendDay",
    "compose_letter",
    "in_audience",
    "is_missed",
    "make_letter",
    "message_id_domain",
    "plan",
    "preview",
    "recompose_message",
    "render_letter",
    "renderer_for",
    "replan",
    "send_day_parts",
    "stale_reason_for",
]
