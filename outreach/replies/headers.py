"""Header values of inbound mail as safe one-line strings: ids, addresses, dates. Pure.

Values are decoded here (8-bit bytes as UTF-8 or Latin-1, RFC 2047 words with unknown charsets
tolerated), never through the stdlib header registry, and control characters become spaces.
Address headers too long for the address parser are read with a bounded regex. Nothing here
raises on any input a parsed message can give it.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
from collections.abc import Mapping
from datetime import UTC, datetime
from email import headerregistry, policy
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import Any

from outreach.replies.charset import decode_bytes
from outreach.replies.limits import (
    MAX_ADDRESS_HEADER_BYTES,
    MAX_ADDRESSES,
    MAX_KEPT_CHARS,
    MAX_KEPT_VALUES,
    SNIFF_BYTES,
)

#: Headers kept in :attr:`~outreach.replies.parse.ParsedInbound.headers` (plus ``x-outreach-*``).
KEPT_HEADERS = frozenset(
    {
        "auto-submitted",
        "x-autoreply",
        "x-autorespond",
        "x-autoresponder",
        "precedence",
        "x-precedence",
        "x-auto-response-suppress",
        "x-ms-exchange-inbox-rules-loop",
        "x-ms-exchange-generated-message-source",
        "x-failed-recipients",
        "content-type",
        "return-path",
        "list-id",
        "list-unsubscribe",
        "x-loop",
        "delivered-to",
        "x-original-to",
        "feedback-type",
        "x-mailer",
        "user-agent",
    }
)
#: The recipient headers whose addresses make up ``to_addrs``, in order.
RECIPIENT_HEADERS = ("to", "cc", "delivered-to", "x-original-to")

_ID_RE = re.compile(r"<[^<>\s]{1,998}>")
#: One addr-spec, bounded (used where the address parser cannot or should not go).
ADDR_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253})")
#: A From value of the forms ``local@domain`` and ``Name Words <local@domain>`` with plain
#: characters only, which the address parser reads as the name and address as written.
_PLAIN_SENDER_RE = re.compile(
    r"(?:(?P<name>[A-Za-z0-9]+(?: [A-Za-z0-9]+)*) <)?"
    r"(?P<addr>[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
    r"(?(name)>|)",
    re.ASCII,
)
#: Any whitespace character (what ``str.isspace`` calls one).
_SPACE_RE = re.compile(r"\s")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
#: A line break that folds a header onto the next line.
_FOLD_RE = re.compile(r"\r?\n(?=[ \t])")
#: A byte the parser could not decode as ASCII (kept as a surrogate escape).
_SURROGATE_RE = re.compile("[\udc80-\udcff]")
#: The end of the header block.
HEADER_END_RE = re.compile(rb"\r?\n\r?\n")
_SNIFF_RE = re.compile(
    rb"(?im)^(message-id|in-reply-to|references|from|subject|date):[ \t]*"
    rb"([^\r\n]{0,4000}(?:\r?\n[ \t][^\r\n]{0,4000}){0,20})"
)


class _CachingHeaderRegistry(headerregistry.HeaderRegistry):
    """The default registry, remembering short parsed headers.

    ``policy.default`` re-parses a header on every access, and the parser reads a part's
    Content-Type a dozen times; parsed header objects are immutable, so sharing them is safe.
    """

    _MAX_ENTRIES = 1024
    _MAX_VALUE = 1024

    def __init__(self) -> None:
        super().__init__()
        self._cache: dict[tuple[str, str], object] = {}

    def __call__(self, name: str, value: str):  # type: ignore[override]
        if len(value) > self._MAX_VALUE:
            return super().__call__(name, value)
        key = (name, value)
        hit = self._cache.get(key)
        if hit is None:
            hit = super().__call__(name, value)
            if len(self._cache) >= self._MAX_ENTRIES:
                self._cache.clear()
            self._cache[key] = hit
        return hit


#: ``policy.default`` with a caching header factory (same parsing, same results).
POLICY = policy.default.clone(header_factory=_CachingHeaderRegistry())


# --- values ------------------------------------------------------------------------------------


def raw_headers(msg: Message) -> dict[str, list[str]]:
    """Every header of ``msg`` by lower-cased name, decoded by :func:`decode_value`."""
    out: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        out.setdefault(str(name).strip().lower(), []).append(decode_value(value))
    return out


def decode_value(value: object) -> str:
    """One header value as a single safe line: 8-bit bytes and RFC 2047 words decoded."""
    if not isinstance(value, str):
        value = str(value)
    raw = value.encode("ascii", "surrogateescape") if _has_surrogates(value) else None
    if raw is not None:
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            value = raw.decode("latin-1")
    if "\n" in value:
        value = _FOLD_RE.sub("", value)
    if "=?" in value:
        value = _decode_words(value)
    return one_line(value).strip()


def _has_surrogates(value: str) -> bool:
    return _SURROGATE_RE.search(value) is not None


def _decode_words(value: str) -> str:
    try:
        parts = decode_header(value)
    except Exception:
        return value
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
        else:
            out.append(decode_bytes(chunk, charset))
    # decode_header drops the whitespace between an encoded word and plain text; put it back
    return "".join(
        piece if i == 0 or piece[:1].isspace() or out[i - 1][-1:].isspace() else " " + piece
        for i, piece in enumerate(out)
    )


def one_line(value: str) -> str:
    """``value`` with every run of control characters (line breaks included) made one space."""
    return _CONTROL_RE.sub(" ", value)


def kept_headers(
    headers: Mapping[str, list[str]], names: frozenset[str] | tuple[str, ...] = KEPT_HEADERS
) -> Mapping[str, tuple[str, ...]]:
    """A read-only map of the headers in ``names`` (and every ``x-outreach-*``), each capped at
    :data:`~outreach.replies.limits.MAX_KEPT_VALUES` values of
    :data:`~outreach.replies.limits.MAX_KEPT_CHARS` characters."""
    kept = {
        name: tuple(v[:MAX_KEPT_CHARS] for v in values[:MAX_KEPT_VALUES])
        for name, values in headers.items()
        if name in names or name.startswith("x-outreach-")
    }
    return types.MappingProxyType(kept)


def reduce_with_headers(obj: Any, mappings: tuple[str, ...]) -> tuple[Any, ...]:
    """``__reduce__`` for a frozen dataclass holding read-only header maps (the fields named
    ``mappings``), which pickle cannot copy as they are: so a message prepared in a worker
    process can be sent back."""
    values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    for name in mappings:
        values[name] = dict(values[name])
    return (_rebuild_with_headers, (type(obj), values, mappings))


def _rebuild_with_headers(cls: type, values: dict[str, Any], mappings: tuple[str, ...]) -> Any:
    for name in mappings:
        values[name] = types.MappingProxyType(values[name])
    return cls(**values)


# --- ids, addresses, dates -----------------------------------------------------------------------


def message_id(value: str | None) -> str | None:
    """The Message-ID in ``value``, in angle brackets; ``None`` when there is none."""
    if not value:
        return None
    m = _ID_RE.search(value)
    if m:
        return m.group(0)
    value = value.strip()
    if value and " " not in value and len(value) <= 998:
        return f"<{value.strip('<>')}>"
    return None


def message_ids(value: str, *, keep_last: bool = False, limit: int = 200) -> tuple[str, ...]:
    """The distinct ``<ids>`` in ``value`` in order: the first ``limit`` (the last with
    ``keep_last``)."""
    ids: list[str] = []
    seen: set[str] = set()
    for m in _ID_RE.finditer(value):
        if m.group(0) not in seen:
            seen.add(m.group(0))
            ids.append(m.group(0))
    return tuple(ids[-limit:] if keep_last else ids[:limit])


def clean_address(addr: str) -> str | None:
    """A lowercase addr-spec from ``addr`` (brackets, spaces and junk around it removed)."""
    addr = addr.strip().strip("<>").strip().lower()
    if "@" not in addr or _SPACE_RE.search(addr) or len(addr) > 320:
        m = ADDR_RE.search(addr)
        return m.group(0).lower() if m else None
    return addr


def name_and_address(value: str) -> tuple[str, str]:
    """``parseaddr(value)``; the plain forms (:data:`_PLAIN_SENDER_RE`) read directly."""
    m = _PLAIN_SENDER_RE.fullmatch(value)
    if m is not None:
        return m.group("name") or "", m.group("addr")
    return parseaddr(value)


def sender(value: str | None, big: tuple[str, ...] | None) -> tuple[str | None, str | None]:
    """``(address, display name)`` of a From value; ``big`` holds the addresses already read by
    regex from a From header too long for the address parser."""
    if big:
        return big[0], None
    if not value:
        return None, None
    name, addr = name_and_address(value[:MAX_ADDRESS_HEADER_BYTES])
    clean = clean_address(addr) if addr else None
    if clean is None:
        m = ADDR_RE.search(value)
        clean = m.group(0).lower() if m else None
    return clean, (name.strip() or None)


def recipients(
    top: Mapping[str, list[str]], big_addresses: Mapping[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """The distinct addresses of :data:`RECIPIENT_HEADERS`, at most
    :data:`~outreach.replies.limits.MAX_ADDRESSES`."""
    found: list[str] = []
    for name in RECIPIENT_HEADERS:
        found.extend(big_addresses.get(name, ()))
        for value in top.get(name, ()):
            if len(value) > MAX_ADDRESS_HEADER_BYTES:
                found.extend(m.group(0).lower() for m in ADDR_RE.finditer(value))
                continue
            try:
                pairs = _address_pairs(value)
            except Exception:
                pairs = tuple(("", m.group(0)) for m in ADDR_RE.finditer(value))
            for _, addr in pairs:
                clean = clean_address(addr) if addr else None
                if clean:
                    found.append(clean)
    return tuple(dict.fromkeys(found))[:MAX_ADDRESSES]


@functools.lru_cache(maxsize=1024)
def _address_pairs(value: str) -> tuple[tuple[str, str], ...]:
    """``getaddresses([value])``, remembered: replies to one campaign all name the same few
    recipients (our own sender address)."""
    return tuple(getaddresses([value]))


def header_date(value: str | None) -> datetime | None:
    """A Date header as aware UTC; ``None`` when absent or unreadable."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value[:200])
    except Exception:
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


# --- sniffing --------------------------------------------------------------------------------------


def sniff_headers(data: bytes) -> dict[str, list[str]]:
    """Message-ID, In-Reply-To, References, From, Subject and Date read by a bounded regex from
    the first :data:`~outreach.replies.limits.SNIFF_BYTES` of the header block. Best effort:
    never raises, empty when nothing could be read."""
    found: dict[str, list[str]] = {}
    try:
        head = data[:SNIFF_BYTES]
        end = HEADER_END_RE.search(head)
        if end:
            head = head[: end.start()]
        for m in _SNIFF_RE.finditer(head):
            found.setdefault(m.group(1).decode("ascii").lower(), []).append(
                decode_value(m.group(2).decode("ascii", "surrogateescape"))
            )
    except Exception:  # sniffing is best effort
        found = {}
    return found
