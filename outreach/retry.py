"""What to do after one SMTP attempt: sent, retry later, give up, or stop. Pure.

No clock, no database, no SMTP: the reply code and text, the attempt count, the first attempt's
time, ``now``, the retry lifetime and a random source go in; a :class:`RetryDecision` comes out.

Policy (DESIGN.md rule 3):

* 2xx → ``sent``.
* 530/534/535/538 (authentication required/failed) → ``auth_error``: the dispatcher stops, the
  message is not charged an attempt.
* A failure while connecting (refused, timeout, a 4xx/5xx greeting) and 421 at any stage →
  ``server_backoff``: the server, not the message, is the problem; retried like a 4xx.
* Any other 4xx, and network errors (``code is None``) → ``retry`` after about a minute,
  doubling per attempt, capped at an hour, with jitter (75–100 % of the nominal delay).
* Once ``now - first_attempt_at >= lifetime`` a retryable failure is ``failed`` instead, with
  the last reply as its reason.
* Any other 5xx → ``failed`` at once. A 5.1.x enhanced status (bad mailbox or domain) refused at
  RCPT also sets ``bounce`` (the address is suppressed: DESIGN.md rule 4 asks for conclusive
  evidence); after DATA only a domain failure (5.1.2, 5.1.10) does — content filters word their
  refusals "user unknown" too. A 5.7.x policy rejection never does, nor does 5.1.7/5.1.8 (those
  are about our sender address).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

#: What an attempt's reply means (see the module docstring).
DecisionKind = Literal["sent", "retry", "failed", "auth_error", "server_backoff"]
#: Where in the SMTP transaction a reply (or a network error) came.
Stage = Literal["connect", "mail", "rcpt", "data"]

BASE_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=1)
#: The jittered delay lies in [JITTER_LOW × nominal, nominal].
JITTER_LOW = 0.75
AUTH_CODES = frozenset({530, 534, 535, 538})

_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")


class Random(Protocol):
    def uniform(self, a: float, b: float, /) -> float: ...


@dataclass(frozen=True)
class RetryDecision:
    """The verdict on one attempt.

    ``next_attempt_at`` is set for ``retry`` and ``server_backoff`` only. ``reason`` is one line
    for people (the server's reply, plus why we gave up when we did). ``bounce`` is True for a
    permanent failure that says the recipient address is bad (5.1.x).
    """

    outcome: DecisionKind
    next_attempt_at: datetime | None
    reason: str
    bounce: bool = False


def enhanced_status(message: str) -> tuple[int, int, int] | None:
    """The RFC 3463 enhanced status code at the start of a reply text, e.g. (5, 1, 1)."""
    m = _ENHANCED.match(message or "")
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def describe(code: int | None, message: str) -> str:
    """One line for a reply (or a network error when ``code`` is None)."""
    text = " ".join((message or "").split())
    if code is None:
        return text or "network error"
    return f"{code} {text}".strip()


def backoff_delay(attempts: int, rng: Random) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 1 min × 2^(attempts-1), capped at 1 h,
    times a jitter factor in [0.75, 1]."""
    exponent = max(0, min(attempts - 1, 16))
    nominal = min(BASE_DELAY * (2**exponent), MAX_DELAY)
    return nominal * rng.uniform(JITTER_LOW, 1.0)


def decide(
    code: int | None,
    message: str,
    *,
    attempts: int,
    first_attempt_at: datetime,
    now: datetime,
    lifetime: timedelta,
    rng: Random,
    stage: Stage | None = None,
) -> RetryDecision:
    """Decide what an attempt's reply means (see the module docstring for the policy).

    ``attempts`` counts this attempt (1 for the first); ``first_attempt_at`` is when the first
    one started; ``stage`` is where the reply came (``None``: unknown, treated like DATA).
    """
    reason = describe(code, message)
    if code is not None and 200 <= code < 300 and stage in (None, "data"):
        return RetryDecision("sent", None, reason)
    if code in AUTH_CODES:
        return RetryDecision("auth_error", None, reason)
    if code is not None and 500 <= code < 600 and stage != "connect":
        status = enhanced_status(message)
        bounce = (
            status is not None
            and status[0] == 5
            and status[1] == 1
            and status[2] not in (7, 8)
            and (stage == "rcpt" or (stage != "mail" and status[2] in (2, 10)))
        )
        return RetryDecision("failed", None, reason, bounce=bounce)
    # retryable: network error, 4xx, an unexpected code, or anything while connecting
    if now - first_attempt_at >= lifetime:
        hours = lifetime.total_seconds() / 3600
        return RetryDecision(
            "failed",
            None,
            f"gave up after {attempts} attempts over {hours:g} h; last reply: {reason}",
        )
    delay = backoff_delay(attempts, rng)
    next_at = min(now + delay, first_attempt_at + lifetime)
    outcome: DecisionKind = "server_backoff" if stage == "connect" or code == 421 else "retry"
    return RetryDecision(outcome, max(next_at, now), reason)
