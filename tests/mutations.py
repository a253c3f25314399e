"""Hostile variants of the reply corpus for fuzz tests (no tests here): the corpus messages as
seeds, :func:`mutate`, which damages one the ways real mail gets damaged, and :func:`check`,
the promises every input must keep."""

from __future__ import annotations

import random
from pathlib import Path

from outreach.replies.classify import ClassificationResult, classify, matching_keys
from outreach.replies.parse import ParsedInbound, parse_inbound
from outreach.replies.snippet import snippet
from outreach.states import Classification

CORPUS = Path(__file__).resolve().parent / "fixtures" / "replies"
SEEDS = [p.read_bytes() for p in sorted(CORPUS.glob("*/*.eml"))]


def mutate(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        if not data:
            data = bytearray(rng.randbytes(rng.randint(0, 50)))
            continue
        pos = rng.randrange(len(data))
        if op == 0:  # flip bytes
            for _ in range(rng.randint(1, 20)):
                i = rng.randrange(len(data))
                data[i] = rng.randrange(256)
        elif op == 1:  # truncate
            del data[pos:]
        elif op == 2:  # insert random bytes
            data[pos:pos] = rng.randbytes(rng.randint(1, 200))
        elif op == 3:  # duplicate a chunk (repeated boundaries, headers)
            end = min(len(data), pos + rng.randint(1, 2000))
            data[pos:pos] = data[pos:end] * rng.randint(1, 5)
        elif op == 4:  # delete a chunk
            del data[pos : pos + rng.randint(1, 500)]
        elif op == 5:  # lie about charsets
            data = bytearray(
                bytes(data)
                .replace(b"utf-8", rng.choice([b"x-unknown", b"utf-16", b"base64", b"utf-7"]))
                .replace(b"UTF-8", b"x-unknown")
                .replace(b"us-ascii", b"bogus\x00charset")
            )
        elif op == 6:  # line endings
            data = bytearray(bytes(data).replace(b"\n", rng.choice([b"\r", b"\r\n", b"\n\r"])))
        elif op == 7:  # 8-bit and NUL bytes in the header block
            end = max(1, bytes(data).find(b"\n\n"))
            i = rng.randrange(end)
            data[i:i] = rng.choice([b"\xe9\xe8", b"\x00", b"\xff\xfe", b"\xc3(", "ü".encode()])
        else:  # break or nest boundaries
            data = bytearray(bytes(data).replace(b"--", rng.choice([b"-", b"---", b"--\r\n--"]), 3))
    return bytes(data)


def check(raw: bytes, *, max_bytes: int = 25 * 1024 * 1024) -> ParsedInbound:
    """The promises every input must keep."""
    p = parse_inbound(raw, max_bytes=max_bytes)
    assert isinstance(p, ParsedInbound)
    assert p.raw == raw and p.size == len(raw)
    for value in (p.subject, p.from_name or "", p.message_id or "", *p.in_reply_to):
        assert "\n" not in value and "\r" not in value
    if p.date is not None:
        assert p.date.utcoffset() is not None and p.date.utcoffset().total_seconds() == 0
    result = classify(p, unsubscribe_addresses=frozenset({"unsubscribe@example.org"}))
    assert isinstance(result, ClassificationResult)
    assert isinstance(result.kind, Classification)
    keys = matching_keys(p)
    assert all(i.startswith("<") and i.endswith(">") for i in keys.message_ids)
    assert len(snippet(p.text)) <= 160
    return p
