"""ImapMailbox against a real Dovecot on loopback (tests/dovecot.py)."""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Iterator

import pytest

from outreach.errors import ImapError
from outreach.replies.imap import ImapConfig, ImapMailbox
from outreach.replies.parse import parse_inbound
from tests.dovecot import PASSWORD, DovecotServer, dovecot_available, free_port

pytestmark = [
    pytest.mark.dovecot,
    pytest.mark.skipif(
        not dovecot_available(),
        reason="dovecot is not installed (Debian: apt-get install dovecot-imapd)",
    ),
]


def message(n: int) -> bytes:
    return (
        f"From: Contact {n} <contact{n}@example.net>\r\n"
        f"To: outreach@example.org\r\n"
        f"Subject: Re: The Convention, reply {n}\r\n"
        f"Message-ID: <reply{n}@example.net>\r\n"
        f"In-Reply-To: <appeal.c{n}@outreach.example.org>\r\n"
        f"\r\nThank you, reply number {n}.\r\n"
    ).encode()


@pytest.fixture(scope="module")
def server() -> Iterator[DovecotServer]:
    with DovecotServer(tls=True) as srv:
        yield srv


@pytest.fixture
def mailbox_name(request: pytest.FixtureRequest) -> str:
    return "T" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_")[:40]


def test_fetch_since_returns_appended_messages_and_marks_nothing_seen(
    server: DovecotServer, mailbox_name: str
) -> None:
    uids = [server.append(message(n), mailbox=mailbox_name) for n in (1, 2, 3)]
    assert uids == sorted(uids) and len(set(uids)) == 3
    config = dataclasses.replace(server.config, mailbox=mailbox_name)
    with ImapMailbox(config) as box:
        uidvalidity, uidnext = box.select()
        assert (uidvalidity, uidnext) == server.status(mailbox_name)
        assert uidnext == uids[-1] + 1
        batches = list(box.fetch_since(0))
        got = [item for batch in batches for item in batch]
        assert [uid for uid, _ in got] == uids
        assert [parse_inbound(raw).message_id for _, raw in got] == [
            "<reply1@example.net>",
            "<reply2@example.net>",
            "<reply3@example.net>",
        ]
        assert got[0][1] == message(1)
        # UID N:* matches the highest UID even when N is above it: nothing new must come back
        assert list(box.fetch_since(uids[-1])) == []
        assert list(box.fetch_since(uids[-1] + 100)) == []
        # a restart that processed the first one gets only the later two
        again = [uid for batch in box.fetch_since(uids[0]) for uid, _ in batch]
        assert again == uids[1:]
    flags = server.flags(uids, mailbox=mailbox_name)
    assert all(b"\\Seen" not in f for f in flags.values()), flags
    assert all(b"\\Deleted" not in f for f in flags.values()), flags


def test_fetch_in_batches(server: DovecotServer, mailbox_name: str) -> None:
    uids = [server.append(message(n), mailbox=mailbox_name) for n in range(5)]
    config = dataclasses.replace(server.config, mailbox=mailbox_name)
    with ImapMailbox(config) as box:
        batches = list(box.fetch_since(0, batch=2))
    assert [[uid for uid, _ in b] for b in batches] == [uids[0:2], uids[2:4], uids[4:5]]


def test_implicit_tls_with_test_ca(server: DovecotServer, mailbox_name: str) -> None:
    uid = server.append(message(7), mailbox=mailbox_name)
    config = dataclasses.replace(server.tls_config, mailbox=mailbox_name)
    with ImapMailbox(config) as box:
        box.select()
        assert [u for batch in box.fetch_since(0) for u, _ in batch] == [uid]


def test_starttls_with_test_ca(server: DovecotServer, mailbox_name: str) -> None:
    uid = server.append(message(8), mailbox=mailbox_name)
    config = dataclasses.replace(server.starttls_config, mailbox=mailbox_name)
    with ImapMailbox(config) as box:
        assert [u for batch in box.fetch_since(0) for u, _ in batch] == [uid]


def test_tls_refuses_an_untrusted_certificate(server: DovecotServer) -> None:
    config = dataclasses.replace(server.tls_config, ssl_context=ssl.create_default_context())
    with pytest.raises(ImapError, match="certificate") as info, ImapMailbox(config):
        pass
    assert "\n" not in str(info.value)


def test_missing_mailbox_is_an_imap_error(server: DovecotServer) -> None:
    config = dataclasses.replace(server.config, mailbox="NoSuchFolder")
    with ImapMailbox(config) as box, pytest.raises(ImapError, match="NoSuchFolder"):
        box.select()


def test_connection_refused_is_an_imap_error() -> None:
    config = ImapConfig("127.0.0.1", free_port(), "u@example.org", "pw", tls="none", timeout=5)
    with pytest.raises(ImapError, match="could not connect to"), ImapMailbox(config):
        pass


# last: Dovecot delays logins from an address after a failed one
def test_wrong_password_is_an_imap_error_without_the_password(server: DovecotServer) -> None:
    wrong = "Wr0ng-Passw0rd-Sentinel"
    config = dataclasses.replace(server.config, password=wrong)
    with pytest.raises(ImapError) as info, ImapMailbox(config):
        pass
    text = str(info.value)
    assert "log in" in text and server.username in text
    assert wrong not in text and PASSWORD not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert wrong not in repr(config)
