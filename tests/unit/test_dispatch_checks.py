"""The send-time checks (pure): lease, campaign state, suppression, enrollment, envelope,
approved bytes and the send day, in that order."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time
from typing import NamedTuple

from outreach.dispatch.checks import NOT_APPROVED_BYTES, Verdict, check_chunk, still_held
from outreach.dispatch.policy import CampaignInfo
from outreach.dispatch.values import Claim
from outreach.spec import SendingWindow

T0 = datetime(2010, 4, 20, 12, 0, tzinfo=UTC)
TODAY = date(2010, 4, 20)
RAW = b"Subject: x\r\n\r\nbody\r\n"
HASH = hashlib.sha256(RAW).hexdigest()


class Row(NamedTuple):
    id: int
    status: str = "sending"
    lease_token: str | None = "tok"
    raw: bytes | None = RAW
    content_hash: str | None = HASH
    approved_hash: str | None = HASH
    envelope_from: str | None = "outreach@example.org"
    envelope_to: str | None = "Minister@Example.org"
    rendered_for: date | None = TODAY
    contact_timezone: str | None = None


def claim(mid: int, campaign_id: int = 1, contact_id: int | None = None) -> Claim:
    return Claim(mid, "tok", campaign_id, contact_id or mid, attempt=1, first_attempt_at=T0)


def campaign(cid: int = 1, state: str = "active") -> CampaignInfo:
    window = SendingWindow(start=time(0), end=time(23, 59))
    return CampaignInfo(cid, f"c{cid}", "Europe/Geneva", window, state)


def verdicts(rows, claims, *, campaigns=None, suppressed=(), enrollments=None):
    by_id = {c.message_id: c for c in claims}
    checks = check_chunk(
        still_held(rows, by_id),
        by_id,
        campaigns=campaigns if campaigns is not None else {1: campaign()},
        suppressed=set(suppressed),
        enrollments=enrollments or {},
        now=T0,
    )
    return [(c.claim.message_id, c.verdict, c.reason) for c in checks], checks


def test_rows_no_longer_held_are_dropped() -> None:
    rows = [Row(1), Row(2, lease_token="other"), Row(3, status="unknown")]
    out, _ = verdicts(rows, [claim(1), claim(2), claim(3)])
    assert out == [(1, Verdict.SEND, None)]


def test_a_good_row_is_sent_with_its_stored_bytes() -> None:
    _, (check,) = verdicts([Row(1)], [claim(1)])
    assert check.ready is not None and check.ready.raw == RAW
    assert check.ready.envelope_to == "Minister@Example.org"


def test_each_check_in_order() -> None:
    rows = [
        Row(1),
        Row(2),
        Row(3),
        Row(4, envelope_to=None),
        Row(5, approved_hash="0" * 64),
        Row(6, rendered_for=date(2010, 4, 19)),
    ]
    claims = [claim(1, campaign_id=2), claim(2), claim(3), claim(4), claim(5), claim(6)]
    out, checks = verdicts(
        rows,
        claims,
        campaigns={1: campaign(), 2: campaign(2, state="paused")},
        enrollments={(1, 3): "replied"},
    )
    assert out == [
        (1, Verdict.RELEASE, "campaign paused"),
        (2, Verdict.SEND, None),
        (3, Verdict.CANCEL, "enrollment replied"),
        (4, Verdict.CANCEL, "no envelope sender or recipient"),
        (5, Verdict.STALE, NOT_APPROVED_BYTES),
        (6, Verdict.RERENDER, None),
    ]
    assert checks[5].today == TODAY and checks[5].ready is not None


def test_suppression_is_case_insensitive_and_checked_first() -> None:
    out, _ = verdicts(
        [Row(1)],
        [claim(1)],
        suppressed={"minister@example.org"},
        enrollments={(1, 1): "replied"},
    )
    assert out == [(1, Verdict.CANCEL, "address suppressed")]


def test_a_missing_campaign_releases() -> None:
    out, _ = verdicts([Row(1)], [claim(1, campaign_id=9)])
    assert out == [(1, Verdict.RELEASE, "campaign paused")]
