"""The date a letter is read on (:func:`outreach.countdown.send_date`) and the countdown it
quotes, as properties over timezones either side of the date line; the send-time check uses
the same rule, so a letter leaving when it was planned is never "stale"."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from outreach.countdown import countdown_values, scheduled_send, send_date
from outreach.dispatch.checks import Verdict, check_candidates
from outreach.dispatch.policy import CampaignInfo
from outreach.spec import (
    CampaignSpec,
    MilestoneSpec,
    MilestoneWhen,
    SenderSpec,
    SendingWindow,
    StepSpec,
)

#: Zones either side of the date line, and some in between.
ZONES = (
    "Pacific/Kiritimati",  # UTC+14
    "Pacific/Apia",  # +13 (+14 in its old summers)
    "Pacific/Tongatapu",  # +13
    "Pacific/Chatham",  # +12:45 / +13:45
    "Asia/Ho_Chi_Minh",  # +7
    "Europe/Zurich",
    "UTC",
    "America/New_York",
    "America/St_Johns",  # -3:30 / -2:30
    "Pacific/Honolulu",  # -10
    "Pacific/Pago_Pago",  # -11
)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)
zones = st.sampled_from(ZONES)
RAW = b"Subject: x\r\n\r\nbody\r\n"
HASH = hashlib.sha256(RAW).hexdigest()


@given(moments, zones, zones)
def test_the_recipients_date_else_the_campaigns(moment, contact_tz, campaign_tz) -> None:
    assert (
        send_date(moment, contact_tz, campaign_tz) == moment.astimezone(ZoneInfo(contact_tz)).date()
    )
    assert send_date(moment, None, campaign_tz) == moment.astimezone(ZoneInfo(campaign_tz)).date()
    assert send_date(moment, "", campaign_tz) == send_date(moment, None, campaign_tz)


@given(moments, st.dates(min_value=date(2000, 1, 1), max_value=date(2036, 12, 31)))
def test_across_the_date_line_the_countdown_differs_by_a_day_or_two(moment, when) -> None:
    milestone = MilestoneSpec(key="m", title="the meeting", date=when)
    east = countdown_values([milestone], send_date(moment, "Pacific/Kiritimati", "UTC"))["m"]
    west = countdown_values([milestone], send_date(moment, "Pacific/Pago_Pago", "UTC"))["m"]
    # Kiritimati (UTC+14) is 25 hours ahead of Pago Pago (UTC-11): one or two dates later
    assert west["days_until"] - east["days_until"] in (1, 2)


def _campaign(campaign_tz: str, when: date, at: time) -> CampaignSpec:
    step = StepSpec(
        key="letter",
        template="t/letter",
        when=MilestoneWhen(milestone="m", days_before=42, at=at),
        audience_tags=None,
        position=0,
    )
    return CampaignSpec(
        slug="c",
        name="C",
        timezone=campaign_tz,
        require_approval=True,
        approvals_required=1,
        lookahead_days=3,
        sender=SenderSpec(name="Coalition", email="outreach@example.org", reply_to=None),
        sending=SendingWindow(start=time(8, 30), end=time(17, 0)),
        audience_tags=(),
        vars={},
        milestones=(MilestoneSpec(key="m", title="the meeting", date=when),),
        steps=(step,),
        source_path="c.toml",
        source_sha256="0" * 64,
    )


@given(
    st.dates(min_value=date(2005, 1, 1), max_value=date(2030, 12, 31)),
    st.times(),
    zones,
    zones,
)
def test_the_letter_counts_down_from_the_day_its_recipient_reads_it(
    when, at, contact_tz, campaign_tz
) -> None:
    spec = _campaign(campaign_tz, when, at.replace(microsecond=0))
    scheduled = scheduled_send(spec.steps[0], spec, contact_tz, previous_sent_at=None)
    assert scheduled is not None
    read_on = scheduled.astimezone(ZoneInfo(contact_tz)).date()
    values = countdown_values(spec.milestones, send_date(scheduled, contact_tz, campaign_tz))
    assert values["m"]["days_until"] == (when - read_on).days
    days = values["m"]["days_until"]
    assert values["m"]["weeks_until"] == (days // 7 if days >= 0 else -(-days // 7))


class Row(NamedTuple):
    id: int
    rendered_for: date
    contact_timezone: str | None
    campaign_id: int = 1
    contact_id: int = 1
    raw: bytes | None = RAW
    content_hash: str | None = HASH
    approved_hash: str | None = HASH
    envelope_from: str | None = "outreach@example.org"
    envelope_to: str | None = "minister@example.org"


@given(moments, st.one_of(st.none(), zones), zones)
def test_sent_when_planned_a_letter_is_not_rerendered(moment, contact_tz, campaign_tz) -> None:
    row = Row(1, send_date(moment, contact_tz, campaign_tz), contact_tz)
    window = SendingWindow(start=time(0), end=time(23, 59))
    info = CampaignInfo(1, "c", campaign_tz, window, "active")
    (check,) = check_candidates(
        [row], campaigns={1: info}, suppressed=set(), enrollments={}, now=moment
    )
    assert check.verdict == Verdict.SEND
    later = moment + timedelta(days=2)  # a day may last 25 hours
    (next_day,) = check_candidates(
        [row], campaigns={1: info}, suppressed=set(), enrollments={}, now=later
    )
    assert next_day.verdict == Verdict.RERENDER
    assert next_day.today == send_date(later, contact_tz, campaign_tz)
