"""The funnel's pure parts: columns, counts and milestone countdowns."""

from __future__ import annotations

from datetime import UTC, date, datetime

from outreach.funnel import (
    FUNNEL_KEYS,
    MESSAGE_COLUMNS,
    CampaignFunnel,
    funnel_counts,
    milestone_countdown,
    totals,
)
from outreach.spec import MilestoneSpec
from outreach.states import MessageStatus


def test_every_message_state_has_one_column() -> None:
    assert sorted(MESSAGE_COLUMNS) == sorted(MessageStatus)
    assert len(set(FUNNEL_KEYS)) == len(FUNNEL_KEYS)
    assert FUNNEL_KEYS[0] == "enrolled"


def test_funnel_counts_fill_every_column() -> None:
    funnel = funnel_counts({"sent": 3, "approved": 1}, {"active": 2, "replied": 1, "bounced": 1})
    assert list(funnel) == list(FUNNEL_KEYS)
    assert funnel["enrolled"] == 4
    assert (funnel["sent"], funnel["approved"], funnel["pending_review"]) == (3, 1, 0)
    assert (funnel["replied"], funnel["bounced"], funnel["unsubscribed"]) == (1, 1, 0)


def test_totals_sum_each_column() -> None:
    a = CampaignFunnel("a", "A", "active", funnel_counts({"sent": 2}, {"active": 1}), [])
    b = CampaignFunnel("b", "B", "paused", funnel_counts({"sent": 1}, {"replied": 1}), [])
    total = totals([a, b])
    assert (total["sent"], total["enrolled"], total["replied"]) == (3, 2, 1)
    assert totals([]) == dict.fromkeys(FUNNEL_KEYS, 0)


def test_milestone_countdown_in_the_campaign_timezone() -> None:
    meeting = MilestoneSpec("msp", "First Meeting", date(2010, 11, 9), end=date(2010, 11, 12))
    # 23:30 UTC on 8 November is already 9 November in Vientiane
    late = datetime(2010, 11, 8, 23, 30, tzinfo=UTC)
    shown = milestone_countdown(meeting, late, "Asia/Vientiane")
    assert shown == {
        "key": "msp",
        "title": "First Meeting",
        "date": date(2010, 11, 9),
        "end": date(2010, 11, 12),
        "days_until": 0,
        "phase": "in_progress",
    }
    in_new_york = milestone_countdown(meeting, late, "America/New_York")
    assert (in_new_york["days_until"], in_new_york["phase"]) == (1, "upcoming")
