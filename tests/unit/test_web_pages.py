"""The console's small pure parts: where sign-in may send you, the page helpers, the headers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from outreach.funnel import STEP_KEYS, step_counts
from outreach.web.pages import build_pages, local_time, query, when
from outreach.web.routes.signin import safe_next
from outreach.web.security import CONSOLE_POLICY, LETTER_POLICY


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/review?campaign=x", "/review?campaign=x"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example.net/", "/"),
        ("//evil.example.net/", "/"),
        ("/\\evil.example.net", "/"),
        ("review", "/"),
    ],
)
def test_sign_in_only_sends_you_to_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_page_helpers() -> None:
    assert when(datetime(2010, 4, 23, 7, 0, tzinfo=UTC)) == "2010-04-23 07:00 UTC"
    assert when(None) == "—" and when("2010-04-23T07:00:00+00:00") == "2010-04-23 07:00 UTC"
    assert local_time("2010-04-23T09:00:00+02:00") == "2010-04-23 09:00 (+02:00)"
    assert query(campaign="ccm", step=None, unmatched=False) == "?campaign=ccm"
    assert query() == ""


def test_templates_autoescape() -> None:
    pages = build_pages()
    assert pages.autoescape is True or pages.autoescape("x.html")
    assert pages.from_string("{{ v }}").render(v="<script>") == "&lt;script&gt;"


def test_policies_allow_no_script() -> None:
    assert "script-src" not in CONSOLE_POLICY and "unsafe-inline" not in CONSOLE_POLICY
    assert "frame-ancestors 'none'" in CONSOLE_POLICY
    assert "script-src" not in LETTER_POLICY and "sandbox" in LETTER_POLICY
    assert "default-src 'none'" in LETTER_POLICY and "img-src data:" in LETTER_POLICY


def test_step_funnel_columns() -> None:
    counts = step_counts(
        {"sent": 3, "pending_review": 1, "cancelled": 2}, {"human": 1, "unsubscribe": 1}
    )
    assert list(counts) == list(STEP_KEYS)
    assert counts["planned"] == 6 and counts["sent"] == 3 and counts["replied"] == 1
    assert counts["unsubscribed"] == 1 and counts["bounced"] == 0
