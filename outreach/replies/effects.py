"""What stored replies do to enrollments, unsent mail and the suppression list. Pure.

DESIGN.md rule 4 as a table (:data:`RULES`), for a reply matched to a contact:

============  ==========================================================================
human         enrollment ``replied``; that campaign's unsent mail to the contact cancelled
auto_reply    nothing
bounce_hard   address suppressed; enrollments ``bounced``; all unsent mail to it cancelled —
              only on conclusive evidence (an inconclusive one changes nothing)
bounce_soft   nothing; the third soft bounce in a row for a contact counts as hard
rejected      nothing (a policy, content or sender refusal): no suppression
unsubscribe   address suppressed; enrollments ``unsubscribed``; unsent mail cancelled
oversize /    nothing (stored raw)
unparseable /
own_outbound
============  ==========================================================================

A hard bounce or unsubscribe request that matched no contact still suppresses the address it
names (the bounced recipient, the complainer of a spam report, or the sender of the request).
An effect only moves an enrollment to a stronger outcome (:data:`STRENGTH`), so replies in any
order end the same.

:func:`decide_effects` reads a batch of :class:`ReplyOutcome` into :class:`Effects`;
:func:`enrollment_moves` and :func:`cancellations` turn those into concrete changes given the
contacts' enrollments and unsent mail; :func:`promote_soft_bounces` counts soft bounces.
:mod:`outreach.replies.apply_effects` loads the rows and carries the changes out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from outreach.replies.evidence import Evidence
from outreach.replies.lookup import usable_param
from outreach.replies.result import ClassificationResult
from outreach.states import Classification, EnrollmentStatus, MessageStatus

#: Enrollment outcomes by strength: an effect only moves an enrollment to a stronger one.
STRENGTH = {
    EnrollmentStatus.ACTIVE: 0,
    EnrollmentStatus.COMPLETED: 0,
    EnrollmentStatus.REPLIED: 1,
    EnrollmentStatus.BOUNCED: 2,
    EnrollmentStatus.UNSUBSCRIBED: 3,
}
#: This many soft bounces in a row for one contact count as a hard bounce.
SOFT_BOUNCES_FOR_HARD = 3
#: Classes that are not mail from the contact: they neither count in nor break a series of
#: soft bounces.
NOT_FROM_CONTACT = frozenset({Classification.OWN_OUTBOUND.value})


@dataclass(frozen=True)
class Rule:
    """What one classification does to the contact a reply matched.

    ``enrollment``: the outcome it sets; ``reason``: the reason on events and cancellations;
    ``whole_contact``: every campaign of the contact (else only the matched campaign, and only
    when there is one); ``suppress``: the address is put on the suppression list.
    """

    enrollment: EnrollmentStatus
    reason: str
    whole_contact: bool
    suppress: bool


#: Rule 4; a classification not listed changes nothing.
RULES: Mapping[Classification, Rule] = {
    Classification.HUMAN: Rule(
        EnrollmentStatus.REPLIED, "replied", whole_contact=False, suppress=False
    ),
    Classification.BOUNCE_HARD: Rule(
        EnrollmentStatus.BOUNCED, "bounced", whole_contact=True, suppress=True
    ),
    Classification.UNSUBSCRIBE: Rule(
        EnrollmentStatus.UNSUBSCRIBED, "unsubscribed", whole_contact=True, suppress=True
    ),
}


@dataclass(frozen=True)
class ReplyOutcome:
    """One stored reply as the table reads it: its row id, classification and match."""

    inbound_id: int
    result: ClassificationResult
    contact_id: int | None
    campaign_id: int | None
    from_addr: str | None

    def named_address(self) -> str | None:
        """The address a reply that matched no contact asks to suppress: the recipient a hard
        bounce names, the complainer a spam report names, or the sender of an unsubscribe
        request."""
        if self.result.kind == Classification.BOUNCE_HARD:
            return self.result.bounced_address
        return self.result.bounced_address or self.from_addr


@dataclass(frozen=True)
class EnrollmentTarget:
    """The outcome wanted for a contact's enrollment(s), and the reply that wants it."""

    status: EnrollmentStatus
    inbound_id: int
    reason: str


@dataclass(frozen=True)
class Cancellation:
    """Cancel the contact's unsent mail: in ``campaign_id`` only, or in every campaign."""

    contact_id: int
    campaign_id: int | None
    reason: str


@dataclass(frozen=True)
class SuppressionRequest:
    """Suppress a contact's address (``contact_id``) or an address named by a reply; the
    reply's row id is ``inbound_id`` (what a reclassification lifts)."""

    contact_id: int | None
    address: str | None
    reason: str
    detail: str
    inbound_id: int | None = None


@dataclass(frozen=True)
class Effects:
    """What a batch of replies does, before looking at any row.

    ``enrollments``: the strongest target per ``(contact, campaign or None for all)``;
    ``cancellations`` in reply order; ``suppressions``: the first request per contact or
    address, in reply order.
    """

    enrollments: Mapping[tuple[int, int | None], EnrollmentTarget]
    cancellations: tuple[Cancellation, ...]
    suppressions: tuple[SuppressionRequest, ...]

    def __bool__(self) -> bool:
        return bool(self.enrollments or self.cancellations or self.suppressions)

    def contact_ids(self) -> list[int]:
        """Every contact whose enrollments or mail may change, sorted."""
        wanted = {cid for cid, _ in self.enrollments}
        wanted.update(c.contact_id for c in self.cancellations)
        return sorted(wanted)


def rule_for(result: ClassificationResult) -> Rule | None:
    """The :data:`RULES` entry ``result`` triggers: none for an inconclusive hard bounce
    (automatic suppression needs conclusive evidence), nor for classes without effects."""
    if result.kind == Classification.BOUNCE_HARD and not result.conclusive:
        return None
    return RULES.get(result.kind)


def decide_effects(replies: Iterable[ReplyOutcome]) -> Effects:
    """The effects of ``replies`` by :data:`RULES` (see the module docstring)."""
    enrollments: dict[tuple[int, int | None], EnrollmentTarget] = {}
    cancels: list[Cancellation] = []
    suppressions: dict[int | str, SuppressionRequest] = {}
    for reply in replies:
        rule = rule_for(reply.result)
        if rule is None:
            continue
        kind = reply.result.kind.value
        detail = f"inbound {reply.inbound_id}: {reply.result.reason}"
        cid = reply.contact_id
        campaign = None if rule.whole_contact else reply.campaign_id
        if cid is not None and (rule.whole_contact or campaign is not None):
            target = EnrollmentTarget(rule.enrollment, reply.inbound_id, rule.reason)
            old = enrollments.get((cid, campaign))
            if old is None or STRENGTH[target.status] > STRENGTH[old.status]:
                enrollments[(cid, campaign)] = target
            cancels.append(Cancellation(cid, campaign, rule.reason))
            if rule.suppress:
                request = SuppressionRequest(cid, None, kind, detail, reply.inbound_id)
                suppressions.setdefault(cid, request)
        elif rule.suppress:
            address = reply.named_address()
            if address and usable_param(address, 320):
                request = SuppressionRequest(None, address, kind, detail, reply.inbound_id)
                suppressions.setdefault(address, request)
    return Effects(enrollments, tuple(cancels), tuple(suppressions.values()))


class EnrollmentFacts(Protocol):
    """What :func:`enrollment_moves` reads of an enrollment row."""

    id: int | None
    contact_id: int
    campaign_id: int
    status: str


class UnsentFacts(Protocol):
    """What :func:`cancellations` reads of an unsent message row."""

    id: int
    status: str
    contact_id: int
    campaign_id: int


def enrollment_moves(
    wanted: Mapping[tuple[int, int | None], EnrollmentTarget],
    enrollments: Iterable[EnrollmentFacts],
) -> dict[int, EnrollmentTarget]:
    """``{enrollment id: target}`` for every enrollment a wanted outcome makes stronger (the
    strongest wins; a tie keeps the first). ``enrollments`` are the contacts' rows."""
    of_contact: dict[int, list[EnrollmentFacts]] = {}
    for enr in enrollments:
        of_contact.setdefault(enr.contact_id, []).append(enr)
    moves: dict[int, EnrollmentTarget] = {}
    for (cid, campaign_id), target in wanted.items():
        for enr in of_contact.get(cid, ()):
            if campaign_id is not None and enr.campaign_id != campaign_id:
                continue
            assert enr.id is not None
            best = moves[enr.id].status if enr.id in moves else EnrollmentStatus(enr.status)
            if STRENGTH[target.status] > STRENGTH[best]:
                moves[enr.id] = target
    return moves


@dataclass(frozen=True)
class CancelGroup:
    """Messages cancelled together: same reason, same current status."""

    reason: str
    current: MessageStatus
    message_ids: tuple[int, ...]


def cancellations(
    wanted: Iterable[Cancellation], unsent: Iterable[UnsentFacts]
) -> list[CancelGroup]:
    """The unsent messages ``wanted`` cancels, each once (the first cancellation's reason),
    grouped by reason and current status."""
    of_contact: dict[int, list[UnsentFacts]] = {}
    for letter in unsent:
        of_contact.setdefault(letter.contact_id, []).append(letter)
    groups: dict[tuple[str, str], list[int]] = {}
    taken: set[int] = set()
    for cancel in wanted:
        for letter in of_contact.get(cancel.contact_id, ()):
            if cancel.campaign_id is not None and letter.campaign_id != cancel.campaign_id:
                continue
            if letter.id in taken:
                continue
            taken.add(letter.id)
            groups.setdefault((cancel.reason, letter.status), []).append(letter.id)
    return [
        CancelGroup(reason, MessageStatus(status), tuple(ids))
        for (reason, status), ids in groups.items()
    ]


def soft_bounce_contacts(
    results: Sequence[ClassificationResult], contact_ids: Sequence[int | None]
) -> set[int]:
    """The contacts with a soft bounce among ``results`` (whose history
    :func:`promote_soft_bounces` needs)."""
    return {
        cid
        for result, cid in zip(results, contact_ids, strict=True)
        if result.kind == Classification.BOUNCE_SOFT and cid is not None
    }


def promote_soft_bounces(
    results: Sequence[ClassificationResult],
    contact_ids: Sequence[int | None],
    history: Mapping[int, Sequence[str]],
) -> list[ClassificationResult]:
    """``results`` with a soft bounce turned hard when the contact's previous
    ``SOFT_BOUNCES_FOR_HARD - 1`` inbound messages were soft bounces too: those in ``history``
    (per contact, stored classifications oldest first) followed by those earlier in ``results``.
    Contacts not in ``history`` are left alone."""
    previous = SOFT_BOUNCES_FOR_HARD - 1
    seen = {cid: [k for k in kinds if k not in NOT_FROM_CONTACT] for cid, kinds in history.items()}
    out = list(results)
    for i, (result, cid) in enumerate(zip(results, contact_ids, strict=True)):
        if cid is None or cid not in seen or result.kind.value in NOT_FROM_CONTACT:
            continue
        kind = result.kind
        if (
            kind == Classification.BOUNCE_SOFT
            and seen[cid][-previous:] == [Classification.BOUNCE_SOFT.value] * previous
        ):
            out[i] = _series_bounce(result)
        seen[cid].append(kind.value)
    return out


def _series_bounce(result: ClassificationResult) -> ClassificationResult:
    """``result`` (a soft bounce) as the hard bounce a series of them counts as."""
    why = f"third soft bounce in a row; {result.reason}"[:2000]
    evidence = Evidence(
        decided_by="soft bounce series",
        line=f"{SOFT_BOUNCES_FOR_HARD} soft bounces in a row; last: {result.evidence.line}"[:300],
        stage=result.evidence.stage,
        status_from=result.evidence.status_from,
    )
    return ClassificationResult(
        Classification.BOUNCE_HARD, why, result.bounce_status, result.bounced_address, evidence
    )
