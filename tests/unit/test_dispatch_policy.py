"""Dispatch policy (pure): which due messages to claim, daily limits, claim sizes,
what a retry decision means for the attempt's row, the rate limiter and the stored send
window."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import NamedTuple

import pytest

from outreach.dispatch.policy import (
    CampaignInfo,
    TokenBucket,
    attempt_outcome,
    claim_sizes,
    daily_remaining,
    day_bounds,
    lost_during_data,
    released_outcome,
    select_claimable,
    window_from_json,
)
from outreach.dispatch.values import Claim, Ready
from outreach.retry import RetryDecision
from outreach.spec import END_OF_DAY, SendingWindow

# Tuesday 2010-04-20, 12:00 UTC = 14:00 in Geneva
T0 = datetime(2010, 4, 20, 12, 0, tzinfo=UTC)
GENEVA = "Europe/Geneva"


class Row(NamedTuple):
    id: int
    status: str
    campaign_id: int
    contact_timezone: str | None


def info(cid: int = 1, *, limit: int | None = None, start: time = time(9)) -> CampaignInfo:
    window = SendingWindow(start=start, end=time(17), daily_limit=limit)
    return CampaignInfo(cid, f"c{cid}", GENEVA, window, "active")


def test_rows_inside_the_window_are_chosen_in_order() -> None:
    rows = [Row(1, "approved", 1, None), Row(2, "retrying", 1, "Europe/Paris")]
    sel = select_claimable(rows, campaigns={1: info()}, remaining={1: None}, now=T0)
    assert sel.chosen == ((1, "approved"), (2, "retrying"))
    assert sel.bumps == () and sel.scanned == 2 and sel.skipped == {}


def test_a_row_outside_its_recipients_window_waits_for_the_next_opening() -> None:
    # 12:00 UTC is 21:00 in Tokyo: the window opens at 09:00 Tokyo the next morning
    rows = [Row(7, "approved", 1, "Asia/Tokyo")]
    sel = select_claimable(rows, campaigns={1: info()}, remaining={1: None}, now=T0)
    assert sel.chosen == ()
    assert sel.bumps == ((7, "approved", datetime(2010, 4, 21, 0, 0, tzinfo=UTC)),)
    assert sel.skipped == {"outside send window": 1}


def test_the_daily_allowance_is_spent_then_rows_wait_for_tomorrow() -> None:
    rows = [Row(i, "approved", 1, None) for i in (1, 2, 3)]
    sel = select_claimable(
        rows,
        campaigns={1: info(limit=5)},
        remaining={1: 1},
        now=T0,
        skipped={"daily limit reached": 0},
    )
    assert sel.chosen == ((1, "approved"),)
    tomorrow_nine = datetime(2010, 4, 21, 7, 0, tzinfo=UTC)  # 09:00 CEST
    assert sel.bumps == ((2, "approved", tomorrow_nine), (3, "approved", tomorrow_nine))
    assert sel.skipped == {"daily limit reached": 2}


def test_day_bounds_and_remaining() -> None:
    lo, hi = day_bounds(T0, GENEVA)
    assert lo == datetime(2010, 4, 19, 22, 0, tzinfo=UTC) and hi - lo == timedelta(days=1)
    assert daily_remaining(None, 10) is None
    assert daily_remaining(5, 3) == 2 and daily_remaining(5, 9) == 0


def test_claim_sizes() -> None:
    assert claim_sizes(batch=200, concurrency=4, rate_per_minute=None, lease_seconds=300) == (
        claim_sizes(batch=200, concurrency=4, rate_per_minute=0, lease_seconds=300)
    )
    plain = claim_sizes(batch=100, concurrency=4, rate_per_minute=None, lease_seconds=300)
    assert (plain.batch, plain.low) == (100, 50)
    small = claim_sizes(batch=6, concurrency=4, rate_per_minute=None, lease_seconds=300)
    assert (small.batch, small.low) == (6, 4)
    # ten seconds' worth at the rate, never more than half a lease's worth
    rated = claim_sizes(batch=100, concurrency=4, rate_per_minute=600, lease_seconds=300)
    assert (rated.batch, rated.low) == (100, 50)
    slow = claim_sizes(batch=100, concurrency=4, rate_per_minute=12, lease_seconds=300)
    assert (slow.batch, slow.low) == (2, 1)
    short = claim_sizes(batch=100, concurrency=4, rate_per_minute=120, lease_seconds=10)
    assert (short.batch, short.low) == (10, 5)


CLAIM = Claim(9, "tok", 1, 2, attempt=1, first_attempt_at=T0)
READY = Ready(CLAIM, b"raw", "from@example.org", "to@example.org")


def test_attempt_outcome_maps_decisions_to_kinds_and_phases() -> None:
    sent = attempt_outcome(
        READY, RetryDecision("sent", None, "250 ok"), code=250, text="ok", stage="data", at=T0
    )
    assert (sent.kind, sent.phase, sent.code, sent.response) == ("sent", "done", 250, "ok")
    later = T0 + timedelta(minutes=1)
    retry = attempt_outcome(
        READY,
        RetryDecision("retry", later, "network error"),
        code=None,
        text="  reset\r\n by peer ",
        stage="rcpt",
        at=T0,
    )
    assert (retry.kind, retry.phase, retry.response) == ("retrying", "connecting", "reset by peer")
    assert retry.next_attempt_at == later and retry.envelope_to == "to@example.org"
    backoff = attempt_outcome(
        READY, RetryDecision("server_backoff", later, "421"), code=421, text="", stage="mail", at=T0
    )
    assert backoff.kind == "retrying" and backoff.response is None
    bounce = RetryDecision("failed", None, "550 5.1.1 no such user", bounce=True)
    failed = attempt_outcome(READY, bounce, code=None, text="x", stage="data", at=T0)
    assert (failed.kind, failed.phase, failed.bounce) == ("failed", "data_sent", True)


def test_released_and_lost_outcomes() -> None:
    released = released_outcome(CLAIM, at=T0, reason="dispatcher stopped", due_at=T0)
    assert (released.kind, released.phase, released.next_attempt_at) == ("released", "claimed", T0)
    lost = lost_during_data(CLAIM, at=T0, error="timed out")
    assert (lost.kind, lost.phase, lost.response) == ("unknown", "data_sent", "timed out")
    assert "may have been delivered" in (lost.reason or "")


def test_token_bucket_paces_to_the_rate() -> None:
    bucket = TokenBucket(120)  # 2 a second, bursts of 2
    waits = [bucket.reserve(100.0) for _ in range(6)]
    assert waits[:2] == [0.0, 0.0]
    assert waits[2:] == pytest.approx([0.5, 1.0, 1.5, 2.0])
    # time passes: the debt is paid off, then tokens accrue up to the burst size only
    assert bucket.reserve(103.0) == pytest.approx(0.0)
    assert bucket.reserve(1000.0) == 0.0 and bucket.reserve(1000.0) == 0.0
    assert bucket.reserve(1000.0) == pytest.approx(0.5)


def test_token_bucket_slow_rate() -> None:
    bucket = TokenBucket(6)  # one every 10 s
    assert bucket.reserve(0.0) == 0.0
    assert bucket.reserve(1.0) == pytest.approx(9.0)
    with pytest.raises(ValueError):
        TokenBucket(0)


def test_window_from_json() -> None:
    w = window_from_json({"days": [5, 6], "start": "08:30", "end": "24:00", "daily_limit": 5})
    assert w.days == frozenset({5, 6}) and w.start == time(8, 30) and w.end == END_OF_DAY
    assert w.daily_limit == 5
    assert window_from_json({"days": ["mon"], "end": "23:59:59"}).end == time(23, 59, 59)
    default = window_from_json({})
    assert default.days == frozenset(range(5)) and default.start == time(9)
