"""outreach.planner.uncancel: which letters a corrected reply had cancelled are planned again,
and for when — a pure rule over values, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time

import pytest

from outreach.planner.uncancel import CancelledLetter, uncancel
from outreach.spec import (
    AfterWhen,
    CampaignSpec,
    MilestoneSpec,
    MilestoneWhen,
    SenderSpec,
    SendingWindow,
    StepSpec,
)

EIF = MilestoneSpec("entry_into_force", "entry into force", date(2010, 8, 1))
APPEAL = StepSpec("appeal", "ccm/appeal", MilestoneWhen("entry_into_force", 100, time(9)))
FOLLOW_UP = StepSpec("appeal-follow-up", "ccm/follow_up", AfterWhen("appeal", 14), position=1)
INVITATION = StepSpec(
    "invitation", "ccm/invitation", MilestoneWhen("entry_into_force", 30), ("affected",), 2
)
SPEC = CampaignSpec(
    slug="ccm-2010",
    name="Fictional campaign",
    timezone="Europe/Zurich",
    sender=SenderSpec("Fictional Coalition", "outreach@example.org"),
    sending=SendingWindow(days=frozenset(range(5)), start=time(9), end=time(17)),
    milestones=(EIF,),
    steps=(APPEAL, FOLLOW_UP, INVITATION),
    source_path="inline",
    source_sha256="0" * 64,
    audience_tags=("not-joined",),
)
#: The appeal is due on Friday 23 April 2010, 09:00 in Zurich (07:00 UTC).
APPEAL_DUE = datetime(2010, 4, 23, 7, 0, tzinfo=UTC)
#: The follow-up was planned for Friday 7 May, 09:00 in Zurich.
FOLLOW_UP_AT = datetime(2010, 5, 7, 7, 0, tzinfo=UTC)
MONDAY_NOON = datetime(2010, 5, 10, 12, 0, tzinfo=UTC)

FOLLOW_UP_LETTER = CancelledLetter(
    message_id=7,
    cancelled_from="approved",
    sent=False,
    scheduled_for=FOLLOW_UP_AT,
    step=FOLLOW_UP,
    contact_tags=("not-joined",),
    contact_tz=None,
    enrollment="active",
    suppressed=None,
)


def test_a_letter_nothing_stops_any_more_is_planned_for_its_time_when_still_ahead() -> None:
    verdict = uncancel(FOLLOW_UP_LETTER, SPEC, now=datetime(2010, 5, 5, 12, 0, tzinfo=UTC))
    assert (verdict.message_id, verdict.replan_at, verdict.reason) == (7, FOLLOW_UP_AT, "")
    assert verdict.replanned


def test_an_overdue_follow_up_leaves_at_the_next_window_opening() -> None:
    """A follow-up follows its step, as in planning: late, not missed."""
    assert uncancel(FOLLOW_UP_LETTER, SPEC, now=MONDAY_NOON).replan_at == MONDAY_NOON
    month_later = datetime(2010, 6, 5, 18, 0, tzinfo=UTC)  # a Saturday evening
    verdict = uncancel(FOLLOW_UP_LETTER, SPEC, now=month_later)
    assert verdict.replan_at == datetime(2010, 6, 7, 7, 0, tzinfo=UTC)  # Monday 09:00 Zurich


@pytest.mark.parametrize("state", ["pending_review", "render_error", "approved", "retrying"])
def test_letters_cancelled_before_they_left_may_come_back(state: str) -> None:
    letter = replace(FOLLOW_UP_LETTER, cancelled_from=state)
    assert uncancel(letter, SPEC, now=MONDAY_NOON).replanned


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"cancelled_from": "sending"}, "it may have left (cancelled from sending)"),
        ({"cancelled_from": "unknown"}, "it may have left (cancelled from unknown)"),
        ({"cancelled_from": None}, "it may have left (cancelled from an unknown state)"),
        ({"sent": True}, "it may have left (cancelled from approved)"),
        ({"step": None}, "its step is no longer in the campaign"),
        (
            {"suppressed": "bounce_hard, reply #9"},
            "the address is suppressed (bounce_hard, reply #9)",
        ),
        ({"suppressed": "operator, by ana"}, "the address is suppressed (operator, by ana)"),
        ({"enrollment": "replied"}, "the contact's enrollment is replied"),
        ({"enrollment": "bounced"}, "the contact's enrollment is bounced"),
        ({"enrollment": "completed"}, "the contact's enrollment is completed"),
        ({"contact_tags": ("joined",)}, "the contact is no longer in the step's audience"),
    ],
)
def test_what_still_stops_a_letter_keeps_it_cancelled_and_says_why(
    change: dict, reason: str
) -> None:
    verdict = uncancel(replace(FOLLOW_UP_LETTER, **change), SPEC, now=MONDAY_NOON)
    assert (verdict.replanned, verdict.replan_at, verdict.reason) == (False, None, reason)


def test_a_contact_not_enrolled_yet_is_no_obstacle() -> None:
    letter = replace(FOLLOW_UP_LETTER, enrollment=None)
    assert uncancel(letter, SPEC, now=MONDAY_NOON).replanned


def test_a_step_narrowed_to_an_audience_the_contact_is_in() -> None:
    invitation = replace(FOLLOW_UP_LETTER, step=INVITATION, contact_tags=("not-joined", "affected"))
    due = datetime(2010, 7, 2, 7, 0, tzinfo=UTC)  # 1 August minus 30 days, 09:00 Zurich
    assert uncancel(invitation, SPEC, now=MONDAY_NOON).replan_at == due
    outside = replace(invitation, contact_tags=("not-joined",))
    assert uncancel(outside, SPEC, now=MONDAY_NOON).reason == (
        "the contact is no longer in the step's audience"
    )


def test_a_dated_letter_catches_up_within_the_lookahead_and_is_missed_after() -> None:
    appeal = replace(FOLLOW_UP_LETTER, step=APPEAL, scheduled_for=APPEAL_DUE)
    two_days_late = datetime(2010, 4, 25, 20, 0, tzinfo=UTC)  # Sunday evening
    verdict = uncancel(appeal, SPEC, now=two_days_late)
    assert verdict.replan_at == datetime(2010, 4, 26, 7, 0, tzinfo=UTC)  # Monday 09:00 Zurich
    missed = uncancel(appeal, SPEC, now=MONDAY_NOON)
    assert missed.replan_at is None
    assert missed.reason == ("its date has passed (due 2010-04-23 07:00 UTC, more than 3 days ago)")


def test_a_dated_letter_goes_by_the_campaign_as_loaded_now() -> None:
    """A reload that moved the milestone moves the letter: its old planned time is not used."""
    moved = replace(SPEC, milestones=(replace(EIF, date=date(2010, 9, 1)),))
    appeal = replace(FOLLOW_UP_LETTER, step=APPEAL, scheduled_for=APPEAL_DUE)
    assert uncancel(appeal, moved, now=MONDAY_NOON).replan_at == datetime(
        2010, 5, 24, 7, 0, tzinfo=UTC
    )


def test_a_letter_another_reply_still_stops_is_that_reply_s_now() -> None:
    bounced = replace(FOLLOW_UP_LETTER, suppressed="bounce_hard, reply #9", suppressed_by=9)
    assert uncancel(bounced, SPEC, now=MONDAY_NOON).held_by == 9
    replied = replace(FOLLOW_UP_LETTER, enrollment="replied", enrollment_by=5)
    verdict = uncancel(replied, SPEC, now=MONDAY_NOON)
    assert (verdict.reason, verdict.held_by) == (
        "the contact's enrollment is replied (reply #5)",
        5,
    )
    both = replace(bounced, enrollment="bounced", enrollment_by=9)
    assert uncancel(both, SPEC, now=MONDAY_NOON).held_by == 9


def test_nobody_holds_a_letter_an_operator_or_the_campaign_stops() -> None:
    by_hand = replace(FOLLOW_UP_LETTER, suppressed="operator, by ana")
    assert uncancel(by_hand, SPEC, now=MONDAY_NOON).held_by is None
    removed = replace(FOLLOW_UP_LETTER, step=None, suppressed="bounce_hard", suppressed_by=9)
    assert uncancel(removed, SPEC, now=MONDAY_NOON).held_by is None
    left = replace(FOLLOW_UP_LETTER, sent=True, enrollment="replied", enrollment_by=5)
    assert uncancel(left, SPEC, now=MONDAY_NOON).held_by is None
    assert uncancel(FOLLOW_UP_LETTER, SPEC, now=MONDAY_NOON).held_by is None
