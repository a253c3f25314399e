"""What one reply-intake run did: :class:`IntakeReport`, added up over batches. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class IntakeReport:
    """What one intake run did.

    ``processed``: messages newly stored; ``duplicates``: messages already stored (or repeated
    in the input), which changed nothing; ``by_class``: newly stored messages by
    classification; ``unmatched``: newly stored messages that matched no letter; ``errors``:
    messages stored raw with an error (unparseable, or refused by the database). ``source``
    names where they came from; ``rescanned`` is true when a changed UIDVALIDITY forced a
    re-scan of the IMAP mailbox.
    """

    processed: int = 0
    duplicates: int = 0
    by_class: Mapping[str, int] = field(default_factory=dict)
    unmatched: int = 0
    errors: int = 0
    source: str | None = None
    rescanned: bool = False

    def __add__(self, other: IntakeReport) -> IntakeReport:
        counts = Counter(self.by_class)
        counts.update(other.by_class)
        return IntakeReport(
            processed=self.processed + other.processed,
            duplicates=self.duplicates + other.duplicates,
            by_class=dict(counts),
            unmatched=self.unmatched + other.unmatched,
            errors=self.errors + other.errors,
            source=self.source or other.source,
            rescanned=self.rescanned or other.rescanned,
        )

    def __str__(self) -> str:
        classes = ", ".join(f"{k} {v}" for k, v in sorted(self.by_class.items()) if v)
        where = f"{self.source}: " if self.source else ""
        return (
            f"replies {where}{self.processed} new"
            + (f" ({classes})" if classes else "")
            + f", {self.duplicates} duplicate{'s' if self.duplicates != 1 else ''}"
            + f", {self.unmatched} unmatched, {self.errors} error{'s' if self.errors != 1 else ''}"
            + (" (UIDVALIDITY changed: mailbox re-scanned)" if self.rescanned else "")
        )

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (``outreach replies … --json``)."""
        return {**asdict(self), "by_class": dict(self.by_class)}
