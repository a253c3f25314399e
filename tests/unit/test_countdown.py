"""Countdowns, due moments and send windows: examples from the issue and properties over
1990-2060 in far-apart timezones, with moments packed around DST transitions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from outreach.countdown import (
    countdown_values,
    days_until,
    in_window,
    local_date,
    local_moment,
    milestone_phase,
    next_window_opening,
    scheduled_send,
    step_due,
    within_lookahead,
)
from outreach.spec import (
    END_OF_DAY,
    AfterWhen,
    CampaignSpec,
    DateWhen,
    MilestoneSpec,
    MilestoneWhen,
    SenderSpec,
    SendingWindow,
    StepSpec,
)

GENEVA = "Europe/Geneva"  # an alias of Europe/Zurich: IANA has no Geneva zone
ZONES = [
    "Europe/Zurich",
    "Pacific/Kiritimati",  # UTC+14; skipped 1994-12-31 entirely
    "Pacific/Pago_Pago",  # UTC-11
    "Pacific/Apia",  # skipped 2011-12-30; had DST
    "Asia/Ho_Chi_Minh",
    "America/Los_Angeles",
    "America/Sao_Paulo",  # DST changes at local midnight until 2019
    "Australia/Lord_Howe",  # 30-minute DST
    GENEVA,
]
WEEKDAYS = frozenset(range(5))
OFFICE = SendingWindow(days=WEEKDAYS, start=time(9), end=time(17))

EIF = MilestoneSpec("entry_into_force", "entry into force", date(2010, 8, 1))
MSP = MilestoneSpec(
    "first_msp",
    "First Meeting of States Parties",
    date(2010, 11, 8),
    date(2010, 11, 12),
    "Vientiane, Lao PDR",
)
APPEAL = StepSpec("appeal", "ccm/appeal", MilestoneWhen("entry_into_force", 100, time(9)))
FOLLOW_UP = StepSpec("appeal-follow-up", "ccm/follow_up", AfterWhen("appeal", 14), position=1)
INVITATION = StepSpec(
    "msp-invitation", "ccm/msp_invitation", MilestoneWhen("first_msp", 30), ("x",), 2
)


def campaign(
    *steps: StepSpec,
    tz: str = GENEVA,
    window: SendingWindow = OFFICE,
    milestones: tuple[MilestoneSpec, ...] = (EIF, MSP),
) -> CampaignSpec:
    return CampaignSpec(
        slug="ccm-2010",
        name="Fictional campaign",
        timezone=tz,
        sender=SenderSpec("Fictional Coalition", "outreach@example.org"),
        sending=window,
        milestones=milestones,
        steps=steps or (APPEAL, FOLLOW_UP, INVITATION),
        source_path="inline",
        source_sha256="0" * 64,
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# Examples from the issue


def test_appeal_is_due_at_t_minus_100_and_planned_three_days_ahead() -> None:
    spec = campaign()
    due = step_due(APPEAL, spec, previous_sent_at=None)
    assert due == utc(2010, 4, 23, 7, 0)  # 09:00 CEST
    assert due.astimezone(ZoneInfo("Europe/Zurich")).strftime("%a %H:%M") == "Fri 09:00"
    assert scheduled_send(APPEAL, spec, None, previous_sent_at=None) == due
    now = utc(2010, 4, 20, 12, 0)
    assert within_lookahead(due, now, 3, spec.timezone)
    assert not within_lookahead(due, now, 2, spec.timezone)


def test_invitation_due_on_saturday_waits_for_monday() -> None:
    spec = campaign()
    due = step_due(INVITATION, spec, previous_sent_at=None)
    # T-30 of 2010-11-08 is Saturday 2010-10-09; default time is the window's start
    assert due == utc(2010, 10, 9, 7, 0)
    assert not in_window(due, OFFICE, GENEVA)
    sent = scheduled_send(INVITATION, spec, None, previous_sent_at=None)
    assert sent == utc(2010, 10, 11, 7, 0)  # Monday 09:00 CEST
    # its countdown counts from that Monday, in the campaign's timezone
    values = countdown_values(spec.milestones, local_date(sent, GENEVA))
    assert values["first_msp"]["days_until"] == 28
    assert values["first_msp"]["weeks_until"] == 4
    assert values["first_msp"]["is_past"] is False
    assert values["entry_into_force"]["days_until"] == -71
    assert values["entry_into_force"]["is_past"] is True
    assert values["first_msp"]["location"] == "Vientiane, Lao PDR"


@pytest.mark.parametrize(
    ("contact_tz", "step", "expected"),
    [
        # 07:00Z Friday is 14:00 in Ho Chi Minh City: inside its window already
        ("Asia/Ho_Chi_Minh", APPEAL, utc(2010, 4, 23, 7, 0)),
        # Saturday 14:00 there: Monday 09:00 ICT (UTC+7)
        ("Asia/Ho_Chi_Minh", INVITATION, utc(2010, 10, 11, 2, 0)),
        # 07:00Z Friday is 00:00 PDT: wait for 09:00 PDT the same day
        ("America/Los_Angeles", APPEAL, utc(2010, 4, 23, 16, 0)),
        # 07:00Z Friday is Friday 20:00 in Kiritimati (UTC+14): Monday 09:00 there
        ("Pacific/Kiritimati", APPEAL, utc(2010, 4, 25, 19, 0)),
    ],
)
def test_contact_gets_message_inside_its_own_window(
    contact_tz: str, step: StepSpec, expected: datetime
) -> None:
    sent = scheduled_send(step, campaign(), contact_tz, previous_sent_at=None)
    assert sent == expected
    assert in_window(sent, OFFICE, contact_tz)


def test_follow_up_counts_from_the_previous_send() -> None:
    spec = campaign()
    assert step_due(FOLLOW_UP, spec, previous_sent_at=None) is None
    assert scheduled_send(FOLLOW_UP, spec, None, previous_sent_at=None) is None
    previous = utc(2010, 4, 23, 7, 0)
    assert step_due(FOLLOW_UP, spec, previous_sent_at=previous) == utc(2010, 5, 7, 7, 0)
    # sent late on a Friday: the follow-up lands on a Friday evening and waits for Monday
    late = utc(2010, 4, 23, 16, 30)  # 18:30 CEST
    assert scheduled_send(FOLLOW_UP, spec, None, previous_sent_at=late) == utc(2010, 5, 10, 7, 0)


def test_date_step_and_days_after() -> None:
    press = StepSpec("press", "ccm/press", DateWhen(datetime(2010, 12, 1, 10, 30)))
    report = StepSpec("report", "ccm/report", MilestoneWhen("first_msp", -7, time(11)))
    spec = campaign(press, report)
    assert step_due(press, spec, previous_sent_at=None) == utc(2010, 12, 1, 9, 30)  # CET
    assert step_due(report, spec, previous_sent_at=None) == utc(2010, 11, 15, 10, 0)


def test_countdown_values_on_the_appeal_day() -> None:
    values = countdown_values([EIF, MSP], date(2010, 4, 23))
    eif = values["entry_into_force"]
    assert (eif["days_until"], eif["weeks_until"], eif["is_past"], eif["phase"]) == (
        100,
        14,
        False,
        "upcoming",
    )
    assert eif["title"] == "entry into force"
    assert values["first_msp"]["days_until"] == 199


@pytest.mark.parametrize(
    ("today", "phase"),
    [
        (date(2010, 11, 7), "upcoming"),
        (date(2010, 11, 8), "in_progress"),
        (date(2010, 11, 12), "in_progress"),
        (date(2010, 11, 13), "past"),
    ],
)
def test_multi_day_milestone_phases(today: date, phase: str) -> None:
    now = local_moment(today, time(12), GENEVA)
    assert milestone_phase(MSP, now, GENEVA) == phase
    assert countdown_values([MSP], today)["first_msp"]["phase"] == phase


def test_one_day_milestone_is_today_in_the_given_timezone() -> None:
    # 2010-08-01 01:00 Geneva is still 2010-07-31 in Los Angeles
    now = utc(2010, 7, 31, 23, 0)
    assert milestone_phase(EIF, now, GENEVA) == "today"
    assert milestone_phase(EIF, now, "America/Los_Angeles") == "upcoming"
    assert days_until(EIF.date, now, GENEVA) == 0
    assert days_until(EIF.date, now, "America/Los_Angeles") == 1
    assert milestone_phase(EIF, utc(2010, 8, 1, 22, 0), GENEVA) == "past"


def test_local_moment_across_dst() -> None:
    # spring forward: 02:30 does not exist on 2010-03-28 in Geneva; 03:00 CEST is next
    assert local_moment(date(2010, 3, 28), time(2, 30), GENEVA) == utc(2010, 3, 28, 1, 0)
    # fall back: 02:30 happens twice on 2010-10-31; the first (CEST) is taken
    assert local_moment(date(2010, 10, 31), time(2, 30), GENEVA) == utc(2010, 10, 31, 0, 30)
    # a whole skipped day: Kiritimati went from 1994-12-30 to 1995-01-01
    moment = local_moment(date(1994, 12, 31), time(9), "Pacific/Kiritimati")
    local = moment.astimezone(ZoneInfo("Pacific/Kiritimati"))
    assert (local.date(), local.time()) == (date(1995, 1, 1), time(0))


def test_window_re_entered_by_fall_back_hour() -> None:
    night = SendingWindow(days=frozenset({6}), start=time(1), end=time(2, 30))
    m = utc(2010, 10, 31, 0, 45)  # 02:45 CEST, after the window
    assert not in_window(m, night, GENEVA)
    # at 01:00Z the clock goes back to 02:00 CET: inside the window again
    assert next_window_opening(m, night, GENEVA) == utc(2010, 10, 31, 1, 0)


def test_window_day_that_never_happened() -> None:
    saturdays = SendingWindow(days=frozenset({5}), start=time(9), end=time(17))
    m = local_moment(date(1994, 12, 30), time(20), "Pacific/Kiritimati")  # Friday evening
    opening = next_window_opening(m, saturdays, "Pacific/Kiritimati")
    local = opening.astimezone(ZoneInfo("Pacific/Kiritimati"))
    assert (local.date(), local.time()) == (date(1995, 1, 7), time(9))


def test_window_to_midnight() -> None:
    evenings = SendingWindow(days=WEEKDAYS, start=time(18), end=END_OF_DAY)
    m = local_moment(date(2010, 4, 23), time(23, 59, 59), GENEVA)  # Friday
    assert in_window(m, evenings, GENEVA)
    assert not in_window(m + timedelta(seconds=1), evenings, GENEVA)
    assert next_window_opening(m + timedelta(seconds=1), evenings, GENEVA) == local_moment(
        date(2010, 4, 26), time(18), GENEVA
    )


# --------------------------------------------------------------------------------------------
# Properties


@cache
def transitions(tz: str) -> tuple[datetime, ...]:
    """Offset changes of ``tz`` between 1990 and 2060, to the minute (found independently of
    the code under test: daily probes, then bisection)."""
    z = ZoneInfo(tz_alias(tz))
    found: list[datetime] = []
    day = utc(1990, 1, 1)
    previous = day.astimezone(z).utcoffset()
    while day.year < 2061:
        nxt = day + timedelta(days=1)
        offset = nxt.astimezone(z).utcoffset()
        if offset != previous:
            lo, hi = day, nxt
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(z).utcoffset() == offset:
                    hi = mid
                else:
                    lo = mid
            found.append(hi.replace(second=0, microsecond=0))
            previous = offset
        day = nxt
    return tuple(found)


zones = st.sampled_from(ZONES)
plain_moments = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2060, 12, 31), timezones=st.just(UTC)
)


@st.composite
def zone_and_moment(draw: st.DrawFn) -> tuple[str, datetime]:
    tz = draw(zones)
    near = transitions(tz)
    if near and draw(st.booleans()):
        base = draw(st.sampled_from(near))
        moment = base + timedelta(seconds=draw(st.integers(-3 * 86400, 3 * 86400)))
    else:
        moment = draw(plain_moments)
    return tz, moment


@st.composite
def windows(draw: st.DrawFn) -> SendingWindow:
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    start = draw(st.integers(0, 24 * 60 - 1))
    end = draw(st.integers(start + 1, 24 * 60))
    return SendingWindow(
        days=days,
        start=time(start // 60, start % 60),
        end=END_OF_DAY if end == 24 * 60 else time(end // 60, end % 60),
    )


def brute_force_opening(m: datetime, window: SendingWindow, tz: str) -> datetime:
    """The first in-window moment found by walking minute by minute (windows start on whole
    minutes and zone transitions fall on whole minutes)."""
    if in_window(m, window, tz):
        return m
    t = m.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(20 * 24 * 60):
        if in_window(t, window, tz):
            return t
        t += timedelta(minutes=1)
    raise AssertionError("no opening within 20 days")


@settings(max_examples=400, deadline=None)
@given(zone_and_moment(), windows())
@example(
    ("Europe/Zurich", utc(2010, 10, 31, 0, 45)), SendingWindow(frozenset({6}), time(1), time(2, 30))
)
@example(
    ("Pacific/Kiritimati", utc(1994, 12, 30, 6, 0)),
    SendingWindow(frozenset({5}), time(9), time(17)),
)
@example(
    ("America/Sao_Paulo", utc(2018, 11, 4, 2, 30)),
    SendingWindow(frozenset({6}), time(0), time(0, 30)),
)
def test_next_window_opening_is_the_first_in_window_moment(
    tz_moment: tuple[str, datetime], window: SendingWindow
) -> None:
    tz, m = tz_moment
    opening = next_window_opening(m, window, tz)
    assert opening.tzinfo == UTC
    assert opening >= m
    assert in_window(opening, window, tz)
    assert next_window_opening(opening, window, tz) == opening  # idempotent
    if opening > m:
        for before in (
            opening - timedelta(microseconds=1),
            opening - timedelta(seconds=1),
            opening - timedelta(minutes=1),
            m + (opening - m) / 2,
            m,
        ):
            if before >= m:
                assert not in_window(before, window, tz), before
    # the same answer from any moment in between
    if opening > m:
        assert next_window_opening(m + (opening - m) / 3, window, tz) == opening


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zone_and_moment(), windows())
def test_next_window_opening_matches_a_minute_by_minute_walk(
    tz_moment: tuple[str, datetime], window: SendingWindow
) -> None:
    tz, m = tz_moment
    assert next_window_opening(m, window, tz) == brute_force_opening(m, window, tz)


@settings(max_examples=300, deadline=None)
@given(zone_and_moment(), st.integers(-400, 400))
def test_days_until_counts_calendar_days_in_the_timezone(
    tz_moment: tuple[str, datetime], k: int
) -> None:
    tz, now = tz_moment
    today = local_date(now, tz)
    assert today == now.astimezone(ZoneInfo(tz_alias(tz))).date()
    target = today + timedelta(days=k)
    assert days_until(target, now, tz) == k
    assert days_until(target, now, tz) - days_until(target + timedelta(days=1), now, tz) == -1
    phase = milestone_phase(MilestoneSpec("m", "M", target), now, tz)
    assert phase == ("upcoming" if k > 0 else "today" if k == 0 else "past")
    values = countdown_values([MilestoneSpec("m", "M", target)], today)["m"]
    assert values["days_until"] == k
    assert values["is_past"] == (k < 0)
    assert abs(values["weeks_until"]) == abs(k) // 7


def tz_alias(tz: str) -> str:
    return "Europe/Zurich" if tz == GENEVA else tz


@settings(max_examples=300, deadline=None)
@given(zones, st.dates(date(1990, 1, 1), date(2060, 12, 31)), st.times())
def test_local_moment_is_the_wall_time_or_the_end_of_its_gap(tz: str, day: date, at: time) -> None:
    z = ZoneInfo(tz_alias(tz))
    moment = local_moment(day, at, tz)
    assert moment.tzinfo == UTC
    wall = moment.astimezone(z)
    wanted = datetime.combine(day, at)
    if wall.replace(tzinfo=None) == wanted:
        assert wall.fold == 0  # the first of two, when ambiguous
        assert wanted.replace(tzinfo=z, fold=1).astimezone(UTC) >= moment
    else:
        # a wall time that does not exist: the result is the first moment after the gap
        assert wall.replace(tzinfo=None) > wanted
        just_before = (moment - timedelta(microseconds=1)).astimezone(z).replace(tzinfo=None)
        assert just_before < wanted


@settings(max_examples=300, deadline=None)
@given(
    st.dates(date(1990, 6, 1), date(2060, 6, 1)),
    st.integers(-60, 200),
    st.one_of(st.none(), st.times()),
    zones,
    st.one_of(st.none(), zones),
    windows(),
)
def test_scheduled_send_is_inside_the_contacts_window(
    milestone_day: date,
    days_before: int,
    at: time | None,
    campaign_tz: str,
    contact_tz: str | None,
    window: SendingWindow,
) -> None:
    step = StepSpec("s", "t", MilestoneWhen("m", days_before, at))
    spec = campaign(
        step, tz=campaign_tz, window=window, milestones=(MilestoneSpec("m", "M", milestone_day),)
    )
    due = step_due(step, spec, previous_sent_at=None)
    assert due is not None
    sent = scheduled_send(step, spec, contact_tz, previous_sent_at=None)
    assert sent is not None and sent >= due
    assert in_window(sent, window, contact_tz or campaign_tz)
    assert sent - due < timedelta(days=15)  # a week, or two when a DST gap eats a window
    # the due moment itself is on the intended campaign-local day (or just after a gap)
    due_day = local_date(due, campaign_tz)
    intended = milestone_day - timedelta(days=days_before)
    assert timedelta(0) <= due_day - intended <= timedelta(days=1)
