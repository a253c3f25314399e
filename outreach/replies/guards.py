"""Make raw mail safe to hand to the stdlib ``email`` parser. Pure.

The stdlib parser recurses (RecursionError at a few thousand MIME levels) and its structured
header parser is superlinear, so before parsing:

- the top header block is capped: at most :data:`~outreach.replies.limits.MAX_HEADER_LINES`
  logical lines, each at most :data:`~outreach.replies.limits.MAX_HEADER_BYTES` (Content-* at
  most :data:`~outreach.replies.limits.MAX_CONTENT_HEADER_BYTES`); address headers over
  :data:`~outreach.replies.limits.MAX_ADDRESS_HEADER_BYTES` are read by a bounded regex and the
  parser sees an empty value (:func:`cap_top_headers`);
- a message with more than :data:`~outreach.replies.limits.MAX_CONTAINERS` multipart/message
  containers or more than :data:`~outreach.replies.limits.MAX_CONTENT_TYPES` parts has its body
  left unparsed (:func:`structure_defect`);
- every Content-Type/Content-Disposition header anywhere that is not plainly simple is rebuilt
  from its known parameters (:func:`tame_content_headers`).

Each guard that cuts something appends a one-line note to the caller's ``defects``.
"""

from __future__ import annotations

import re

from outreach.replies.headers import HEADER_END_RE
from outreach.replies.limits import (
    MAX_ADDRESS_HEADER_BYTES,
    MAX_ADDRESSES,
    MAX_CONTAINERS,
    MAX_CONTENT_HEADER_BYTES,
    MAX_CONTENT_TYPES,
    MAX_HEADER_BYTES,
    MAX_HEADER_LINES,
)

_ADDRESS_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "reply-to", "sender", "resent-to", "resent-cc", "resent-from"}
)
#: A header block this short has no header over a cap and not too many lines.
_NOTHING_TO_CUT = min(
    MAX_CONTENT_HEADER_BYTES, MAX_ADDRESS_HEADER_BYTES, MAX_HEADER_BYTES, MAX_HEADER_LINES - 1
)
_ADDR_RE_B = re.compile(
    rb"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253})"
)
_CONTAINER_RE = re.compile(rb"(?im)^content-type:[ \t]*(?:\r?\n[ \t]+)?(?:multipart|message)/")
_ANY_CONTENT_TYPE_RE = re.compile(rb"(?im)^content-type:")
_CONTENT_HEADER_RE = re.compile(
    rb"(?im)^(content-(?:type|disposition))[ \t]*:([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)"
)
#: A Content-* header with at most this many simple parameters is left as it is.
MAX_SIMPLE_PARAMS = 6
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


def cap_top_headers(
    data: bytes, defects: list[str]
) -> tuple[bytes, bytes, dict[str, tuple[str, ...]]]:
    """Split off the top header block and cut what the stdlib parser handles badly.

    Returns the (possibly rebuilt) header block including its blank line, the body, and the
    addresses read by regex from address headers too long for the address parser.
    """
    end = HEADER_END_RE.search(data)
    if end is None:
        head, sep, body = data, b"", b""
    else:
        head, sep, body = data[: end.start()], data[end.start() : end.end()], data[end.end() :]
    if len(head) <= _NOTHING_TO_CUT and not head.endswith(b"\r"):
        # no header can be over any cap, nor can there be too many: nothing to cut
        return head + sep, body, {}
    eol = b"\r\n" if b"\r\n" in head[:1000] else b"\n"
    logical = _logical_lines(head)
    if len(logical) > MAX_HEADER_LINES:
        defects.append(f"{len(logical)} header lines; only the first {MAX_HEADER_LINES} read")
        logical = logical[:MAX_HEADER_LINES]
    big_addresses: dict[str, tuple[str, ...]] = {}
    out: list[bytes] = []
    for group in logical:
        size = sum(len(x) for x in group)
        name = group[0].split(b":", 1)[0].strip().lower().decode("ascii", "replace")
        limit = MAX_CONTENT_HEADER_BYTES if name.startswith("content-") else MAX_HEADER_BYTES
        if name in _ADDRESS_HEADERS and size > MAX_ADDRESS_HEADER_BYTES:
            found = _addresses_by_regex(group)
            big_addresses[name] = big_addresses.get(name, ()) + found
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


def _logical_lines(head: bytes) -> list[list[bytes]]:
    """The header block as logical headers, each the list of its physical lines."""
    logical: list[list[bytes]] = []
    for line in head.splitlines(keepends=True):
        if logical and line[:1] in (b" ", b"\t"):
            logical[-1].append(line)
        else:
            logical.append([line])
    return logical


def _addresses_by_regex(lines: list[bytes]) -> tuple[str, ...]:
    """At most :data:`~outreach.replies.limits.MAX_ADDRESSES` lowercase addresses in ``lines``."""
    found: list[str] = []
    for part in lines:
        found.extend(m.group(0).decode("ascii").lower() for m in _ADDR_RE_B.finditer(part))
        if len(found) >= MAX_ADDRESSES:
            break
    return tuple(found[:MAX_ADDRESSES])


def declares_container(head: bytes) -> bool:
    """Whether the header block ``head`` has a multipart or ``message/*`` Content-Type (then
    the message needs the full MIME parse)."""
    return _CONTAINER_RE.search(head) is not None


def structure_defect(head: bytes, body: bytes) -> str | None:
    """Why the body must be left unparsed (too many containers or parts), or ``None``."""
    containers = len(_CONTAINER_RE.findall(head)) + len(_CONTAINER_RE.findall(body))
    parts = len(_ANY_CONTENT_TYPE_RE.findall(body))
    if containers > MAX_CONTAINERS or parts > MAX_CONTENT_TYPES:
        return (
            f"MIME structure too deep or complex ({containers} containers, limit "
            f"{MAX_CONTAINERS}; {parts} parts, limit {MAX_CONTENT_TYPES}); body not parsed"
        )
    return None


def tame_content_headers(data: bytes, defects: list[str]) -> bytes:
    """Rewrite every Content-Type/Content-Disposition line that is not plainly simple.

    The stdlib parses these headers again on every access, with a parser that is superlinear
    on many parameters, comments or long unquoted values; a few thousand parts with such
    headers take minutes. A header that is not "type/subtype" plus at most
    :data:`MAX_SIMPLE_PARAMS` simple parameters is rebuilt from its media type and the
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
