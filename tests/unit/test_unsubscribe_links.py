"""Per-message one-click links: only over https, and found again in a letter's own bytes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from outreach.compose import ComposeInput, compose
from outreach.tokens import new_token
from outreach.unsubscribe_links import enabled, one_click_url, token_in_raw

BASE = ComposeInput(
    from_name="Coalition",
    from_email="outreach@example.org",
    to_name="Minister",
    to_email="minister@example.org",
    reply_to=None,
    subject="100 days to go",
    text="Dear Minister,\n",
    html=None,
    date=datetime(2010, 4, 23, 9, 0, tzinfo=UTC),
    message_id="<a1@example.org>",
    list_unsubscribe_mailto="outreach@example.org",
    unsubscribe_url=None,
)


def test_enabled_only_over_https() -> None:
    assert enabled("https://console.example.org")
    assert not enabled("http://localhost:8080")
    assert not enabled(None) and not enabled("")


def test_the_token_is_found_in_the_composed_bytes() -> None:
    token = new_token()
    url = one_click_url("https://console.example.org/", token)
    assert url == f"https://console.example.org/unsubscribe/{token}"
    raw = compose(replace(BASE, unsubscribe_url=url)).raw
    assert token_in_raw(raw) == token
    assert token_in_raw(compose(BASE).raw) is None  # the mailto alone
    assert token_in_raw(None) is None
    assert token_in_raw(b"Subject: no list header\r\n\r\nbody") is None
    other = compose(replace(BASE, unsubscribe_url="https://example.org/u?x=1")).raw
    assert token_in_raw(other) is None
