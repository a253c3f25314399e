"""Review: reviewers read exactly what will be sent, and approve, reject or edit it.

Modules: :mod:`.rules` (pure: rule 1's content check, the auto-approval note, input checks),
:mod:`.views` (what reviewers read: the pending list, one message as it will leave),
:mod:`.approvals` (the approval rule: which approvals count, why one is refused),
:mod:`.actions` (approve, reject, edit: all-or-nothing batches under row locks),
:mod:`.editfile` (pure: the file ``review edit`` opens), :mod:`.queue` (the queue listing),
:mod:`.files` (a letter's attachments: saved to a folder, its PDF previewed as PNG),
:mod:`.testsend` (the stored bytes sent to a reviewer's own address, rate-limited).
Every query is in :mod:`outreach.repository.review`.

Approvals count for one content hash only: an :class:`~outreach.models.Approval` row records
the hash the reviewer saw, one per reviewer; an edit, a re-render and a letter sent back to
review as stale delete the message's approval rows (the event log keeps who approved what), so
new content — even content that restores earlier bytes — needs fresh approvals. A stale letter
that could not be rendered again yet cannot be approved.

The names below are re-exported so ``from outreach.review import content_ok`` (dispatch),
``AUTO_APPROVE_NOTE`` (planning) and the CLI's ``review.approve`` keep working.
"""

from __future__ import annotations

from outreach.review.actions import (
    ApproveResult,
    EditResult,
    Recompose,
    RejectResult,
    approve,
    approve_all,
    edit,
    reject,
)
from outreach.review.editfile import EditableContent
from outreach.review.queue import QueueItem, list_queue
from outreach.review.rules import (
    AUTO_APPROVE_NOTE,
    auto_approve_note,
    content_ok,
    is_still_approved,
)
from outreach.review.views import (
    SHOWN_HEADERS,
    HistoryEntry,
    ReviewDetail,
    ReviewItem,
    count_pending_by_campaign,
    editable,
    list_pending,
    pending_ids,
    show,
)

__all__ = [
    "AUTO_APPROVE_NOTE",
    "SHOWN_HEADERS",
    "ApproveResult",
    "EditResult",
    "EditableContent",
    "HistoryEntry",
    "QueueItem",
    "Recompose",
    "RejectResult",
    "ReviewDetail",
    "ReviewItem",
    "approve",
    "approve_all",
    "auto_approve_note",
    "content_ok",
    "count_pending_by_campaign",
    "edit",
    "editable",
    "is_still_approved",
    "list_pending",
    "list_queue",
    "pending_ids",
    "reject",
    "show",
]
