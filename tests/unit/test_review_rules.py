"""Review's pure rules: input checks, the diff an edit records and rule 1's content check."""

from __future__ import annotations

import pytest

from outreach.errors import ReviewError
from outreach.review.rules import (
    AUTO_APPROVE_NOTE,
    auto_approve_note,
    check_editable,
    check_reviewer,
    content_ok,
    edit_diff,
    unique_ids,
)


def test_reviewer_names_are_checked() -> None:
    assert check_reviewer("  alice ") == "alice"
    for bad, words in (("", "required"), ("x" * 201, "longer"), ("a\nb", "control")):
        with pytest.raises(ReviewError, match=words):
            check_reviewer(bad)


def test_only_pending_or_approved_messages_are_editable() -> None:
    check_editable(1, "pending_review")
    check_editable(1, "approved")
    with pytest.raises(ReviewError, match="message 7 is sent; only pending_review or approved"):
        check_editable(7, "sent")


def test_unique_ids_keep_first_occurrence_order() -> None:
    assert unique_ids([3, 1, 3, 2, 1]) == [3, 1, 2]


def test_edit_diff_names_each_changed_part() -> None:
    diff = edit_diff(("Old", "hello\n", None), ("New", "hello\n", "<p>hi</p>"))
    assert "--- subject (before)" in diff and "-Old\n" in diff and "+New\n" in diff
    assert "text (before)" not in diff
    assert "+++ html (after)" in diff and diff.endswith("+<p>hi</p>\n")
    assert edit_diff(("S", "t", None), ("S", "t", None)) == ""


def test_auto_approval_note_is_one_text() -> None:
    assert auto_approve_note() == AUTO_APPROVE_NOTE


def test_content_ok() -> None:
    import hashlib

    raw = b"Subject: x\r\n\r\nbody\r\n"
    h = hashlib.sha256(raw).hexdigest()
    assert content_ok(raw, h, h)
    assert not content_ok(raw + b"!", h, h)
    assert not content_ok(raw, h, None)
    assert not content_ok(raw, h, "0" * 64)
