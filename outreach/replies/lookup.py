"""What an inbound message can be matched to a letter by: :class:`Lookup`. Pure.

The matching itself reads the database (:mod:`outreach.replies.match`); this module only
decides the keys, so preparing a message needs no database.
"""

from __future__ import annotations

from dataclasses import dataclass

from outreach.replies.classify import MatchKeys, matching_keys
from outreach.replies.parse import ParsedInbound
from outreach.states import Classification

#: Classifications that are bounces: matched by the recipients their DSN names, too.
BOUNCE_KINDS = frozenset(
    {Classification.BOUNCE_HARD, Classification.BOUNCE_SOFT, Classification.REJECTED}
)
#: Most Message-IDs looked up per inbound message (In-Reply-To first, then References).
MAX_IDS_PER_MESSAGE = 30


@dataclass(frozen=True)
class Lookup:
    """What one inbound message can be matched by.

    ``keys`` as :func:`~outreach.replies.classify.matching_keys` builds them; ``in_reply_to``
    and ``dsn_message_id`` tell which of ``keys.message_ids`` came from where (the rest are
    References). ``use_recipients`` is true for bounces (and complaint reports) only.
    ``own_message_id`` is the message's own Message-ID: when it is one of our letters', the
    message *is* that letter, fed back (a Sent folder, a BCC copy, a list echo).
    """

    keys: MatchKeys
    in_reply_to: frozenset[str] = frozenset()
    dsn_message_id: str | None = None
    use_recipients: bool = False
    own_message_id: str | None = None

    def message_ids(self) -> list[str]:
        """The ids to look up, in priority order: at most :data:`MAX_IDS_PER_MESSAGE` usable
        ids from the headers, then the DSN's original Message-ID."""
        ids = [i for i in self.keys.message_ids if usable_param(i, 255)][:MAX_IDS_PER_MESSAGE]
        dsn_id = self.dsn_message_id
        if dsn_id and usable_param(dsn_id, 255) and dsn_id not in ids:
            ids.append(dsn_id)
        return ids


#: A lookup that can match nothing (when building the keys failed).
EMPTY_LOOKUP = Lookup(keys=MatchKeys((), (), None))


def lookup_for(p: ParsedInbound, *, is_bounce: bool = False) -> Lookup:
    """The :class:`Lookup` for a parsed message (``is_bounce``: it was classified a bounce,
    or a report naming the recipient it concerns)."""
    own = p.message_id if usable_param(p.message_id, 255) else None
    return Lookup(
        keys=matching_keys(p),
        in_reply_to=frozenset(p.in_reply_to),
        dsn_message_id=p.dsn.original_message_id if p.dsn is not None else None,
        use_recipients=is_bounce,
        own_message_id=own,
    )


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
