"""A milestone as an RFC 5545 event: all-day spans with an exclusive end, timed events with
their VTIMEZONE, a UID stable per milestone and campaign, SEQUENCE from the milestone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from icalendar import Calendar

from outreach.attachments.calendar import EventFacts, calendar_filename, milestone_calendar
from outreach.spec import MilestoneSpec

FACTS = EventFacts("ccm-2010", "Europe/Zurich", "example.org", datetime(2010, 10, 8, 7, tzinfo=UTC))
MSP = MilestoneSpec(
    key="first_msp",
    title="First Meeting of States Parties",
    date=date(2010, 11, 8),
    end=date(2010, 11, 12),
    location="Vientiane, Lao PDR",
)


def _event(raw: bytes):
    cal = Calendar.from_ical(raw)
    assert str(cal["METHOD"]) == "PUBLISH" and str(cal["VERSION"]) == "2.0"
    [event] = cal.walk("VEVENT")
    return cal, event


def test_a_multi_day_meeting_is_an_all_day_event_with_an_exclusive_end() -> None:
    _, event = _event(milestone_calendar(MSP, FACTS))
    assert event.decoded("DTSTART") == date(2010, 11, 8)
    assert event.decoded("DTEND") == date(2010, 11, 13)  # 8-12 November: the end is exclusive
    assert str(event["LOCATION"]) == "Vientiane, Lao PDR"
    assert str(event["SUMMARY"]) == "First Meeting of States Parties"
    assert str(event["UID"]) == "first_msp.ccm-2010@example.org"
    assert event.decoded("DTSTAMP") == datetime(2010, 10, 8, 7, tzinfo=UTC)
    assert int(event["SEQUENCE"]) == 0


def test_a_one_day_milestone_ends_the_next_day() -> None:
    day = MilestoneSpec("entry_into_force", "entry into force", date(2010, 8, 1))
    _, event = _event(milestone_calendar(day, FACTS))
    assert (event.decoded("DTSTART"), event.decoded("DTEND")) == (
        date(2010, 8, 1),
        date(2010, 8, 2),
    )
    assert "LOCATION" not in event


def test_a_timed_milestone_has_local_times_and_its_vtimezone() -> None:
    timed = MilestoneSpec(
        "first_msp",
        "First Meeting of States Parties",
        date(2010, 11, 8),
        end=date(2010, 11, 12),
        location="Vientiane, Lao PDR",
        time=time(10, 0),
        end_time=time(18, 0),
        timezone="Asia/Vientiane",
        sequence=2,
    )
    raw = milestone_calendar(timed, FACTS)
    cal, event = _event(raw)
    assert b"DTSTART;TZID=Asia/Vientiane:20101108T100000" in raw
    assert b"DTEND;TZID=Asia/Vientiane:20101112T180000" in raw
    [tz] = cal.walk("VTIMEZONE")
    assert str(tz["TZID"]) == "Asia/Vientiane"
    assert event.decoded("DTSTART").utcoffset().total_seconds() == 7 * 3600
    assert int(event["SEQUENCE"]) == 2


def test_the_same_milestone_gives_the_same_bytes_and_uid() -> None:
    first = milestone_calendar(MSP, FACTS)
    assert first == milestone_calendar(MSP, FACTS)
    moved = MilestoneSpec(MSP.key, MSP.title, date(2010, 11, 9), MSP.end, MSP.location, sequence=1)
    _, event = _event(milestone_calendar(moved, FACTS))
    assert str(event["UID"]) == "first_msp.ccm-2010@example.org"  # replaces, not duplicates
    assert int(event["SEQUENCE"]) == 1
    assert calendar_filename("first_msp", "ccm-2010") == "ccm-2010-first_msp.ics"
    assert b"\r\n" in first and b"\n" not in first.replace(b"\r\n", b"")
