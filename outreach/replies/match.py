"""Find the outbound letter an inbound message answers (or bounced from). Database reads only.

Order (first hit wins), each step only when the previous found nothing:

1. ``in_reply_to`` / ``references``: an id in In-Reply-To, then References (most recent first),
   equal to an outbound ``message.message_id``;
2. ``dsn_message_id``: for a bounce, the original Message-ID quoted inside the DSN;
3. ``dsn_recipient``: for a bounce, its Final-/Original-Recipient equal to a contact's address
   (the contact's most recently sent letter, when there is one);
4. ``sender``: the From address equal to a contact's address who was sent a letter in the last
   :data:`SENDER_WINDOW` before ``now`` (the most recent such letter).

:class:`Matcher` answers a whole batch with a handful of ``IN`` queries (ids and addresses are
chunked); :func:`match` is the one-message convenience over it. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import defer
from sqlmodel import Session, select

from outreach.models import Contact, Message
from outreach.replies.classify import MatchKeys, matching_keys
from outreach.replies.parse import ParsedInbound
from outreach.states import MessageStatus

MatchMethod = Literal["in_reply_to", "references", "dsn_message_id", "dsn_recipient", "sender"]

#: How far back a sender-address match looks for a letter we sent that contact.
SENDER_WINDOW = timedelta(days=180)
#: Most Message-IDs looked up per inbound message (In-Reply-To first, then References).
MAX_IDS_PER_MESSAGE = 30
#: Largest ``IN (...)`` list sent in one statement.
IN_CHUNK = 500

_HEAVY = (Message.raw, Message.text, Message.html, Message.render_context, Message.smtp_response)


@dataclass(frozen=True)
class Lookup:
    """What one inbound message can be matched by.

    ``keys`` as :func:`~outreach.replies.classify.matching_keys` builds them; ``in_reply_to``
    and ``dsn_message_id`` tell which of ``keys.message_ids`` came from where (the rest are
    References). ``use_recipients`` is true for bounces only.
    """

    keys: MatchKeys
    in_reply_to: frozenset[str] = frozenset()
    dsn_message_id: str | None = None
    use_recipients: bool = False


def lookup_for(p: ParsedInbound, *, is_bounce: bool = False) -> Lookup:
    """The :class:`Lookup` for a parsed message (``is_bounce``: it was classified a bounce)."""
    return Lookup(
        keys=matching_keys(p),
        in_reply_to=frozenset(p.in_reply_to),
        dsn_message_id=p.dsn.original_message_id if p.dsn is not None else None,
        use_recipients=is_bounce,
    )


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


def _chunks(items: Sequence[str], size: int = IN_CHUNK) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def usable_param(value: str | None, limit: int) -> bool:
    """Whether ``value`` can be a query parameter and match a stored id or address at all
    (PostgreSQL refuses NUL characters and lone surrogates in parameters)."""
    if not value or len(value) > limit or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _ids_of(lookup: Lookup) -> list[str]:
    ids = [i for i in lookup.keys.message_ids if usable_param(i, 255)][:MAX_IDS_PER_MESSAGE]
    dsn_id = lookup.dsn_message_id
    if dsn_id and usable_param(dsn_id, 255) and dsn_id not in ids:
        ids.append(dsn_id)
    return ids


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

        wanted_ids = sorted({i for lk in lookups for i in _ids_of(lk)})
        for chunk in _chunks(wanted_ids):
            for m in session.exec(
                select(Message).where(Message.message_id.in_(chunk)).options(*map(defer, _HEAVY))
            ):
                self._by_id[m.message_id] = m

        # addresses only matter for lookups whose ids found nothing
        addresses: set[str] = set()
        for lk in lookups:
            if any(i in self._by_id for i in _ids_of(lk)):
                continue
            if lk.use_recipients:
                addresses.update(a for a in lk.keys.recipient_addresses if usable_param(a, 320))
            if usable_param(lk.keys.sender, 320):
                addresses.add(lk.keys.sender)  # type: ignore[arg-type]
        if not addresses:
            return
        for chunk in _chunks(sorted(addresses)):
            for cid, email in session.exec(
                select(Contact.id, Contact.email).where(Contact.email.in_(chunk))
            ):
                assert cid is not None
                self._contact_by_email[email] = cid
        contact_ids = sorted(set(self._contact_by_email.values()))
        cutoff = now - SENDER_WINDOW
        for chunk in _chunks(contact_ids):  # type: ignore[arg-type]
            rows = session.exec(
                select(Message)
                .where(
                    Message.contact_id.in_(chunk),
                    Message.status == MessageStatus.SENT.value,
                    Message.sent_at.is_not(None),  # type: ignore[union-attr]
                    Message.sent_at <= now,  # type: ignore[operator]
                )
                .order_by(Message.sent_at, Message.id)  # type: ignore[arg-type]
                .options(*map(defer, _HEAVY))
            )
            for m in rows:  # ascending: the last one per contact wins
                self._by_contact[m.contact_id] = m
                assert m.sent_at is not None
                if m.sent_at >= cutoff:
                    self._recent_by_contact[m.contact_id] = m

    def match(self, lookup: Lookup) -> MatchResult:
        """The match for one lookup, in the documented order; :data:`NO_MATCH` when none."""
        for mid in _ids_of(lookup):
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
