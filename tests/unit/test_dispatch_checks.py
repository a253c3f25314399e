"""The send-time checks (pure), made in the claim: campaign state, suppression, enrollment,
envelope, approved bytes and the send day, in that order."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time
from typing import NamedTuple

from outreach.dispatch.checks import NOT_APPROVED_BYTES, Verdict, check_candidates, ready_for
from outreach.dispatch.policy import CampaignInfo
from outreach.dispatch.values import Claim
from outreach.spec import SendingWindow

T0 = datetime(2010, 4, 20, 12, 0, tzinfo=UTC)
TODAY = date(2010, 4, 20)
RAW = b"Subject: x\r\n\r\nbody\r\n"
HASH = hashlib.sha256(RAW).hexdigest()


class Row(NamedTuple):
    id: int
    campaign_id: int = 1
    contact_id: int = 0
    raw: bytes | None = RAW
    content_hash: str | None = HASH
    approved_hash: str | None = HASH
    envelope_from: str | None = "outreach@example.org"
    envelope_to: str | None = "Minister@Example.org"
    rendered_for: date | None = TODAY
    contact_timezone: str | None = None


def row(mid: int, **kw) -> Row:
    return Row(mid, contact_id=kw.pop("contact_id", mid), **kw)


def campaign(cid: int = 1, state: str = "active") -> CampaignInfo:
    window = SendingWindow(start=time(0), end=time(23, 59))
    return CampaignInfo(cid, f"c{cid}", "Europe/Geneva", window, state)


def verdicts(rows, *, campaigns=None, suppressed=(), enrollments=None):
    checks = check_candidates(
        rows,
        campaigns=campaigns if campaigns is not None else {1: campaign()},
        suppressed=set(suppressed),
        enrollments=enrollments or {},
        now=T0,
    )
    return [(c.row.id, c.verdict, c.reason) for c in checks], checks


def test_a_good_row_is_sent_with_its_stored_bytes() -> None:
    _, (check,) = verdicts([row(1)])
    assert check.verdict == Verdict.SEND
    claim = Claim(1, "tok", 1, 1, attempt=1, first_attempt_at=T0)
    ready = ready_for(check.row, claim)
    assert ready.raw == RAW and ready.claim == claim
    assert ready.envelope_to == "Minister@Example.org"


def test_each_check_in_order() -> None:
    rows = [
        row(1, campaign_id=2),
        row(2),
        row(3),
        row(4, envelope_to=None),
        row(5, approved_hash="0" * 64),
        row(6, rendered_for=date(2010, 4, 19)),
    ]
    out, checks = verdicts(
        rows,
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
    assert checks[5].today == TODAY


def test_suppression_is_case_insensitive_and_checked_first() -> None:
    out, _ = verdicts(
        [row(1)],
        suppressed={"minister@example.org"},
        enrollments={(1, 1): "replied"},
    )
    assert out == [(1, Verdict.CANCEL, "address suppressed")]


def test_a_missing_campaign_releases() -> None:
    out, _ = verdicts([row(1, campaign_id=9)])
    assert out == [(1, Verdict.RELEASE, "campaign paused")]
