"""Retry decisions (outreach.retry, pure): sent, retry with backoff, give up, or stop."""

from __future__ import annotations

import ast
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach.retry import BASE_DELAY, MAX_DELAY, backoff_delay, decide, enhanced_status

T0 = datetime(2010, 4, 20, 12, 0, tzinfo=UTC)
LIFE = timedelta(days=3)


def d(code, text="", *, attempts=1, first=T0, now=T0, stage=None, seed=1):
    return decide(
        code,
        text,
        attempts=attempts,
        first_attempt_at=first,
        now=now,
        lifetime=LIFE,
        rng=random.Random(seed),
        stage=stage,
    )


def test_250_is_sent() -> None:
    r = d(250, "2.0.0 queued as ABC", stage="data")
    assert r.outcome == "sent" and r.next_attempt_at is None and "queued" in r.reason


@pytest.mark.parametrize("code", [None, 450, 451, 452, 454])
def test_transient_failures_retry_after_about_a_minute(code) -> None:
    r = d(code, "4.3.0 try later" if code else "Connection refused", stage="rcpt")
    assert r.outcome == "retry" and not r.bounce
    assert T0 + BASE_DELAY * 0.75 <= r.next_attempt_at <= T0 + BASE_DELAY


def test_backoff_doubles_and_caps_at_an_hour() -> None:
    rng = random.Random(3)
    nominal = [backoff_delay(n, rng) for n in range(1, 12)]
    for n, delay in enumerate(nominal, start=1):
        expected = min(BASE_DELAY * 2 ** (n - 1), MAX_DELAY)
        assert expected * 0.75 <= delay <= expected
    assert all(x <= MAX_DELAY for x in nominal)


def test_jitter_spreads_retries() -> None:
    times = {d(451, attempts=3, seed=s).next_attempt_at for s in range(20)}
    assert len(times) > 10


def test_lifetime_exceeded_fails_with_the_last_reply() -> None:
    r = d(451, "4.7.1 greylisted", attempts=40, now=T0 + LIFE)
    assert (
        r.outcome == "failed" and "451 4.7.1 greylisted" in r.reason and "40 attempts" in r.reason
    )
    just_before = d(451, "x", attempts=40, now=T0 + LIFE - timedelta(minutes=1))
    assert just_before.outcome == "retry" and just_before.next_attempt_at <= T0 + LIFE


def test_5xx_fails_at_once_and_5_1_x_bounces() -> None:
    r = d(550, "5.1.1 <x@example.org>: Recipient address rejected", stage="rcpt")
    assert r.outcome == "failed" and r.bounce
    assert d(550, "5.1.2 bad domain", stage="data").bounce
    assert not d(550, "5.7.1 rejected by policy", stage="rcpt").bounce
    assert d(550, "5.7.1 rejected by policy", stage="rcpt").outcome == "failed"
    assert not d(554, "transaction failed", stage="data").bounce
    # 5.1.x at MAIL FROM (or 5.1.7/5.1.8) is about our sender, not the contact
    assert not d(553, "5.1.8 sender domain rejected", stage="mail").bounce
    assert not d(550, "5.1.7 bad sender", stage="rcpt").bounce


@pytest.mark.parametrize("code", [530, 535])
def test_authentication_failures_stop(code) -> None:
    assert d(code, "5.7.8 Authentication credentials invalid").outcome == "auth_error"


def test_connection_level_failures_back_off_the_server() -> None:
    assert d(None, "Connection refused", stage="connect").outcome == "server_backoff"
    assert d(421, "4.3.2 shutting down", stage="connect").outcome == "server_backoff"
    assert d(554, "5.3.2 go away", stage="connect").outcome == "server_backoff"
    assert d(421, "4.4.2 timeout", stage="rcpt").outcome == "server_backoff"
    gone = d(None, "refused", stage="connect", now=T0 + LIFE)
    assert gone.outcome == "failed"


@given(
    code=st.one_of(st.none(), st.integers(200, 599)),
    attempts=st.integers(1, 200),
    elapsed=st.integers(0, 4 * 24 * 3600),
    stage=st.sampled_from([None, "connect", "mail", "rcpt", "data"]),
)
def test_decisions_are_well_formed(code, attempts, elapsed, stage) -> None:
    now = T0 + timedelta(seconds=elapsed)
    r = d(code, "4.0.0 x", attempts=attempts, now=now, stage=stage)
    if r.outcome in ("retry", "server_backoff"):
        assert now <= r.next_attempt_at <= max(now, T0 + LIFE)
        assert r.next_attempt_at - now <= MAX_DELAY
    else:
        assert r.next_attempt_at is None
    if elapsed >= LIFE.total_seconds() and r.outcome not in ("sent", "auth_error"):
        assert r.outcome == "failed"


def test_enhanced_status() -> None:
    assert enhanced_status("5.1.1 user unknown") == (5, 1, 1)
    assert enhanced_status(" 4.7.10 x") == (4, 7, 10)
    assert enhanced_status("user unknown 5.1.1") is None


def test_retry_module_is_pure() -> None:
    source = Path(__file__).resolve().parents[2] / "outreach" / "retry.py"
    tree = ast.parse(source.read_text())
    imported = {
        (n.module or "") if isinstance(n, ast.ImportFrom) else a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for a in n.names
    }
    assert not {m for m in imported if m.split(".")[0] in ("sqlalchemy", "sqlmodel", "aiosmtplib")}
    assert "now()" not in source.read_text().replace("``now``", "")
