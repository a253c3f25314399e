"""The parse-back guard: composed bytes are read back as a receiving mail client would read
them, and must say exactly what we meant to write (or compose() raises instead of returning
bytes that could add a header, such as a ``Bcc:``, or a recipient)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy as email_policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from functools import lru_cache

from outreach.compose.attachments import AttachmentPart
from outreach.compose.encoding import Part, decode_body
from outreach.compose.headers import ADDR_SPEC
from outreach.errors import ComposeError, HeaderInjectionError

#: The reader used to check our bytes: the stdlib's modern (policy.default) header parser, as
#: a receiving mail client would decode them; messages are split by the plain parser, which
#: is the same splitter without building header objects on every access.
_READER = email_policy.default
_LINE_BREAK = re.compile(r"\r|\n")  # what policy.default removes when it fetches a header
_RAW_PARSER = BytesParser(policy=email_policy.compat32.clone(linesep="\r\n"))

_ADDRESS_HEADERS = frozenset({"from", "to", "reply-to"})
#: The headers of an attachment part: these three, each once, nothing else.
_ATTACHMENT_HEADERS = frozenset(
    {"content-type", "content-disposition", "content-transfer-encoding"}
)
_FULL_PARSER = BytesParser(policy=email_policy.default)
#: Stands in for the address when the display-name part of an address header is checked.
_PROBE_ADDRESS = "recipient@probe.invalid"


@lru_cache(maxsize=4096)
def _decode_header(name: str, value: str) -> tuple[str, tuple[tuple[str, str], ...] | None, int]:
    """How a modern reader decodes one header: (text, addresses or None, defect count).

    Cached: From, Reply-To and usually Subject repeat across a campaign's messages, and the
    stdlib's address parser is the slowest step of composing.
    """
    header = _READER.header_factory(name, value)
    addresses = getattr(header, "addresses", None)
    if addresses is not None:
        addresses = tuple((a.display_name, a.addr_spec) for a in addresses)
    return str(header), addresses, len(header.defects)


@dataclass(frozen=True)
class Structure:
    """How a message's body was written: its text parts, the multipart/alternative boundary
    (``None``: one text/plain part) and, with attachments, the multipart/mixed boundary and
    the attachment parts."""

    parts: list[Part]
    boundary: str | None
    mixed: str | None = None
    files: tuple[AttachmentPart, ...] = ()


def verify(
    raw: bytes,
    expected: dict[str, str],
    *,
    from_: tuple[str, str],
    to: tuple[str, str],
    reply_to: str | None,
    structure: Structure,
) -> None:
    """Parse the header block of ``raw`` back and raise unless it is what we meant.

    The header block must be ASCII, CRLF only, no whitespace-only line, lines of at most 998
    octets; the stdlib parser must find exactly the header names in ``expected`` (each once)
    and no defect; each value decodes as ``email.policy.default`` would decode it (the same
    unfolding and header factory) to exactly the given text (values of "" are structured
    headers checked separately: addresses, MIME). Bodies: the boundary occurs only as the
    three delimiter lines, the MIME headers are ours, and each encoded part decodes back to
    the given text. (The bodies are not re-parsed line by line: that tripled the cost.)
    With attachments, the whole message is parsed as a mail client would (policy.default):
    see :func:`_check_mixed`.
    """
    head, sep, rest = raw.partition(b"\r\n\r\n")
    parsed = _parse_head(head, sep, expected)
    addresses = _check_values(parsed, expected)
    for name, (display, addr) in (("from", from_), ("to", to), ("reply-to", ("", reply_to))):
        if name == "reply-to" and reply_to is None:
            continue
        if not reads_back_as(name, addresses[name], display, addr):
            raise HeaderInjectionError(
                f"composed message: {name} does not read back as {display!r} <{addr}>"
            )
    if structure.mixed is None:
        _check_mime(parsed, rest, structure.parts, structure.boundary)
    else:
        _check_mixed(raw, rest, structure)


def _parse_head(head: bytes, sep: bytes, expected: dict[str, str]) -> Message:
    """The parsed header block, refused unless well formed, free of parser defects and holding
    exactly the header names in ``expected``, each once."""
    lines = head.split(b"\r\n")
    if (
        not sep
        or not head.isascii()
        or any(b"\r" in ln or b"\n" in ln or len(ln) > 998 or not ln.strip() for ln in lines)
    ):
        raise HeaderInjectionError("composed message: malformed header block")
    parsed = _RAW_PARSER.parsebytes(head + sep, headersonly=True)
    if parsed.defects:
        raise HeaderInjectionError(f"composed message: parser found defects: {parsed.defects}")
    names = [k.lower() for k in parsed]
    if len(names) != len(expected) or set(names) != set(expected):
        unexpected = sorted({n for n in names if n not in expected or names.count(n) > 1})
        raise HeaderInjectionError(
            "composed message: header set differs from what was written"
            + (f": unexpected {', '.join(unexpected)}" if unexpected else "")
        )
    return parsed


def _check_values(parsed: Message, expected: dict[str, str]) -> dict[str, str]:
    """Check every non-address header decodes to its expected text (or without defect, for a
    structured header expected as ""); returns the unfolded address headers by lower name."""
    unfolded: dict[str, str] = {}
    for name, value in parsed.items():
        key = name.lower()
        value = _LINE_BREAK.sub("", value)
        if key in _ADDRESS_HEADERS:
            unfolded[key] = value  # checked by the caller, address by address
            continue
        want = expected[key]
        if want and value == want and "=?" not in value:
            continue  # plain ASCII, no encoded word: policy.default decodes it to itself
        text, _, defects = _decode_header(name, value)
        if defects or (want and text != want):
            raise HeaderInjectionError(f"composed message: {key} does not read back as written")
    return unfolded


def _check_mime(parsed: Message, rest: bytes, parts: list[Part], boundary: str | None) -> None:
    """The MIME structure is ours (one text/plain part, or multipart/alternative with the
    boundary only as its delimiter lines) and each part decodes back to the given text."""
    ctype = parsed.get_content_type()
    if boundary is None:
        ok = ctype == "text/plain" and parsed["Content-Transfer-Encoding"] == parts[0].cte
    else:
        delim = b"--" + boundary.encode("ascii")
        ok = (
            ctype == "multipart/alternative"
            and parsed.get_boundary() == boundary
            and rest.count(delim) == len(parts) + 1
            and rest.endswith(delim + b"--\r\n")
        )
    if not ok:
        raise ComposeError("composed message: unexpected MIME structure")
    for part in parts:
        if decode_body(part) != part.data.replace(b"\r\n", b"\n"):
            raise ComposeError("composed message: a body part does not decode to the given text")


def _check_mixed(raw: bytes, rest: bytes, structure: Structure) -> None:
    """A multipart/mixed message reads back as written: the mixed boundary only as its
    delimiter lines; the first part the text (one text/plain part or the multipart/alternative,
    each text part decoding to the given text); then exactly one part per attachment with only
    its three headers, no parser defect, and the type, parameters, disposition, file name and
    bytes that were given."""
    assert structure.mixed is not None
    delim = b"--" + structure.mixed.encode("ascii")
    if rest.count(delim) != len(structure.files) + 2 or not rest.endswith(delim + b"--\r\n"):
        raise ComposeError("composed message: unexpected MIME structure")
    message = _FULL_PARSER.parsebytes(raw)
    assert isinstance(message, EmailMessage)
    payload = message.get_payload()
    if (
        message.get_content_type() != "multipart/mixed"
        or message.get_boundary() != structure.mixed
        or not isinstance(payload, list)
        or len(payload) != len(structure.files) + 1
        or message.defects
    ):
        raise ComposeError("composed message: unexpected MIME structure")
    _check_text_entity(payload[0], structure)
    for index, (part, file) in enumerate(zip(payload[1:], structure.files, strict=True)):
        _check_attachment(part, file, index)


def _check_text_entity(entity: EmailMessage, structure: Structure) -> None:
    """The first part of a multipart/mixed message: the text as written."""
    if structure.boundary is None:
        ok = (
            entity.get_content_type() == "text/plain"
            and entity["Content-Transfer-Encoding"] == structure.parts[0].cte
        )
    else:
        inner = entity.get_payload()
        ok = (
            entity.get_content_type() == "multipart/alternative"
            and entity.get_boundary() == structure.boundary
            and isinstance(inner, list)
            and len(inner) == len(structure.parts)
        )
    if not ok or entity.defects:
        raise ComposeError("composed message: unexpected MIME structure")
    for part in structure.parts:
        if decode_body(part) != part.data.replace(b"\r\n", b"\n"):
            raise ComposeError("composed message: a body part does not decode to the given text")


def _check_attachment(part: EmailMessage, file: AttachmentPart, index: int) -> None:
    """One attachment part reads back with exactly its headers, name, type and bytes."""
    where = f"composed message: attachments[{index}]"
    names = [k.lower() for k in part]
    if len(names) != len(_ATTACHMENT_HEADERS) or set(names) != _ATTACHMENT_HEADERS:
        raise HeaderInjectionError(f"{where}: header set differs from what was written")
    att = file.attachment
    if (
        part.defects
        or any(part[name].defects for name in part)
        or part.get_content_type() != att.content_type
        or part.get_content_disposition() != "attachment"
        or part.get_filename() != att.filename
        or part.get_param("name") is None
        or _collapsed(part.get_param("name")) != att.filename
        or any(part.get_param(k) != v for k, v in att.params)
        or part["Content-Transfer-Encoding"] != "base64"
    ):
        raise HeaderInjectionError(f"{where}: does not read back as written")
    if part.get_payload(decode=True) != att.data:
        raise ComposeError(f"{where}: does not decode to the given bytes")


def _collapsed(value: object) -> str:
    """A MIME parameter value as a reader sees it (RFC 2231 values decoded)."""
    from email.utils import collapse_rfc2231_value

    return collapse_rfc2231_value(value)  # type: ignore[arg-type]


def reads_back_as(name: str, value: str, display: str, addr: str | None) -> bool:
    """Whether the (unfolded) address header ``value`` reads back, as policy.default reads
    it, as exactly one mailbox: display name ``display`` (modulo runs of whitespace, see
    the encoding of display names) and address exactly ``addr``.

    Every recipient differs, and the stdlib's address parser is the slowest step of composing,
    so the address is compared as a string and only the display-name part is parsed (cached):
    ``value`` must be ``addr`` alone (no display name), or end with `` <addr>``. ``addr`` is a
    plain ``dot-atom@domain`` (checked again here), as is the probe address, so the parser
    reads ``PHRASE <addr>`` exactly as it reads ``PHRASE <probe>`` (the phrase ends at the
    ``<``; a dot-atom address holds no character that could end, open or continue anything
    else); the probe header must read back as exactly one mailbox, with the display name
    wanted, the probe address, and no defect.
    """
    if addr is None or not ADDR_SPEC.fullmatch(addr):
        return False
    if display:
        tail = f" <{addr}>"
        if not value.endswith(tail):
            return False
        probe = value[: -len(tail)] + f" <{_PROBE_ADDRESS}>"
    elif value == addr:
        probe = _PROBE_ADDRESS
    else:
        return False
    _, addresses, defects = _decode_header(name, probe)
    return (
        not defects
        and addresses is not None
        and len(addresses) == 1
        and addresses[0][1] == _PROBE_ADDRESS
        and " ".join(addresses[0][0].split()) == display
    )
