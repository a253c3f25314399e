"""Who gets which letter when: the audience rule, due dates moved into the send window, and the
letters a page of contacts is due — pure functions of loaded values and ``now`` (no database,
no clock).

The audience rule lives here once (:func:`in_audience`); planning, re-planning after a reload
and previews all call it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from outreach.countdown import (
    local_date,
    next_window_opening,
    step_due,
    within_lookahead,
    zone,
)
from outreach.spec import AfterWhen, CampaignSpec, StepSpec, step_order
from outreach.states import EnrollmentStatus, MessageStatus


class Recipient(Protocol):
    """What selection reads of a contact (a :class:`~outreach.models.Contact` row)."""

    @property
    def id(self) -> int | None: ...

    @property
    def email(self) -> str: ...

    @property
    def tags(self) -> Sequence[str]: ...

    @property
    def timezone(self) -> str | None: ...


class PriorMessage(Protocol):
    """What selection reads of a message already planned for a (step, contact)."""

    @property
    def status(self) -> str: ...

    @property
    def sent_at(self) -> datetime | None: ...


def in_audience(tags: Iterable[str], spec: CampaignSpec, step: StepSpec | None = None) -> bool:
    """The audience rule. A contact with ``tags`` is in the campaign's audience when it has
    any of the campaign's audience tags (everyone is, when the campaign names none); it is in
    ``step``'s audience when, besides, it has any of the step's own tags (a step that names
    none is for the campaign's whole audience)."""
    have = set(tags)
    if spec.audience_tags and not have.intersection(spec.audience_tags):
        return False
    return step is None or step.audience_tags is None or not have.isdisjoint(step.audience_tags)


def send_moment(
    moment: datetime, *, now: datetime, spec: CampaignSpec, contact_tz: str | None
) -> datetime:
    """The first moment of the campaign's send window, in the contact's timezone (the
    campaign's when ``contact_tz`` is empty), at or after both ``moment`` and ``now``."""
    return next_window_opening(max(moment, now), spec.sending, contact_tz or spec.timezone)


def nominal_send(step: StepSpec, spec: CampaignSpec, contact_tz: str | None) -> datetime | None:
    """When ``step`` would leave for a contact in ``contact_tz`` if every step it follows had
    left when it was due: a dated step's due moment, a follow-up's that of the step it follows
    plus its days, each moved into the send window. ``None`` when a follow-up names a step
    ``spec`` does not have (campaign files refuse cycles, so the chain ends)."""
    previous_sent_at = None
    if isinstance(step.when, AfterWhen):
        try:
            previous = spec.step(step.when.after)
        except KeyError:
            return None
        previous_sent_at = nominal_send(previous, spec, contact_tz)
        if previous_sent_at is None:
            return None
    due = step_due(step, spec, previous_sent_at=previous_sent_at)
    if due is None:
        return None
    return next_window_opening(due, spec.sending, contact_tz or spec.timezone)


def is_missed(due: datetime, now: datetime, spec: CampaignSpec) -> bool:
    """A dated (milestone or fixed-date) letter more than ``lookahead_days`` (at least one)
    days overdue is missed, not sent late: its countdown would no longer be the point of it.
    (A daemon that was down for a day or two still catches up.)"""
    grace = max(spec.lookahead_days, 1)
    return local_date(due, spec.timezone) < local_date(now, spec.timezone) - timedelta(days=grace)


def past_step_note(step: StepSpec, spec: CampaignSpec, now: datetime) -> str | None:
    """Why the dated ``step`` will not be planned at ``now`` — it is missed (:func:`is_missed`:
    more than the lookahead overdue) — in one line naming the step, when it was due and how
    long ago; ``None`` when it is not past. Follow-ups are never past (they follow their step).
    ``campaign load`` warns with it, ``templates preview`` refuses with it, and ``plan`` counts
    the same letters as not queued."""
    if isinstance(step.when, AfterWhen):
        return None
    due = step_due(step, spec, previous_sent_at=None)
    if due is None or not is_missed(due, now, spec):
        return None
    local = due.astimezone(zone(spec.timezone))
    days = (local_date(now, spec.timezone) - local.date()).days
    grace = max(spec.lookahead_days, 1)
    return (
        f"{spec.slug}: step {step.key!r} was due {local:%Y-%m-%d %H:%M} ({spec.timezone}), "
        f"{days} days ago: it is past and will not be planned (more than {grace} days overdue)"
    )


def rescheduled(
    step: StepSpec,
    spec: CampaignSpec,
    *,
    scheduled_for: datetime,
    previous_sent_at: datetime | None,
    contact_tz: str | None,
    now: datetime,
) -> datetime:
    """Where a letter planned for ``scheduled_for`` goes after its campaign was reloaded: the
    step's (new) due moment moved into the send window, when that moment moved and is still
    ahead of ``now``; otherwise the planned time is kept."""
    due = step_due(step, spec, previous_sent_at=previous_sent_at)
    if due is None:
        return scheduled_for
    nominal = send_moment(due, now=now, spec=spec, contact_tz=contact_tz)
    if nominal != scheduled_for and due > now:
        return nominal
    return scheduled_for


@dataclass(frozen=True)
class PlanStep:
    """A step of the campaign in plan order, with its row id and, for a follow-up, the row id
    of the step it follows."""

    step: StepSpec
    step_id: int
    previous_step_id: int | None


def plan_steps(spec: CampaignSpec, step_ids: Mapping[str, int]) -> list[PlanStep]:
    """The steps of ``spec`` in plan order (a follow-up after the step it follows), with their
    row ids from ``step_ids`` (active steps by key)."""
    out = []
    for key in step_order(spec):
        step = spec.step(key)
        previous = step_ids[step.when.after] if isinstance(step.when, AfterWhen) else None
        out.append(PlanStep(step, step_ids[key], previous))
    return out


@dataclass(frozen=True)
class Known:
    """What is already known of a page of contacts: the messages planned for them, by (step
    id, contact id); their enrollment statuses, by contact id; the suppressed addresses."""

    messages: Mapping[tuple[int, int], PriorMessage]
    enrollments: Mapping[int, str]
    suppressed: Collection[str]


@dataclass(frozen=True)
class Candidate:
    """A letter to plan: ``step`` for ``contact``, to leave at ``scheduled_for``."""

    step: StepSpec
    step_id: int
    contact: Recipient
    scheduled_for: datetime


@dataclass(frozen=True)
class Selection:
    """The letters due for a page of contacts, and how many dated letters were missed."""

    candidates: list[Candidate]
    missed: int


def select_due(
    spec: CampaignSpec,
    steps: Sequence[PlanStep],
    contacts: Sequence[Recipient],
    known: Known,
    *,
    now: datetime,
) -> Selection:
    """The letters due for ``contacts`` at ``now``, step by step in plan order, each scheduled
    at the first moment of the send window (contact's timezone) at or after its due moment.
    A dated letter too late to send (:func:`is_missed`) is counted, not selected."""
    candidates: list[Candidate] = []
    missed = 0
    for plan_step in steps:
        for contact in contacts:
            due = _due(plan_step, contact, spec, known, now=now)
            if due is None:
                continue
            if plan_step.previous_step_id is None and is_missed(due, now, spec):
                missed += 1
                continue
            scheduled = send_moment(due, now=now, spec=spec, contact_tz=contact.timezone)
            candidates.append(Candidate(plan_step.step, plan_step.step_id, contact, scheduled))
    return Selection(candidates, missed)


def _due(
    plan_step: PlanStep, contact: Recipient, spec: CampaignSpec, known: Known, *, now: datetime
) -> datetime | None:
    """When ``plan_step`` falls due for ``contact``, if it is to be planned at ``now``: the
    contact is in the step's audience, has no message for it yet, is not suppressed, is
    enrolled and active (or not enrolled yet), has been sent the step a follow-up follows,
    and the due moment is within the campaign's lookahead. Else ``None``."""
    if not in_audience(contact.tags, spec, plan_step.step):
        return None
    if (plan_step.step_id, contact.id) in known.messages or contact.email in known.suppressed:
        return None
    enrollment = known.enrollments.get(contact.id)
    if enrollment is not None and enrollment != EnrollmentStatus.ACTIVE.value:
        return None
    previous_sent_at = None
    if plan_step.previous_step_id is not None:
        previous = known.messages.get((plan_step.previous_step_id, contact.id))
        if previous is None or previous.status != MessageStatus.SENT.value:
            return None
        if previous.sent_at is None:
            return None
        previous_sent_at = previous.sent_at
    due = step_due(plan_step.step, spec, previous_sent_at=previous_sent_at)
    if due is None or not within_lookahead(due, now, spec.lookahead_days, spec.timezone):
        return None
    return due
