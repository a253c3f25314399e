"""How long sessions live and when sign-in is throttled. Pure: ``now`` is a parameter.

Throttling counts failed sign-ins in a sliding window, per account name (whether or not the
account exists, so the refusal says nothing about which names exist) and per client address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ThrottlePolicy:
    """Refuse sign-in after ``per_account`` failures for one name, or ``per_address`` from one
    address, within ``window``."""

    window: timedelta = timedelta(minutes=15)
    per_account: int = 5
    per_address: int = 20

    def since(self, now: datetime) -> datetime:
        """The start of the window that ends at ``now``."""
        return now - self.window

    def refuses(self, account_failures: int, address_failures: int) -> bool:
        """True when either count has reached its limit."""
        return account_failures >= self.per_account or address_failures >= self.per_address


@dataclass(frozen=True)
class SessionPolicy:
    """A session ends after ``idle`` without a request, and ``absolute`` after sign-in."""

    idle: timedelta = timedelta(hours=1)
    absolute: timedelta = timedelta(hours=12)

    def expires_at(self, signed_in_at: datetime) -> datetime:
        """When a session opened at ``signed_in_at`` ends at the latest."""
        return signed_in_at + self.absolute

    def is_live(
        self,
        *,
        last_seen_at: datetime,
        expires_at: datetime,
        revoked_at: datetime | None,
        now: datetime,
    ) -> bool:
        """True when a session may still be used at ``now``."""
        return revoked_at is None and now < expires_at and now - last_seen_at < self.idle


#: How long a one-time set-password link stays valid.
PASSWORD_LINK_LIFETIME = timedelta(hours=72)
