"""Finding and removing what identifies a person in free text, JSON and raw mail (pure).

The needles are the person's addresses and names, compared without regard to case. A name is
a needle only when it is at least :data:`MIN_NAME_LENGTH` characters long, so that erasing
"Li" does not blank every "Li" in the audit log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

#: What replaces a needle in text that is kept.
REDACTED = "[erased]"
#: The shortest name searched for.
MIN_NAME_LENGTH = 5


@dataclass(frozen=True)
class Needles:
    """What identifies the people being erased: their addresses and names."""

    words: tuple[str, ...]

    @classmethod
    def of(cls, emails: Iterable[str], names: Iterable[str | None]) -> Needles:
        """The needles for ``emails`` and ``names`` (short or empty names left out)."""
        kept = {e.strip() for e in emails if e and e.strip()}
        kept |= {" ".join(n.split()) for n in names if n and len(n.strip()) >= MIN_NAME_LENGTH}
        return cls(tuple(sorted(kept, key=lambda w: (-len(w), w))))

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        if not self.words:
            return None
        return re.compile("|".join(re.escape(w) for w in self.words), re.IGNORECASE)

    def found_in(self, text: str | None) -> bool:
        """True when ``text`` contains a needle."""
        pattern = self._pattern
        return bool(text) and pattern is not None and pattern.search(text or "") is not None

    def found_in_json(self, value: Any) -> bool:
        """True when a needle appears anywhere in a JSON value (keys included)."""
        return self.found_in(json.dumps(value, ensure_ascii=False, default=str))

    def found_in_bytes(self, raw: bytes | None) -> bool:
        """True when a needle appears in ``raw`` as UTF-8 (ASCII letters in any case)."""
        if not raw:
            return False
        lowered = raw.lower()
        return any(w.lower().encode("utf-8") in lowered for w in self.words)

    def redact(self, text: str | None) -> str | None:
        """``text`` with every needle replaced by :data:`REDACTED`."""
        pattern = self._pattern
        if text is None or pattern is None:
            return text
        return pattern.sub(REDACTED, text)

    def redact_json(self, value: Any) -> Any:
        """A JSON value with every needle in its strings (keys included) replaced."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self.redact(str(k)): self.redact_json(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_json(v) for v in value]
        return value
