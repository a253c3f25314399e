"""When dispatch will next try a message and why it waits (:func:`outreach.dispatch.policy.next_try`):
pure, over the same window, daily-limit and backoff rules the claim applies."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import NamedTuple

from outreach.dispatch.policy import CampaignInfo, Wait, describe_window, next_try
from outreach.spec import SendingWindow

TUE_10 = datetime(2010, 4, 20, 10, 0, tzinfo=UTC)
WED_09 = datetime(2010, 4, 21, 9, 0, tzinfo=UTC)
WINDOW = SendingWindow(start=time(9), end=time(17), daily_limit=100)
WINDOW_TEXT = "outside the send window (Mon–Fri 09:00–17:00 UTC)"


class Row(NamedTuple):
    status: str = "approved"
    due_at: datetime = TUE_10
    scheduled_for: datetime = TUE_10
    next_attempt_at: datetime | None = None
    contact_timezone: str | None = None
    last_reply: str | None = None


def info(state: str = "active") -> CampaignInfo:
    return CampaignInfo(1, "c", "UTC", WINDOW, state)


def test_due_now() -> None:
    assert next_try(Row(), info(), remaining=None, now=TUE_10) == Wait(TUE_10, "due now")


def test_outside_the_window_until_its_next_opening() -> None:
    evening = TUE_10.replace(hour=18)
    assert next_try(Row(), info(), remaining=None, now=evening) == Wait(WED_09, WINDOW_TEXT)
    bumped = Row(due_at=WED_09)
    assert next_try(bumped, info(), remaining=None, now=evening) == Wait(WED_09, WINDOW_TEXT)


def test_the_recipients_window() -> None:
    tokyo = Row(contact_timezone="Asia/Tokyo")
    wait = next_try(tokyo, info(), remaining=None, now=TUE_10)  # 19:00 in Tokyo
    assert wait == Wait(
        datetime(2010, 4, 21, 0, 0, tzinfo=UTC),
        "outside the send window (Mon–Fri 09:00–17:00 Asia/Tokyo)",
    )


def test_the_daily_limit_until_tomorrow() -> None:
    limit = "daily limit reached (100 a day)"
    assert next_try(Row(), info(), remaining=0, now=TUE_10) == Wait(WED_09, limit)
    deferred = Row(due_at=WED_09)
    assert next_try(deferred, info(), remaining=3, now=TUE_10) == Wait(WED_09, limit)


def test_a_retry_backoff() -> None:
    later = TUE_10 + timedelta(minutes=2)
    row = Row("retrying", due_at=later, next_attempt_at=later, last_reply="451 4.3.0 busy")
    assert next_try(row, info(), remaining=None, now=TUE_10) == Wait(
        later, "retry backoff after: 451 4.3.0 busy"
    )


def test_scheduled_and_held_back() -> None:
    ahead = TUE_10 + timedelta(hours=2)
    assert next_try(
        Row(due_at=ahead, scheduled_for=ahead), info(), remaining=None, now=TUE_10
    ) == Wait(ahead, "scheduled")
    held = Row(due_at=ahead)
    assert next_try(held, info(), remaining=None, now=TUE_10) == Wait(
        ahead, "held back after the SMTP server was unavailable"
    )


def test_people_and_finished_messages() -> None:
    assert next_try(Row(), info("paused"), remaining=None, now=TUE_10) == Wait(
        None, "campaign paused (outreach campaign resume)"
    )
    review = Row("pending_review")
    assert next_try(review, info(), remaining=None, now=TUE_10) == Wait(None, "waiting for review")
    for done in ("sent", "failed", "cancelled", "rejected", "unknown", "sending"):
        assert next_try(Row(done), info(), remaining=None, now=TUE_10) is None


def test_windows_in_words() -> None:
    assert describe_window(SendingWindow(), "UTC").startswith("Mon–Fri")
    every = SendingWindow(days=frozenset(range(7)), start=time(0), end=time.max)
    assert describe_window(every, "UTC") == "every day 00:00–24:00 UTC"
    some = SendingWindow(days=frozenset({0, 2}), start=time(8), end=time(12))
    assert describe_window(some, "Asia/Tokyo") == "Mon, Wed 08:00–12:00 Asia/Tokyo"
