"""Reading the words of a bounce (outreach.replies.bounce_text): wording families, the SMTP
stage, the remote's own status, and the keyed search that keeps it cheap."""

from __future__ import annotations

import random
import time

import pytest

from outreach.replies.bounce_text import (
    ADDRESS_UNKNOWN,
    ADDRESS_WEAK,
    DISABLED,
    DOMAIN_UNKNOWN,
    MAILBOX_FULL,
    POLICY,
    SENDER,
    STAGE,
    TEMPORARY,
    Keyed,
    Wording,
    find_stage,
    read_wording,
    reply_status,
)
from outreach.replies.evidence import SmtpStage


@pytest.mark.parametrize(
    ("text", "wording"),
    [
        ("550 5.1.1 <x@example.net>: Recipient address rejected: User unknown", Wording.ADDRESS),
        ("Sorry, no mailbox here by that name. (#5.1.1)", Wording.ADDRESS),
        ("User Jean Moreau (j@example.org) not listed in Domino Directory", Wording.ADDRESS),
        ("dd This user doesn't have a yahoo.example.com account", Wording.ADDRESS),
        ("理由: 宛先のメールアドレスは存在しません。", Wording.ADDRESS),
        (
            "Host or domain name not found. Name service error for name=x type=A: Host not found",
            Wording.DOMAIN,
        ),
        ("Host not found, try again", Wording.DNS_TEMPORARY),
        ("all relevant MX records point to non-existent hosts", Wording.DOMAIN),
        ("552 5.2.2 Mailbox full", Wording.FULL),
        ("The users mailfolder is over the allowed quota (size).", Wording.FULL),
        ("550 Sender verify failed", Wording.SENDER),
        (
            "554 5.7.1 Service unavailable; Client host blocked using zen.spamhaus.example",
            Wording.POLICY,
        ),
        ("550 5.1.1 User unknown - message content rejected", Wording.ADDRESS_AND_POLICY),
        ("The email account that you tried to reach is disabled.", Wording.DISABLED),
        ("550 Requested action not taken: mailbox unavailable", Wording.ADDRESS_WEAK),
        (
            "Delivery will continue to be attempted; the message has been deferred",
            Wording.TEMPORARY,
        ),
        ("250 ok", Wording.NONE),
        ("", Wording.NONE),
    ],
)
def test_read_wording(text: str, wording: Wording) -> None:
    assert read_wording(text).wording == wording


def test_the_deciding_line_is_quoted_in_its_own_case() -> None:
    reading = read_wording("Hello.\n\n<x@example.net>: 550 5.1.1 User Unknown\n\nBye.")
    assert reading.line == "<x@example.net>: 550 5.1.1 User Unknown"


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        (
            "<x@example.net>: host mx said: 550 5.1.1 User unknown (in\n    reply to RCPT TO command)",
            SmtpStage.RCPT,
        ),
        (
            "<x@example.net>: host mx said: 550 user unknown (in reply to end\n    of DATA command)",
            SmtpStage.DATA,
        ),
        (
            "SMTP error from remote mail server after RCPT TO:<x@example.net>:\n 550 no such user",
            SmtpStage.RCPT,
        ),
        ("SMTP error from remote mail server after end of data:\n 550 rejected", SmtpStage.DATA),
        (
            ">>> RCPT To:<x@example.net>\n<<< 550 5.1.1 <x@example.net>... User unknown",
            SmtpStage.RCPT,
        ),
        (">>> DATA\n<<< 354 go ahead\n>>> .\n<<< 554 5.7.1 rejected", SmtpStage.DATA),
        ("Sent <<< RCPT TO:<x@example.jp>\nReceived >>> 550 5.1.1 user unknown", SmtpStage.RCPT),
        (" -->  RCPT To:<x@example.org>\n 09:01:01: <--  550 5.1.1 User unknown", SmtpStage.RCPT),
        ("SMTP error from remote server for MAIL FROM command, host: mx", SmtpStage.MAIL),
        ("550 5.1.1 RESOLVER.ADR.RecipNotFound; not found", None),
    ],
)
def test_find_stage(text: str, stage: SmtpStage | None) -> None:
    assert find_stage(text) == stage


def test_the_stage_near_the_failed_recipient_wins() -> None:
    text = (
        "<a@example.net>: 550 spam (in reply to end of DATA command)\n\n"
        "<b@example.net>: 550 5.1.1 user unknown (in reply to RCPT TO command)\n"
    )
    assert find_stage(text, near="b@example.net") == SmtpStage.RCPT
    assert find_stage(text, near="a@example.net") == SmtpStage.DATA


def test_reply_status_prefers_the_remotes_own_innermost_code() -> None:
    assert reply_status("5.1.0 - Unknown address error 550-'5.2.2 mailbox full'") == "5.2.2"
    assert reply_status("550-5.1.1 The email account ... 550 5.1.1 unnecessary spaces.") == "5.1.1"
    assert reply_status("Sorry, no mailbox here by that name. (#5.1.1)") == "5.1.1"
    assert reply_status("X-Postfix; Host or domain name not found") is None
    assert reply_status("version 10.5.1.2 of the server") is None


FAMILIES = {
    "address": ADDRESS_UNKNOWN,
    "weak": ADDRESS_WEAK,
    "disabled": DISABLED,
    "domain": DOMAIN_UNKNOWN,
    "full": MAILBOX_FULL,
    "sender": SENDER,
    "policy": POLICY,
    "temporary": TEMPORARY,
    "stage": STAGE,
}
PHRASES = [
    "user unknown",
    "unknown recipient",
    "no such person at this address",
    "mailbox does not exist",
    "the email account that you tried to reach does not exist",
    "address not found",
    "recipient unknown",
    "this user doesn't have a example.com account",
    "recipientnotfound",
    "resolver.adr.recipnotfound",
    "no mailbox here by that name",
    "not listed in domino directory",
    "unknown or illegal alias",
    "not a valid recipient",
    "invalid mailbox",
    "recipient invalid",
    "isn't in my list of allowed rcpthosts",
    "badrcptto",
    "no account by that name",
    "does not exist at the organization",
    "gone wasn't found at example.com",
    "utilisateur inconnu",
    "unbekannter empfänger",
    "usuario desconocido",
    "utente sconosciuto",
    "no valid recipients",
    "mailbox unavailable",
    "recipient address rejected",
    "invalid address",
    "not our customer",
    "account has been disabled",
    "user suspended",
    "no longer accepts mail",
    "host unknown",
    "no mx record found for domain",
    "nxdomain",
    "couldn't find any host named x",
    "null mx",
    "no route found to domain",
    "unrouteable address",
    "mailbox full",
    "over quota",
    "quota exceeded",
    "insufficient storage",
    "mailbox size limit",
    "boîte pleine",
    "sender address rejected",
    "sender verify failed",
    "domain of sender address",
    "spam",
    "blocked using",
    "blacklisted",
    "policy",
    "not authorized",
    "relay access denied",
    "virus",
    "as a relay",
    "you do not have permission",
    "delayed",
    "will retry",
    "deferred",
    "try again later",
    "in reply to rcpt to command",
    "after end of data",
    "after mail from",
    ">>> rcpt to:<x>\n<<< 550 no",
    "while connecting",
]


def test_keyed_search_finds_what_the_whole_pattern_finds() -> None:
    """Every phrase, alone or inside filler text on any line, is found by the keyed search
    exactly when the plain pattern finds it (the keys cover every branch)."""
    rng = random.Random(12)
    filler = ["This is the mail system.", "Original message follows.", "x" * 70, "", "Regards"]
    for phrase in PHRASES:
        for _ in range(5):
            lines = [*rng.sample(filler, 3), f"  {phrase}  ", *rng.sample(filler, 2)]
            rng.shuffle(lines)
            low = "\n".join(lines).lower()
            for name, family in FAMILIES.items():
                plain = family.pattern.search(low)
                keyed = family.search(low)
                assert (plain is None) == (keyed is None), (name, phrase)


def test_keyed_search_is_linear_on_long_text() -> None:
    family = Keyed(("unknown",), ADDRESS_UNKNOWN.pattern)
    text = ("unknown " * 5000 + "user unknown").lower()
    started = time.perf_counter()
    assert family.search(text) is not None
    long_text = ("a" * 200 + "\n") * 500
    for family in FAMILIES.values():
        assert family.search(long_text) is None
    assert time.perf_counter() - started < 2.0
