"""The clock is a parameter: read it once per tick and pass ``now`` down.

Every ``now`` in outreach is a timezone-aware datetime in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that only moves when told to (tests, ``--now``, the demo's virtual calendar)."""

    current: datetime = field(default_factory=lambda: datetime(2010, 1, 1, tzinfo=UTC))

    def __post_init__(self) -> None:
        self.current = ensure_utc(self.current)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self.current = self.current + (delta or timedelta(**kwargs))
        return self.current

    def set(self, moment: datetime) -> datetime:
        self.current = ensure_utc(moment)
        return self.current


def ensure_utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_now(text: str | None) -> datetime | None:
    """Parse a ``--now`` value (ISO 8601). A date alone means midnight UTC; no offset means UTC."""
    if text is None or text == "":
        return None
    from outreach.errors import OutreachError

    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise OutreachError(
            f"--now: {text!r} is not an ISO 8601 date or time (e.g. 2010-04-20T12:00Z)"
        ) from None
    return ensure_utc(value)


def clock_for(now: datetime | None) -> Clock:
    """A fixed clock at ``now`` when given (``--now``), else the system clock."""
    return FixedClock(now) if now is not None else SystemClock()
