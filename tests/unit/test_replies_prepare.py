"""Preparing one raw message for storage (outreach.replies.prepare), without a database."""

from __future__ import annotations

from datetime import UTC, datetime

from outreach.replies.prepare import clean_text, prepare_reply, received_at, unique_in_batch
from outreach.states import Classification

NOW = datetime(2010, 4, 27, 12, 0, tzinfo=UTC)


def raw(
    message_id: str, body: str = "Thanks", date: str = "Tue, 27 Apr 2010 11:03:04 +0200"
) -> bytes:
    return (
        f"From: A <a@example.org>\r\nTo: b@example.org\r\nSubject: Re: hi\r\n"
        f"Date: {date}\r\nMessage-ID: {message_id}\r\n\r\n{body}\r\n"
    ).encode()


def prepared(data: bytes):  # type: ignore[no-untyped-def]
    return prepare_reply("src", data, max_bytes=10_000, unsubscribe_addresses=frozenset())


def test_prepare_classifies_and_keys() -> None:
    p = prepared(raw("<m1@example.org>"))
    assert p.result.kind == Classification.HUMAN
    assert p.message_id == "<m1@example.org>"
    assert p.lookup.keys.sender == "a@example.org" and not p.lookup.use_recipients


def test_oversize_is_classified_and_never_raises() -> None:
    p = prepare_reply("src", b"x" * 200, max_bytes=100, unsubscribe_addresses=frozenset())
    assert p.result.kind == Classification.OVERSIZE


def test_clean_text() -> None:
    assert clean_text(None, 5) is None
    assert clean_text("a\x00b", 10) == "a b"
    assert clean_text("\udcffab", 10) == "?ab"
    assert clean_text("abcdef", 3) == "abc"


def test_received_at_believes_only_plausible_dates() -> None:
    assert received_at(prepared(raw("<m@x>")).parsed, NOW) == datetime(
        2010, 4, 27, 9, 3, 4, tzinfo=UTC
    )
    future = prepared(raw("<m@x>", date="Thu, 31 Dec 2099 23:59:59 +0000")).parsed
    ancient = prepared(raw("<m@x>", date="Thu, 1 Jan 1970 00:00:00 +0000")).parsed
    assert received_at(future, NOW) == NOW and received_at(ancient, NOW) == NOW


def test_unique_in_batch_drops_repeated_bytes_and_message_ids() -> None:
    a = prepared(raw("<a@example.org>"))
    a_again = prepared(raw("<a@example.org>"))
    a_other_bytes = prepared(raw("<a@example.org>", body="Different"))
    b = prepared(raw("<b@example.org>"))
    fresh, dropped = unique_in_batch([a, a_again, b, a_other_bytes])
    assert fresh == [a, b] and dropped == 2
