"""Find the outbound letter an inbound message answers (or bounced from). Database reads only.

Order (first hit wins), each step only when the previous found nothing:

0. ``message_id``: the message's own Message-ID is one of our letters' — it *is* that letter,
   fed back (a Sent folder import, a BCC copy, a list echo);
1. ``in_reply_to`` / ``references``: an id in In-Reply-To, then References (most recent first),
   equal to an outbound ``message.message_id``;
2. ``dsn_message_id``: for a bounce, the original Message-ID quoted inside the DSN;
3. ``dsn_recipient``: for a bounce, its Final-/Original-Recipient equal to a contact's address
   (the contact's most recently sent letter, when there is one);
4. ``sender``: the From address equal to a contact's address who was sent a letter in the last
   :data:`SENDER_WINDOW` before ``now`` (the most recent such letter).

:class:`Matcher` answers a whole batch with a handful of ``IN`` queries
(:mod:`outreach.repository.inbound`); :func:`match` is the one-message convenience over it.
The keys come from :mod:`outreach.replies.lookup`. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from outreach.db import Session
from outreach.models import Message
from outreach.replies.classify import MatchKeys
from outreach.replies.lookup import MAX_IDS_PER_MESSAGE, Lookup, lookup_for, usable_param
from outreach.repository.inbound import (
    IN_CHUNK,
    contact_ids_by_email,
    letters_by_message_id,
    sent_letters_of_contacts,
)

__all__ = [
    "IN_CHUNK",
    "MAX_IDS_PER_MESSAGE",
    "NO_MATCH",
    "SENDER_WINDOW",
    "Lookup",
    "MatchMethod",
    "MatchResult",
    "Matcher",
    "lookup_for",
    "match",
    "match_many",
    "usable_param",
]

MatchMethod = Literal[
    "message_id", "in_reply_to", "references", "dsn_message_id", "dsn_recipient", "sender"
]

#: How far back a sender-address match looks for a letter we sent that contact.
SENDER_WINDOW = timedelta(days=180)


@dataclass(frozen=True)
class MatchResult:
    """The letter (if any) an inbound message belongs to, and how it was found.

    ``message`` is loaded without its heavy columns (raw, text, html). ``contact_id`` may be set
    without a ``message`` (a bounce for a known address we never sent to). ``method`` is
    ``None`` when nothing matched.
    """

    message: Message | None = None
    contact_id: int | None = None
    campaign_id: int | None = None
    method: MatchMethod | None = None

    @property
    def matched(self) -> bool:
        return self.method is not None


NO_MATCH = MatchResult()


class Matcher:
    """Match many lookups at once: every query is an ``IN`` over the whole batch.

    Build it with the batch's lookups (it preloads), then call :meth:`match` per lookup.
    """

    def __init__(self, session: Session, lookups: Sequence[Lookup], *, now: datetime) -> None:
        self.now = now
        self._by_id: dict[str, Message] = {}
        self._by_contact: dict[int, Message] = {}
        self._recent_by_contact: dict[int, Message] = {}
        self._contact_by_email: dict[str, int] = {}

        wanted_ids = sorted(
            {i for lk in lookups for i in lk.message_ids()}
            | {lk.own_message_id for lk in lookups if lk.own_message_id is not None}
        )
        for m in letters_by_message_id(session, message_ids=wanted_ids):
            self._by_id[m.message_id] = m
        addresses = self._addresses_to_look_up(lookups)
        if not addresses:
            return
        self._contact_by_email = contact_ids_by_email(session, emails=sorted(addresses))
        contact_ids = sorted(set(self._contact_by_email.values()))
        cutoff = now - SENDER_WINDOW
        for m in sent_letters_of_contacts(session, contact_ids=contact_ids, now=now):
            # oldest first: the last one per contact wins
            self._by_contact[m.contact_id] = m
            assert m.sent_at is not None
            if m.sent_at >= cutoff:
                self._recent_by_contact[m.contact_id] = m

    def _addresses_to_look_up(self, lookups: Sequence[Lookup]) -> set[str]:
        """Addresses only matter for lookups whose ids found nothing."""
        addresses: set[str] = set()
        for lk in lookups:
            if lk.own_message_id in self._by_id or any(i in self._by_id for i in lk.message_ids()):
                continue
            if lk.use_recipients:
                addresses.update(a for a in lk.keys.recipient_addresses if usable_param(a, 320))
            if usable_param(lk.keys.sender, 320):
                addresses.add(lk.keys.sender)  # type: ignore[arg-type]
        return addresses

    def match(self, lookup: Lookup) -> MatchResult:
        """The match for one lookup, in the documented order; :data:`NO_MATCH` when none."""
        if lookup.own_message_id in self._by_id:
            own = self._by_id[lookup.own_message_id]  # type: ignore[index]
            return MatchResult(own, own.contact_id, own.campaign_id, "message_id")
        for mid in lookup.message_ids():
            m = self._by_id.get(mid)
            if m is None:
                continue
            if mid in lookup.in_reply_to:
                method: MatchMethod = "in_reply_to"
            elif mid == lookup.dsn_message_id:
                method = "dsn_message_id"
            else:
                method = "references"
            return MatchResult(m, m.contact_id, m.campaign_id, method)
        if lookup.use_recipients:
            for address in lookup.keys.recipient_addresses:
                cid = self._contact_by_email.get(address)
                if cid is None:
                    continue
                m = self._by_contact.get(cid)
                return MatchResult(m, cid, m.campaign_id if m else None, "dsn_recipient")
        sender = lookup.keys.sender
        if sender:
            cid = self._contact_by_email.get(sender)
            m = self._recent_by_contact.get(cid) if cid is not None else None
            if m is not None:
                return MatchResult(m, cid, m.campaign_id, "sender")
        return NO_MATCH


def match(session: Session, keys: Lookup | MatchKeys, *, now: datetime) -> MatchResult:
    """Match one message (see the module docstring for the order).

    Given bare :class:`MatchKeys`, every id hit is reported as ``references`` unless it is the
    first id (``in_reply_to``), and recipients are used when there are any (they only come from
    a bounce).
    """
    if isinstance(keys, MatchKeys):
        keys = Lookup(
            keys=keys,
            in_reply_to=frozenset(keys.message_ids[:1]),
            use_recipients=bool(keys.recipient_addresses),
        )
    return Matcher(session, [keys], now=now).match(keys)


def match_many(session: Session, lookups: Sequence[Lookup], *, now: datetime) -> list[MatchResult]:
    """:func:`match` for a batch, with a few queries in all; results in input order."""
    matcher = Matcher(session, lookups, now=now)
    return [matcher.match(lk) for lk in lookups]
