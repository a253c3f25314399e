"""Zero exceptions on any input: every message of the labelled corpus (tests/fixtures/corpus),
mutated many ways, still parses, classifies and keys without raising (the same promises as
tests/unit/test_replies_parse_fuzz.py, on the new bounce shapes: SES JSON, InterScan, Domino, fml...)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.mutations import check, mutate

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"
FILES = sorted(CORPUS.glob("*/*.eml"))


@pytest.mark.parametrize("system", sorted({f.parent.name for f in FILES}))
def test_mutated_corpus_messages_never_raise(system: str) -> None:
    rng = random.Random(system)
    for path in (f for f in FILES if f.parent.name == system):
        raw = path.read_bytes()
        check(raw)
        for _ in range(12):
            check(mutate(raw, rng))
