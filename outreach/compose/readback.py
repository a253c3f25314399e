"""The parse-back guard: composed bytes are read back as a receiving mail client would read
them, and must say exactly what we meant to write (or compose() raises instead of returning
bytes that could add a header, such as a ``Bcc:``, or a recipient)."""

from __future__ import annotations

import re
from email import policy as email_policy
from email.message import Message
from email.parser import BytesParser
from functools import lru_cache

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


def verify(
    raw: bytes,
    expected: dict[str, str],
    *,
    from_: tuple[str, str],
    to: tuple[str, str],
    reply_to: str | None,
    parts: list[Part],
    boundary: str | None,
) -> None:
    """Parse the header block of ``raw`` back and raise unless it is what we meant.

    The header block must be ASCII, CRLF only, no whitespace-only line, lines of at most 998
    octets; the stdlib parser must find exactly the header names in ``expected`` (each once)
    and no defect; each value decodes as ``email.policy.default`` would decode it (the same
    unfolding and header factory) to exactly the given text (values of "" are structured
    headers checked separately: addresses, MIME). Bodies: the boundary occurs only as the
    three delimiter lines, the MIME headers are ours, and each encoded part decodes back to
    the given text. (The bodies are not re-parsed line by line: that tripled the cost.)
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
    _check_mime(parsed, rest, parts, boundary)


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
