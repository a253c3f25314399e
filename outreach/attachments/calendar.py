"""A milestone as an RFC 5545 calendar event (``calendar = "first_msp"`` on a step), built
with the ``icalendar`` package. Pure: no I/O, no clock (DTSTAMP is the letter's Date).

* ``METHOD:PUBLISH`` — an announcement to add to a calendar, not a meeting request that
  expects an answer.
* **All-day** when the milestone has no ``time``: ``DTSTART;VALUE=DATE`` and an *exclusive*
  ``DTEND`` (8–12 November is ``DTSTART:20101108``, ``DTEND:20101113``).
* **Timed** with ``time`` (and ``end_time``, else one hour after the start on the last day):
  local times with ``TZID`` in the milestone's ``timezone`` (else the campaign's) and the
  matching ``VTIMEZONE``.
* ``UID`` stable per milestone and campaign (``first_msp.ccm-2010@example.org``), so a
  calendar replaces the event it already has instead of adding a second one; ``SEQUENCE`` is
  the milestone's revision, raised each time a reload changes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from outreach.spec import MilestoneSpec, canonical_timezone

#: The MIME type of the calendar part, with its parameters.
CALENDAR_TYPE = "text/calendar"
CALENDAR_PARAMS = (("charset", "utf-8"), ("method", "PUBLISH"))


@dataclass(frozen=True)
class EventFacts:
    """What the event says besides the milestone: which campaign sends it, in which
    timezone the campaign lives, the domain of its UIDs and the DTSTAMP (aware)."""

    campaign_slug: str
    campaign_timezone: str
    uid_domain: str
    stamp: datetime


def event_uid(milestone_key: str, campaign_slug: str, domain: str) -> str:
    """The stable UID of a milestone's event: ``first_msp.ccm-2010@example.org``."""
    return f"{milestone_key}.{campaign_slug}@{domain}"


def milestone_calendar(milestone: MilestoneSpec, facts: EventFacts) -> bytes:
    """The ``VCALENDAR`` (CRLF lines, UTF-8) holding ``milestone`` as one ``VEVENT``."""
    cal = Calendar()
    cal.add("prodid", f"-//outreach//{facts.campaign_slug}//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", event_uid(milestone.key, facts.campaign_slug, facts.uid_domain))
    event.add("dtstamp", facts.stamp.astimezone(UTC))
    event.add("sequence", milestone.sequence)
    event.add("summary", milestone.title)
    if milestone.location:
        event.add("location", milestone.location)
    start, end = event_span(milestone, facts.campaign_timezone)
    event.add("dtstart", start)
    event.add("dtend", end)
    cal.add_component(event)
    if isinstance(start, datetime):
        cal.add_missing_timezones()
    return cal.to_ical()


def event_span(milestone: MilestoneSpec, campaign_timezone: str) -> tuple[date, date]:
    """(DTSTART, DTEND) of the event: dates for an all-day event (the end exclusive), aware
    datetimes for a timed one."""
    last = milestone.end or milestone.date
    if milestone.time is None:
        return milestone.date, last + timedelta(days=1)
    zone = ZoneInfo(canonical_timezone(milestone.timezone or campaign_timezone) or "UTC")
    start = datetime.combine(milestone.date, milestone.time, tzinfo=zone)
    if milestone.end_time is not None:
        end = datetime.combine(last, milestone.end_time, tzinfo=zone)
    else:
        end = datetime.combine(last, milestone.time, tzinfo=zone) + timedelta(hours=1)
    return start, max(end, start + timedelta(minutes=1))


def calendar_filename(milestone_key: str, campaign_slug: str) -> str:
    """The attachment's file name: ``ccm-2010-first_msp.ics``."""
    return f"{campaign_slug}-{milestone_key}.ics"
