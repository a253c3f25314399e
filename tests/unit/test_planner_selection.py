"""outreach.planner.selection: the audience rule, due dates moved into the send window, and
the letters a page of contacts is due — pure functions over values, no database."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time

import pytest

from outreach.planner.selection import (
    Known,
    in_audience,
    is_missed,
    plan_steps,
    rescheduled,
    select_due,
    send_moment,
)
from outreach.spec import (
    AfterWhen,
    CampaignSpec,
    MilestoneSpec,
    MilestoneWhen,
    SenderSpec,
    SendingWindow,
    StepSpec,
)
from outreach.states import EnrollmentStatus, MessageStatus

EIF = MilestoneSpec("entry_into_force", "entry into force", date(2010, 8, 1))
MSP = MilestoneSpec("first_msp", "First Meeting of States Parties", date(2010, 11, 8))
APPEAL = StepSpec("appeal", "ccm/appeal", MilestoneWhen("entry_into_force", 100, time(9)))
FOLLOW_UP = StepSpec("appeal-follow-up", "ccm/follow_up", AfterWhen("appeal", 14), position=1)
INVITATION = StepSpec(
    "msp-invitation", "ccm/msp_invitation", MilestoneWhen("first_msp", 30), ("affected",), 2
)
SPEC = CampaignSpec(
    slug="ccm-2010",
    name="Fictional campaign",
    timezone="Europe/Zurich",
    sender=SenderSpec("Fictional Coalition", "outreach@example.org"),
    sending=SendingWindow(days=frozenset(range(5)), start=time(9), end=time(17)),
    milestones=(EIF, MSP),
    steps=(APPEAL, FOLLOW_UP, INVITATION),
    source_path="inline",
    source_sha256="0" * 64,
    audience_tags=("not-joined",),
)
STEPS = plan_steps(SPEC, {"appeal": 1, "appeal-follow-up": 2, "msp-invitation": 3})
T_APPEAL = datetime(2010, 4, 20, 12, 0, tzinfo=UTC)  # 3 days before the appeal is due


@dataclass(frozen=True)
class Person:
    id: int
    email: str
    tags: tuple[str, ...] = ("not-joined",)
    timezone: str | None = None


@dataclass(frozen=True)
class Prior:
    status: str
    sent_at: datetime | None = None


@dataclass(frozen=True)
class Facts:
    messages: dict = field(default_factory=dict)
    enrollments: dict = field(default_factory=dict)
    suppressed: frozenset = frozenset()

    def known(self) -> Known:
        return Known(self.messages, self.enrollments, self.suppressed)


@pytest.mark.parametrize(
    ("campaign_tags", "step_tags", "contact_tags", "expected"),
    [
        ((), None, (), True),  # a campaign naming no tags is for everyone
        (("a",), None, ("b",), False),
        (("a", "b"), None, ("b", "c"), True),  # any of the campaign's tags
        (("a",), ("x",), ("a",), False),  # a step narrows the campaign's audience
        (("a",), ("x",), ("x",), False),  # ... it never widens it
        (("a",), ("x", "y"), ("a", "y"), True),
        ((), ("x",), ("x",), True),
        ((), (), ("x",), False),  # a step naming an empty list of tags is for nobody
    ],
)
def test_audience_rule(campaign_tags, step_tags, contact_tags, expected) -> None:
    spec = replace(SPEC, audience_tags=campaign_tags)
    step = replace(APPEAL, audience_tags=step_tags)
    assert in_audience(contact_tags, spec, step) is expected
    assert in_audience(contact_tags, spec) is (
        not campaign_tags or bool(set(campaign_tags) & set(contact_tags))
    )


def test_plan_steps_puts_a_follow_up_after_the_step_it_follows() -> None:
    assert [(s.step.key, s.step_id, s.previous_step_id) for s in STEPS] == [
        ("appeal", 1, None),
        ("appeal-follow-up", 2, 1),
        ("msp-invitation", 3, None),
    ]


def test_send_moment_is_the_next_window_opening_in_the_contacts_timezone() -> None:
    due = datetime(2010, 4, 24, 7, 0, tzinfo=UTC)  # a Saturday, 09:00 in Zurich
    monday_zurich = datetime(2010, 4, 26, 7, 0, tzinfo=UTC)
    assert send_moment(due, now=T_APPEAL, spec=SPEC, contact_tz=None) == monday_zurich
    monday_hanoi = datetime(2010, 4, 26, 2, 0, tzinfo=UTC)  # 09:00 in Hanoi (UTC+7)
    assert send_moment(due, now=T_APPEAL, spec=SPEC, contact_tz="Asia/Ho_Chi_Minh") == monday_hanoi
    late = datetime(2010, 4, 26, 8, 0, tzinfo=UTC)  # now is past the due moment: not before now
    assert send_moment(due, now=late, spec=SPEC, contact_tz=None) == late


def test_the_appeal_is_due_for_the_audience_only_and_once() -> None:
    contacts = [
        Person(1, "a@example.org"),
        Person(2, "b@example.org", tags=("signatory",)),
        Person(3, "c@example.org", tags=("not-joined", "affected")),
        Person(4, "d@example.org"),
        Person(5, "e@example.org"),
        Person(6, "f@example.org"),
    ]
    facts = Facts(
        messages={(1, 4): Prior(MessageStatus.PENDING_REVIEW.value)},
        enrollments={5: EnrollmentStatus.REPLIED.value, 1: EnrollmentStatus.ACTIVE.value},
        suppressed=frozenset({"f@example.org"}),
    )
    selection = select_due(SPEC, STEPS, contacts, facts.known(), now=T_APPEAL)
    assert selection.missed == 0
    got = [(c.step.key, c.contact.email, c.scheduled_for) for c in selection.candidates]
    friday_0900 = datetime(2010, 4, 23, 7, 0, tzinfo=UTC)
    assert got == [
        ("appeal", "a@example.org", friday_0900),
        ("appeal", "c@example.org", friday_0900),
    ]


def test_a_follow_up_needs_the_step_it_follows_sent() -> None:
    sent_at = datetime(2010, 4, 23, 7, 0, tzinfo=UTC)
    contacts = [Person(1, "a@example.org"), Person(2, "b@example.org"), Person(3, "c@example.org")]
    facts = Facts(
        messages={
            (1, 1): Prior(MessageStatus.SENT.value, sent_at),
            (1, 2): Prior(MessageStatus.APPROVED.value),
            (1, 3): Prior(MessageStatus.SENT.value, sent_at),
            (2, 3): Prior(MessageStatus.PENDING_REVIEW.value),  # already planned
        }
    )
    now = datetime(2010, 5, 6, 12, 0, tzinfo=UTC)
    selection = select_due(SPEC, STEPS, contacts, facts.known(), now=now)
    assert [(c.step.key, c.contact.email) for c in selection.candidates] == [
        ("appeal-follow-up", "a@example.org")
    ]
    assert selection.candidates[0].scheduled_for == datetime(2010, 5, 7, 7, 0, tzinfo=UTC)


def test_a_dated_letter_long_overdue_is_missed_not_sent_late() -> None:
    contacts = [Person(1, "a@example.org")]
    two_days_late = datetime(2010, 4, 25, 12, 0, tzinfo=UTC)
    assert not is_missed(datetime(2010, 4, 23, 7, 0, tzinfo=UTC), two_days_late, SPEC)
    a_week_late = datetime(2010, 4, 30, 12, 0, tzinfo=UTC)
    assert is_missed(datetime(2010, 4, 23, 7, 0, tzinfo=UTC), a_week_late, SPEC)
    selection = select_due(SPEC, STEPS[:1], contacts, Facts().known(), now=a_week_late)
    assert selection.candidates == [] and selection.missed == 1


def test_rescheduled_follows_a_due_moment_that_moved_and_is_still_ahead() -> None:
    planned = datetime(2010, 4, 23, 7, 0, tzinfo=UTC)
    moved = replace(APPEAL, when=MilestoneWhen("entry_into_force", 90, time(9)))
    later = datetime(2010, 5, 3, 7, 0, tzinfo=UTC)  # a Monday, 09:00 in Zurich
    kwargs = {"scheduled_for": planned, "previous_sent_at": None, "contact_tz": None}
    assert rescheduled(moved, SPEC, now=T_APPEAL, **kwargs) == later
    assert rescheduled(APPEAL, SPEC, now=T_APPEAL, **kwargs) == planned  # nothing moved
    past = datetime(2010, 5, 4, 12, 0, tzinfo=UTC)  # the new due moment has passed: keep
    assert rescheduled(moved, SPEC, now=past, **kwargs) == planned
    assert rescheduled(FOLLOW_UP, SPEC, now=T_APPEAL, **kwargs) == planned  # nothing sent yet
