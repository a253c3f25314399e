"""Parse one inbound message into a :class:`ParsedInbound` without ever raising.

Pure: no database, no clock, no I/O. Hostile input is the normal case here (bounces from broken
MTAs, spam, mutated test input), so :func:`parse_inbound` guards the stdlib ``email`` package:

- size is capped before parsing: a message over ``max_bytes`` is only sniffed for a few headers
  and comes back with ``oversize=True``;
- MIME nesting is capped before parsing (the stdlib parser recurses and raises RecursionError at
  a few thousand levels): past :data:`MAX_CONTAINERS` multipart/message containers only the
  headers are parsed;
- huge headers are cut before parsing (the stdlib structured-header parser is superlinear):
  any top-level header over :data:`MAX_HEADER_BYTES`; any Content-Type/Content-Disposition
  header anywhere that is not plainly simple is rebuilt from its known parameters, and more
  than :data:`MAX_CONTENT_TYPES` parts leave the body unparsed; address headers over :data:`MAX_ADDRESS_HEADER_BYTES` are
  read with a bounded regex instead of the address parser;
- header values are decoded by this module (8-bit bytes as UTF-8 or Latin-1, RFC 2047 words with
  unknown charsets tolerated), never through the header registry, and control characters are
  replaced by spaces, so every value is one safe line;
- bodies are decoded with the declared charset when it exists and fits, else UTF-8, else
  Latin-1, always with a size cap.

Whatever happens, the raw bytes are kept in the result; a message that cannot be parsed at all
has ``error`` set.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import headerregistry, policy
from email.header import decode_header
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from outreach.htmltext import html_to_text

#: Default size cap (``OUTREACH_INBOUND_MAX_BYTES``): 25 MB.
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
#: How much of an oversize message is sniffed for headers.
SNIFF_BYTES = 64 * 1024
#: Multipart and message/* containers allowed before the body is left unparsed.
MAX_CONTAINERS = 64
#: Longest top-level logical header handed to the parser; longer ones are cut.
MAX_HEADER_BYTES = 64 * 1024
#: Longest Content-* header (anywhere in the message) handed to the parser.
MAX_CONTENT_HEADER_BYTES = 2048
#: Address headers longer than this are read with a regex, not the address parser.
MAX_ADDRESS_HEADER_BYTES = 8 * 1024
#: Most addresses kept from one address header.
MAX_ADDRESSES = 1000
#: Most top-level header lines handed to the parser.
MAX_HEADER_LINES = 5000
#: Most body bytes decoded into ``text``, and most characters kept.
MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_TEXT_CHARS = 100_000
#: Most parts looked at when walking the MIME tree.
MAX_PARTS = 500

#: Headers kept in :attr:`ParsedInbound.headers` (plus every ``x-outreach-*``).
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
_MAX_KEPT_VALUES = 10
_MAX_KEPT_CHARS = 2000

_ID_RE = re.compile(r"<[^<>\s]{1,998}>")
_ADDR_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253})")
_ADDR_RE_B = re.compile(
    rb"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253})"
)
_STATUS_RE = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_CONTAINER_RE = re.compile(rb"(?im)^content-type:[ \t]*(?:\r?\n[ \t]+)?(?:multipart|message)/")
_CONTENT_HEADER_RE = re.compile(
    rb"(?im)^(content-(?:type|disposition))[ \t]*:([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)"
)
_MAX_SIMPLE_PARAMS = 6
_SIMPLE_CONTENT_RE = re.compile(
    rb"[ \t]*[\w.+-]{1,80}(?:/[\w.+-]{1,80})?"
    rb'(?:[ \t]*;[ \t]*[\w*.-]{1,40}[ \t]*=[ \t]*(?:"[^"\\\r\n()]{0,300}"|[\w.+/=:?@,-]{1,300})){0,6}'
    rb"[ \t]*;?[ \t]*"
)
_MEDIA_RE = re.compile(rb"[ \t]*([\w.+-]{1,80}(?:/[\w.+-]{1,80})?)")
_KNOWN_PARAM_RE = re.compile(
    rb"(?i)(?<![\w*-])(boundary|charset|report-type|format|delsp|type|differences|name|filename)"
    rb'[ \t]*(=)[ \t]*(?:"([^"\r\n]{0,300})"|([^;\s"()]{1,300}))'
)
#: More Content-Type lines than this and only the headers are parsed (a part-count cap).
MAX_CONTENT_TYPES = 500
_ANY_CONTENT_TYPE_RE = re.compile(rb"(?im)^content-type:")
_HEADER_END_RE = re.compile(rb"\r?\n\r?\n")
_SNIFF_RE = re.compile(
    rb"(?im)^(message-id|in-reply-to|references|from|subject|date):[ \t]*"
    rb"([^\r\n]{0,4000}(?:\r?\n[ \t][^\r\n]{0,4000}){0,20})"
)

_ADDRESS_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "reply-to", "sender", "resent-to", "resent-cc", "resent-from"}
)
_RECIPIENT_HEADERS = ("to", "cc", "delivered-to", "x-original-to")

#: Localparts of the senders that send bounces.
BOUNCE_LOCALPARTS = frozenset({"mailer-daemon", "mailer_daemon", "maildaemon", "postmaster"})
#: Subjects (at the start) that bounces wear when they carry no DSN part.
BOUNCE_SUBJECT_RE = re.compile(
    r"^\s*(?:undeliver(?:ed|able)\b|undelivered mail returned to sender|"
    r"mail delivery (?:failed|failure|subsystem|system)|delivery (?:status notification|failure|delayed|"
    r"has failed|notification)|returned mail\b|failure notice|non remis|non-remis|"
    r"unzustellbar|nicht zustellbar|no se puede entregar|mensaje no entregado|"
    r"delayed mail|warning: could not send|message not delivered|"
    r"notificaci[oó]n de estado de entrega|notification d.[ée]tat de remise)",
    re.IGNORECASE,
)
#: Markers in the text of bounces without a DSN part (qmail, Exim, old Exchange).
BOUNCE_TEXT_RE = re.compile(
    r"(?:hi\. this is the qmail-send program|"
    r"this message was created automatically by mail delivery software|"
    r"your message did not reach some or all of the intended recipients|"
    r"delivery has failed to these recipients or (?:groups|distribution lists)|"
    r"i'm sorry to have to inform you that your message could not|"
    r"the following addresses had permanent fatal errors|"
    r"delivery to the following recipients? failed)",
    re.IGNORECASE,
)
_INLINE_COPY_RE = re.compile(
    r"(?im)^(?:--- below this line is a copy of the message\.|"
    r"-+ this is a copy of the message, including all the headers\. -+|"
    r"-+ original message -+|"
    r"-+ the header of the original message is following\. -+|"
    r"-+ below this line is a copy of the message\.?)\s*$"
)
_QMAIL_RCPT_RE = re.compile(r"(?m)^<([^<>\s]+@[^<>\s]+)>:\s*$")


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


@dataclass(frozen=True)
class DsnInfo:
    """What a bounce says about the failed delivery.

    Built from a ``message/delivery-status`` part when there is one (``machine_readable``), else
    read from the shape of a bounce without one (qmail, old Exchange). Addresses are lowercase
    addr-specs; ``status`` is an enhanced status code such as ``"5.1.1"``;
    ``original_message_id`` keeps its angle brackets, like every id in this module.
    """

    action: str | None = None
    status: str | None = None
    final_recipient: str | None = None
    original_recipient: str | None = None
    diagnostic: str | None = None
    remote_mta: str | None = None
    original_message_id: str | None = None
    original_headers: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: types.MappingProxyType({})
    )
    machine_readable: bool = False


@dataclass(frozen=True)
class ParsedInbound:
    """One inbound message, parsed as far as it safely could be.

    ``raw`` is always the exact input. Ids (``message_id``, ``in_reply_to``, ``references``)
    keep their angle brackets. ``from_addr`` and ``to_addrs`` are lowercase addr-specs;
    ``to_addrs`` holds To, Cc, Delivered-To and X-Original-To. ``date`` is aware UTC.
    ``headers`` maps lower-cased names from :data:`KEPT_HEADERS` (and ``x-outreach-*``) to their
    decoded one-line values. ``text`` is the best text/plain body (or the text of the HTML body).
    ``error`` is set only when the message could not be parsed at all; ``defects`` lists what was
    cut or skipped on the way. Not hashable (``headers`` is a read-only mapping).
    """

    raw: bytes = field(repr=False)
    raw_sha256: str
    size: int
    message_id: str | None = None
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    from_addr: str | None = None
    from_name: str | None = None
    to_addrs: tuple[str, ...] = ()
    subject: str = ""
    date: datetime | None = None
    headers: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: types.MappingProxyType({})
    )
    text: str = field(default="", repr=False)
    dsn: DsnInfo | None = None
    error: str | None = None
    oversize: bool = False
    defects: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """The first kept value of header ``name`` (any case), or ``None``."""
        values = self.headers.get(name.lower())
        return values[0] if values else None


def parse_inbound(raw: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedInbound:
    """Parse ``raw`` (one RFC 5322 message). Never raises; the raw bytes are always kept.

    Over ``max_bytes``: ``oversize=True`` and only Message-ID, In-Reply-To, References, From,
    Subject and Date sniffed from the first :data:`SNIFF_BYTES`. A message that cannot be parsed
    at all comes back with ``error`` set (and whatever headers could be sniffed).
    """
    try:
        data = bytes(raw)
    except Exception:  # not bytes-like at all: keep an empty message with the error
        data = b""
        return _sniffed(data, error=f"input is not bytes ({type(raw).__name__})")
    try:
        if len(data) > max_bytes:
            return _sniffed(data, oversize=True)
        return _parse(data)
    except Exception as exc:  # RecursionError and MemoryError included: the run goes on
        return _sniffed(data, error=f"{type(exc).__name__}: {_one_line(str(exc))[:300]}")


# --- parsing ---------------------------------------------------------------------------------


def _parse(data: bytes) -> ParsedInbound:
    defects: list[str] = []
    head, body, big_addresses = _cap_top_headers(data, defects)
    containers = len(_CONTAINER_RE.findall(head)) + len(_CONTAINER_RE.findall(body))
    parts = len(_ANY_CONTENT_TYPE_RE.findall(body))
    headers_only = containers > MAX_CONTAINERS or parts > MAX_CONTENT_TYPES
    if headers_only:
        defects.append(
            f"MIME structure too deep or complex ({containers} containers, limit "
            f"{MAX_CONTAINERS}; {parts} parts, limit {MAX_CONTENT_TYPES}); body not parsed"
        )
        body = b""
    sanitized = _tame_content_headers(head + body, defects)
    msg = BytesParser(policy=POLICY).parsebytes(sanitized, headersonly=headers_only)
    top = _raw_headers(msg)

    def first(name: str) -> str | None:
        values = top.get(name)
        return values[0] if values else None

    from_addr, from_name = _from(first("from"), big_addresses.get("from"))
    to_addrs = _recipients(top, big_addresses)
    subject = (first("subject") or "")[:2000]
    text = ""
    dsn = None
    if not headers_only:
        try:
            text = _best_text(msg)
        except (Exception, RecursionError) as exc:
            defects.append(f"body not decoded: {type(exc).__name__}")
        try:
            dsn = _dsn(msg, top, from_addr, subject, text)
        except (Exception, RecursionError) as exc:
            defects.append(f"delivery status not read: {type(exc).__name__}")
    return ParsedInbound(
        raw=data,
        raw_sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        message_id=_message_id(first("message-id")),
        in_reply_to=_ids(" ".join(top.get("in-reply-to", ()))),
        references=_ids(" ".join(top.get("references", ())), keep_last=True),
        from_addr=from_addr,
        from_name=from_name,
        to_addrs=to_addrs,
        subject=subject,
        date=_date(first("date")),
        headers=_kept(top),
        text=text,
        dsn=dsn,
        defects=tuple(defects),
    )


def _sniffed(data: bytes, *, oversize: bool = False, error: str | None = None) -> ParsedInbound:
    """A result from a bounded regex over the first bytes only; never raises."""
    found: dict[str, list[str]] = {}
    try:
        head = data[:SNIFF_BYTES]
        end = _HEADER_END_RE.search(head)
        if end:
            head = head[: end.start()]
        for m in _SNIFF_RE.finditer(head):
            found.setdefault(m.group(1).decode("ascii").lower(), []).append(
                _decode_value(m.group(2).decode("ascii", "surrogateescape"))
            )
    except Exception:  # sniffing is best effort
        found = {}

    def first(name: str) -> str | None:
        values = found.get(name)
        return values[0] if values else None

    try:
        from_addr, from_name = _from(first("from"), None)
    except Exception:
        from_addr, from_name = None, None
    return ParsedInbound(
        raw=data,
        raw_sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        message_id=_message_id(first("message-id")),
        in_reply_to=_ids(" ".join(found.get("in-reply-to", ()))),
        references=_ids(" ".join(found.get("references", ())), keep_last=True),
        from_addr=from_addr,
        from_name=from_name,
        subject=(first("subject") or "")[:2000],
        date=_date(first("date")),
        error=error,
        oversize=oversize,
    )


def _cap_top_headers(
    data: bytes, defects: list[str]
) -> tuple[bytes, bytes, dict[str, tuple[str, ...]]]:
    """Split off the top header block and cut what the stdlib parser handles badly.

    Returns the (possibly rebuilt) header block including its blank line, the body, and the
    addresses read by regex from address headers too long for the address parser.
    """
    end = _HEADER_END_RE.search(data)
    if end is None:
        head, sep, body = data, b"", b""
    else:
        head, sep, body = data[: end.start()], data[end.start() : end.end()], data[end.end() :]
    eol = b"\r\n" if b"\r\n" in head[:1000] else b"\n"
    lines = head.splitlines(keepends=True)
    logical: list[list[bytes]] = []
    for line in lines:
        if logical and line[:1] in (b" ", b"\t"):
            logical[-1].append(line)
        else:
            logical.append([line])
    if len(logical) > MAX_HEADER_LINES:
        defects.append(f"{len(logical)} header lines; only the first {MAX_HEADER_LINES} read")
        logical = logical[:MAX_HEADER_LINES]
    big_addresses: dict[str, tuple[str, ...]] = {}
    out: list[bytes] = []
    for group in logical:
        size = sum(len(x) for x in group)
        name = group[0].split(b":", 1)[0].strip().lower().decode("ascii", "replace")
        limit = MAX_HEADER_BYTES
        if name.startswith("content-"):
            limit = MAX_CONTENT_HEADER_BYTES
        if name in _ADDRESS_HEADERS and size > MAX_ADDRESS_HEADER_BYTES:
            found = []
            for part in group:
                found.extend(m.group(0).decode("ascii").lower() for m in _ADDR_RE_B.finditer(part))
                if len(found) >= MAX_ADDRESSES:
                    break
            big_addresses[name] = big_addresses.get(name, ()) + tuple(found[:MAX_ADDRESSES])
            # the parser only sees an empty value; the addresses come from the regex
            out.append(group[0].split(b":", 1)[0] + b": (too long; read by regex)" + eol)
            defects.append(f"{name} header of {size} bytes read by regex")
            continue
        if size > limit:
            defects.append(f"{name} header of {size} bytes cut to {limit}")
            out.append(b"".join(group)[:limit].rstrip(b"\r\n") + eol)
            continue
        out.extend(group)
    if out and sep:
        out[-1] = out[-1].rstrip(b"\r\n")
    return b"".join(out) + sep, body, big_addresses


def _tame_content_headers(data: bytes, defects: list[str]) -> bytes:
    """Rewrite every Content-Type/Content-Disposition line that is not plainly simple.

    The stdlib parses these headers again on every access, with a parser that is superlinear
    on many parameters, comments or long unquoted values; a few thousand parts with such
    headers take minutes. A header that is not "type/subtype" plus at most
    :data:`_MAX_SIMPLE_PARAMS` simple parameters is rebuilt from its media type and the
    parameters we use (boundary, charset, report-type, ...), each value bounded.
    """
    rewritten = 0

    def tame(m: re.Match[bytes]) -> bytes:
        nonlocal rewritten
        name, value = m.group(1), m.group(2)
        flat = re.sub(rb"\r?\n[ \t]+", b" ", value)
        if len(flat) <= 400 and _SIMPLE_CONTENT_RE.fullmatch(flat):
            return m.group(0)
        rewritten += 1
        media = _MEDIA_RE.match(flat)
        out = name + b": " + (media.group(1) if media else b"application/octet-stream")
        for pm in _KNOWN_PARAM_RE.finditer(flat[:MAX_CONTENT_HEADER_BYTES]):
            val = pm.group(3) if pm.group(3) is not None else pm.group(4)
            out += b"; " + pm.group(1).lower() + b'="' + val.replace(b'"', b"") + b'"'
        return out

    result = _CONTENT_HEADER_RE.sub(tame, data)
    if rewritten:
        defects.append(f"{rewritten} complex Content-Type/Disposition header(s) simplified")
    return result


# --- headers ---------------------------------------------------------------------------------


def _raw_headers(msg: Message) -> dict[str, list[str]]:
    """Every header of ``msg`` by lower-cased name, decoded by :func:`_decode_value`."""
    out: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        out.setdefault(str(name).strip().lower(), []).append(_decode_value(value))
    return out


def _decode_value(value: object) -> str:
    """One header value as a single safe line: 8-bit bytes and RFC 2047 words decoded."""
    if not isinstance(value, str):
        value = str(value)
    raw = value.encode("ascii", "surrogateescape") if _has_surrogates(value) else None
    if raw is not None:
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            value = raw.decode("latin-1")
    value = re.sub(r"\r?\n(?=[ \t])", "", value)
    if "=?" in value:
        value = _decode_words(value)
    return _one_line(value).strip()


def _has_surrogates(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


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
            out.append(_decode_bytes(chunk, charset))
    # decode_header drops the whitespace between an encoded word and plain text; put it back
    return "".join(
        piece if i == 0 or piece[:1].isspace() or out[i - 1][-1:].isspace() else " " + piece
        for i, piece in enumerate(out)
    )


def _one_line(value: str) -> str:
    return _CONTROL_RE.sub(" ", value)


def _kept(top: dict[str, list[str]]) -> Mapping[str, tuple[str, ...]]:
    kept = {
        name: tuple(v[:_MAX_KEPT_CHARS] for v in values[:_MAX_KEPT_VALUES])
        for name, values in top.items()
        if name in KEPT_HEADERS or name.startswith("x-outreach-")
    }
    return types.MappingProxyType(kept)


def _message_id(value: str | None) -> str | None:
    if not value:
        return None
    m = _ID_RE.search(value)
    if m:
        return m.group(0)
    value = value.strip()
    if value and " " not in value and len(value) <= 998:
        return f"<{value.strip('<>')}>"
    return None


def _ids(value: str, *, keep_last: bool = False, limit: int = 200) -> tuple[str, ...]:
    ids: list[str] = []
    seen: set[str] = set()
    for m in _ID_RE.finditer(value):
        if m.group(0) not in seen:
            seen.add(m.group(0))
            ids.append(m.group(0))
    return tuple(ids[-limit:] if keep_last else ids[:limit])


def _clean_addr(addr: str) -> str | None:
    addr = addr.strip().strip("<>").strip().lower()
    if "@" not in addr or any(ch.isspace() for ch in addr) or len(addr) > 320:
        m = _ADDR_RE.search(addr)
        return m.group(0).lower() if m else None
    return addr


def _from(value: str | None, big: tuple[str, ...] | None) -> tuple[str | None, str | None]:
    if big:
        return big[0], None
    if not value:
        return None, None
    name, addr = parseaddr(value[:MAX_ADDRESS_HEADER_BYTES])
    clean = _clean_addr(addr) if addr else None
    if clean is None:
        m = _ADDR_RE.search(value)
        clean = m.group(0).lower() if m else None
    return clean, (name.strip() or None)


def _recipients(
    top: dict[str, list[str]], big_addresses: dict[str, tuple[str, ...]]
) -> tuple[str, ...]:
    found: list[str] = []
    for name in _RECIPIENT_HEADERS:
        found.extend(big_addresses.get(name, ()))
        for value in top.get(name, ()):
            if len(value) > MAX_ADDRESS_HEADER_BYTES:
                found.extend(m.group(0).lower() for m in _ADDR_RE.finditer(value))
                continue
            try:
                pairs = getaddresses([value])
            except Exception:
                pairs = [("", m.group(0)) for m in _ADDR_RE.finditer(value)]
            for _, addr in pairs:
                clean = _clean_addr(addr) if addr else None
                if clean:
                    found.append(clean)
    return tuple(dict.fromkeys(found))[:MAX_ADDRESSES]


def _date(value: str | None) -> datetime | None:
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


# --- bodies ----------------------------------------------------------------------------------


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with ``charset`` when it is a real text codec that fits, else UTF-8, else Latin-1."""
    candidates = []
    if charset:
        name = charset.strip().strip('"').lower()
        try:
            if codecs.lookup(name)._is_text_encoding and name not in ("unicode_escape",):
                candidates.append(name)
        except (LookupError, ValueError, TypeError):
            pass
    candidates.append("utf-8")
    for name in candidates:
        try:
            return data.decode(name)
        except Exception:
            continue
    return data.decode("latin-1")


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "surrogateescape")
    if not isinstance(payload, bytes | bytearray):
        return ""
    data = bytes(payload[:MAX_BODY_BYTES])
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    text = _decode_bytes(data, charset)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.encode("utf-8", "replace").decode("utf-8")


def _best_text(msg: Message) -> str:
    part = None
    if isinstance(msg, EmailMessage):
        part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        for i, candidate in enumerate(msg.walk()):
            if i > MAX_PARTS:
                break
            if candidate.get_content_maintype() == "text" and not candidate.is_multipart():
                part = candidate
                break
    if part is None:
        return ""
    text = _part_text(part)
    if part.get_content_subtype() == "html":
        text = html_to_text(text, limit=MAX_BODY_BYTES)
    return text[:MAX_TEXT_CHARS]


# --- delivery status -------------------------------------------------------------------------


def is_bounce_sender(from_addr: str | None) -> bool:
    """True when ``from_addr`` is MAILER-DAEMON, postmaster and the like."""
    if not from_addr:
        return False
    return from_addr.split("@", 1)[0].lower() in BOUNCE_LOCALPARTS


def _dsn(
    msg: Message,
    top: dict[str, list[str]],
    from_addr: str | None,
    subject: str,
    text: str,
) -> DsnInfo | None:
    content_type = (top.get("content-type") or [""])[0].lower()
    report_type = re.search(r"report-type\s*=\s*\"?([a-z-]+)", content_type)
    status_blocks: list[dict[str, str]] | None = None
    original: Message | None = None
    for i, part in enumerate(msg.walk()):
        if i > MAX_PARTS:
            break
        ctype = part.get_content_type()
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            if status_blocks is None:
                status_blocks = _status_blocks(part)
        elif ctype in ("message/rfc822", "message/global") and original is None and i > 0:
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                original = payload[0]
        elif ctype in ("text/rfc822-headers", "message/global-headers") and original is None:
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                original = BytesHeaderParser(policy=POLICY).parsebytes(data[:MAX_HEADER_BYTES])
    is_report = status_blocks is not None or (
        content_type.startswith("multipart/report")
        and (report_type is None or report_type.group(1) == "delivery-status")
    )
    shaped = (
        is_bounce_sender(from_addr)
        or BOUNCE_SUBJECT_RE.search(subject) is not None
        or BOUNCE_TEXT_RE.search(text[:20_000]) is not None
    )
    if not (is_report or shaped):
        return None
    fields = _pick_recipient(status_blocks or [])
    original_headers = _raw_headers(original) if original is not None else {}
    original_id = _message_id((original_headers.get("message-id") or [None])[0])
    text_head = text
    copy = _INLINE_COPY_RE.search(text)
    if copy:
        text_head = text[: copy.start()]
        if original is None:
            inline = BytesHeaderParser(policy=POLICY).parsebytes(
                text[copy.end() :].lstrip("\n")[:MAX_HEADER_BYTES].encode("utf-8", "replace")
            )
            original_headers = _raw_headers(inline)
            original_id = _message_id((original_headers.get("message-id") or [None])[0])
    if original_id is None:
        m = re.search(r"(?im)^message-id:\s*(<[^<>\s]{1,998}>)", text)
        original_id = m.group(1) if m else None

    final = _recipient_field(fields.get("final-recipient"))
    if final is None:
        failed = top.get("x-failed-recipients")
        if failed:
            m = _ADDR_RE.search(failed[0])
            final = m.group(0).lower() if m else None
    if final is None:
        m = _QMAIL_RCPT_RE.search(text_head)
        if m:
            final = m.group(1).lower()
    if final is None and not status_blocks:
        m = _ADDR_RE.search(text_head[:5000])
        final = m.group(0).lower() if m else None
    status = None
    if fields.get("status"):
        m = _STATUS_RE.search(fields["status"])
        status = ".".join(m.groups()) if m else None
    if status is None and not status_blocks:
        m = _STATUS_RE.search(text_head[:20_000])
        status = ".".join(m.groups()) if m else None
    diagnostic = fields.get("diagnostic-code")
    if diagnostic:
        diagnostic = re.sub(r"^\s*[a-z-]+\s*;\s*", "", diagnostic, flags=re.IGNORECASE)[:1000]
    elif not status_blocks and text_head.strip():
        diagnostic = " ".join(text_head.split())[:1000]
    action = (fields.get("action") or "").strip().lower().split(" ")[0] or None
    return DsnInfo(
        action=action,
        status=status,
        final_recipient=final,
        original_recipient=_recipient_field(fields.get("original-recipient")),
        diagnostic=diagnostic,
        remote_mta=(_one_line(fields["remote-mta"])[:300] if fields.get("remote-mta") else None),
        original_message_id=original_id,
        original_headers=_kept_original(original_headers),
        machine_readable=status_blocks is not None,
    )


def _kept_original(headers: dict[str, list[str]]) -> Mapping[str, tuple[str, ...]]:
    names = ("message-id", "subject", "to", "from", "date", "in-reply-to")
    kept = {
        name: tuple(v[:_MAX_KEPT_CHARS] for v in values[:_MAX_KEPT_VALUES])
        for name, values in headers.items()
        if name in names or name.startswith("x-outreach-")
    }
    return types.MappingProxyType(kept)


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of a delivery-status part (the first is per-message)."""
    payload = part.get_payload()
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):
        for block in payload[:MAX_PARTS]:
            if isinstance(block, Message):
                blocks.append({k: v[0] for k, v in _raw_headers(block).items()})
        if blocks:
            return blocks
    data = part.get_payload(decode=True)
    if isinstance(payload, str) and not data:
        data = payload.encode("utf-8", "surrogateescape")
    if not isinstance(data, bytes):
        return blocks
    text = _decode_bytes(data[:MAX_HEADER_BYTES], "utf-8").replace("\r\n", "\n")
    for chunk in re.split(r"\n\s*\n", text):
        parsed = BytesHeaderParser(policy=POLICY).parsebytes(
            chunk.strip("\n").encode("utf-8", "replace")
        )
        fields = {k: v[0] for k, v in _raw_headers(parsed).items()}
        if fields:
            blocks.append(fields)
    return blocks


def _pick_recipient(blocks: Iterable[dict[str, str]]) -> dict[str, str]:
    """The per-recipient block that matters most: failed, then delayed, then any with Action."""
    with_action = [b for b in blocks if "action" in b]
    for wanted in ("failed", "delayed"):
        for block in with_action:
            if block["action"].strip().lower().startswith(wanted):
                return block
    if with_action:
        return with_action[0]
    return {}


def _recipient_field(value: str | None) -> str | None:
    """``rfc822; <User@Example.org>`` -> ``user@example.org``."""
    if not value:
        return None
    value = re.sub(r"^\s*[a-z0-9-]+\s*;\s*", "", value, flags=re.IGNORECASE)
    return _clean_addr(value)
