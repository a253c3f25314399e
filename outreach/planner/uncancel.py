"""Whether a letter a reply's effect cancelled may be planned again, and for when. Pure.

When an operator corrects a reply's class (``outreach replies reclassify``), the letters that
reply's old class cancelled are looked at again, one by one, by :func:`uncancel` — with what
is true *now*, after the old class's effects were undone and the new class's applied:

* a letter that may have left stays cancelled (it must have been cancelled before any SMTP
  traffic: from ``pending_review``, ``render_error``, ``approved`` or ``retrying``) — never
  twice;
* a letter whose step was removed from the campaign, whose contact is no longer in the step's
  audience, whose address is suppressed (another suppression in force: an operator's, another
  bounce's or unsubscribe's, or the new class's own) or whose enrollment in that campaign is
  not ``active`` (a human reply, a bounce…) stays cancelled, and the reason is said;
* a dated letter (a milestone or a fixed date) more than the lookahead overdue stays cancelled,
  as the planner would not plan it either (:func:`~outreach.planner.selection.is_missed`);
  a follow-up follows its step, as in planning;
* any other is planned again for the first moment of the send window at or after both its due
  moment and ``now``, and goes back to review (its earlier approvals do not count).

A letter kept cancelled by another reply's effect still in force (its suppression, the
enrollment it moved) is that reply's now (:attr:`Uncancel.held_by`): correcting that reply in
turn looks at the letter again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from outreach.countdown import step_due
from outreach.planner.selection import in_audience, is_missed, send_moment
from outreach.spec import AfterWhen, CampaignSpec, StepSpec
from outreach.states import UNSENT, EnrollmentStatus

#: The states a letter may have been cancelled from and still be planned again: it never left.
NEVER_LEFT = frozenset(state.value for state in UNSENT)


@dataclass(frozen=True)
class CancelledLetter:
    """A cancelled letter as :func:`uncancel` reads it, with what is true of its contact now.

    ``cancelled_from``: the state its cancellation moved it from; ``sent``: whether it has a
    send time; ``step``: its step in the campaign as loaded now (``None`` when the step was
    removed); ``enrollment``: the contact's enrollment status in that campaign (``None`` when
    not enrolled); ``suppressed``: why the address is suppressed, ``None`` when it is not;
    ``suppressed_by`` and ``enrollment_by``: the replies whose effects put the suppression in
    place and moved the enrollment last (``None``: no reply's, or not known).
    """

    message_id: int
    cancelled_from: str | None
    sent: bool
    scheduled_for: datetime
    step: StepSpec | None
    contact_tags: Sequence[str]
    contact_tz: str | None
    enrollment: str | None
    suppressed: str | None
    suppressed_by: int | None = None
    enrollment_by: int | None = None


@dataclass(frozen=True)
class Uncancel:
    """The verdict on one letter: planned again to leave at ``replan_at``, or, when that is
    ``None``, left cancelled for ``reason`` — held by the reply ``held_by`` when another
    reply's effect is what stops it."""

    message_id: int
    replan_at: datetime | None
    reason: str = ""
    held_by: int | None = None

    @property
    def replanned(self) -> bool:
        """Whether the letter is planned again."""
        return self.replan_at is not None


def uncancel(letter: CancelledLetter, spec: CampaignSpec, *, now: datetime) -> Uncancel:
    """Whether ``letter`` (of the campaign ``spec``) is planned again at ``now``, and for when
    (see the module docstring)."""
    why = _kept_because(letter, spec, now=now)
    if why is not None:
        return Uncancel(letter.message_id, None, why, _held_by(letter))
    assert letter.step is not None
    due = _due(letter, letter.step, spec)
    return Uncancel(
        letter.message_id, send_moment(due, now=now, spec=spec, contact_tz=letter.contact_tz)
    )


def _kept_because(letter: CancelledLetter, spec: CampaignSpec, *, now: datetime) -> str | None:
    """Why ``letter`` stays cancelled, or ``None``."""
    if letter.sent or letter.cancelled_from not in NEVER_LEFT:
        return f"it may have left (cancelled from {letter.cancelled_from or 'an unknown state'})"
    step = letter.step
    if step is None:
        return "its step is no longer in the campaign"
    if letter.suppressed is not None:
        return f"the address is suppressed ({letter.suppressed})"
    if _stopped(letter):
        by = f" (reply #{letter.enrollment_by})" if letter.enrollment_by is not None else ""
        return f"the contact's enrollment is {letter.enrollment}{by}"
    if not in_audience(letter.contact_tags, spec, step):
        return "the contact is no longer in the step's audience"
    due = _due(letter, step, spec)
    if not isinstance(step.when, AfterWhen) and is_missed(due, now, spec):
        return (
            f"its date has passed (due {due:%Y-%m-%d %H:%M} UTC, more than "
            f"{max(spec.lookahead_days, 1)} days ago)"
        )
    return None


def _stopped(letter: CancelledLetter) -> bool:
    """Whether the contact's enrollment in the letter's campaign stops it."""
    return letter.enrollment is not None and letter.enrollment != EnrollmentStatus.ACTIVE.value


def _held_by(letter: CancelledLetter) -> int | None:
    """The reply whose effect keeps ``letter`` cancelled: the suppression's, else the
    enrollment's — only when that is why it stays (not for a removed step or a past date)."""
    if letter.sent or letter.cancelled_from not in NEVER_LEFT or letter.step is None:
        return None
    if letter.suppressed is not None:
        return letter.suppressed_by
    if _stopped(letter):
        return letter.enrollment_by
    return None


def _due(letter: CancelledLetter, step: StepSpec, spec: CampaignSpec) -> datetime:
    """When the letter falls due: a dated step's moment in the campaign as loaded now (a
    reload may have moved it), a follow-up's planned time (it followed a letter sent)."""
    if isinstance(step.when, AfterWhen):
        return letter.scheduled_for
    return step_due(step, spec, previous_sent_at=None) or letter.scheduled_for
