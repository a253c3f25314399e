"""What approval means, as pure functions: rule 1's content check (the one review, planning
and dispatch share), the auto-approval note, and the checks a review action makes on its
inputs before touching anything.

Pure: no database, no clock.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable
from typing import Protocol

from outreach.errors import ReviewError
from outreach.identity import Channel, ReviewChannel
from outreach.states import MessageStatus

#: The event note for messages of a campaign with ``require_approval = false``.
AUTO_APPROVE_NOTE = "auto-approved by the campaign setting require_approval = false"

#: The states in which a reviewer may edit a message.
EDITABLE = frozenset({MessageStatus.PENDING_REVIEW, MessageStatus.APPROVED})


class StoredBytes(Protocol):
    """A message's body, as far as :func:`is_still_approved` reads it."""

    raw: bytes | None


class ApprovedContent(Protocol):
    """What :func:`is_still_approved` reads from a message row (and its body)."""

    status: str
    content_hash: str | None
    approved_hash: str | None

    @property
    def body(self) -> StoredBytes: ...


def auto_approve_note() -> str:
    """The note the planner writes on messages of a ``require_approval = false`` campaign."""
    return AUTO_APPROVE_NOTE


def content_ok(raw: bytes | None, content_hash: str | None, approved_hash: str | None) -> bool:
    """Rule 1: the stored bytes hash to the stored hash, which is the approved hash. Pure."""
    if raw is None or not content_hash or not approved_hash:
        return False
    return content_hash == approved_hash and hashlib.sha256(raw).hexdigest() == approved_hash


def is_still_approved(message: ApprovedContent) -> bool:
    """True when ``message`` is ``approved`` and its stored bytes are exactly the approved ones
    (:func:`content_ok`). The dispatcher applies the same check before sending; False means
    "do not send these bytes"."""
    return message.status == MessageStatus.APPROVED.value and content_ok(
        message.body.raw, message.content_hash, message.approved_hash
    )


def bytes_match_hash(raw: bytes | None, content_hash: str | None) -> bool:
    """True when ``raw`` exists and hashes (SHA-256, hex) to ``content_hash``."""
    return (
        raw is not None and bool(content_hash) and hashlib.sha256(raw).hexdigest() == content_hash
    )


def check_reviewer(reviewer: str) -> str:
    """The reviewer's name, stripped; :class:`ReviewError` when it is empty, longer than 200
    characters or holds control characters."""
    name = (reviewer or "").strip()
    if not name:
        raise ReviewError("reviewer: a reviewer name is required (--reviewer or OUTREACH_REVIEWER)")
    if len(name) > 200:
        raise ReviewError("reviewer: longer than 200 characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise ReviewError("reviewer: contains control characters")
    return name


def channel_counts(review_channel: str, channel: Channel) -> bool:
    """True when a campaign with ``review_channel`` counts an approval made through
    ``channel`` (a ``web`` campaign counts only signed-in web approvals)."""
    return review_channel != ReviewChannel.WEB.value or channel == Channel.WEB


def check_editable(message_id: int, status: str) -> None:
    """:class:`ReviewError` unless a message in ``status`` may be edited."""
    if MessageStatus(status) not in EDITABLE:
        raise ReviewError(
            f"message {message_id} is {status}; only pending_review or approved messages "
            "can be edited"
        )


def unique_ids(ids: Iterable[int]) -> list[int]:
    """``ids`` as ints, first occurrence kept, in the order given."""
    seen: dict[int, None] = {}
    for mid in ids:
        seen.setdefault(int(mid), None)
    return list(seen)


def unified_diff(name: str, old: str | None, new: str | None) -> str:
    """A unified diff of one part of a letter, every line ending in a newline."""
    a = (old or "").splitlines(keepends=True)
    b = (new or "").splitlines(keepends=True)
    lines = difflib.unified_diff(a, b, fromfile=f"{name} (before)", tofile=f"{name} (after)")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def edit_diff(old: tuple[str, str, str | None], new: tuple[str, str, str | None]) -> str:
    """The diff an ``edited`` event records: subject, text, then HTML, each ``(subject, text,
    html)``."""
    return (
        unified_diff("subject", old[0] + "\n", new[0] + "\n")
        + unified_diff("text", old[1], new[1])
        + unified_diff("html", old[2], new[2])
    )
