"""TLS modes against a loopback server with a test CA (trustme): STARTTLS required and
verified, implicit TLS, and clear errors when verification fails or STARTTLS is missing."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from outreach.clock import FixedClock
from outreach.dispatch import Dispatcher
from outreach.errors import SmtpTlsError
from tests.integration.dispatch_kit import SmtpSink, setup, smtp_settings, statuses


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def wrong_ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


async def test_starttls_verified_with_the_right_ca(sqlite_db, server_context, ca_file, clock):
    with SmtpSink(tls_context=server_context, require_starttls=True) as sink:
        _, _ids = setup(sqlite_db.engine, 3)
        settings = smtp_settings(
            sqlite_db.url, sink.port, smtp_tls="starttls", smtp_ca_file=str(ca_file)
        )
        summary = await Dispatcher(sqlite_db.engine, settings, clock=clock).run_once()
    assert summary.sent == 3 and len(sink.handler.received) == 3


async def test_starttls_with_a_wrong_ca_fails_clearly_and_sends_nothing(
    sqlite_db, server_context, wrong_ca_file, clock
):
    with SmtpSink(tls_context=server_context, require_starttls=True) as sink:
        _, _ids = setup(sqlite_db.engine, 3)
        settings = smtp_settings(
            sqlite_db.url, sink.port, smtp_tls="starttls", smtp_ca_file=str(wrong_ca_file)
        )
        with pytest.raises(SmtpTlsError) as err:
            await Dispatcher(sqlite_db.engine, settings, clock=clock).run_once()
    assert "certificate verification failed" in err.value.message
    assert f"127.0.0.1:{sink.port}" in err.value.message
    assert "\n" not in err.value.message
    assert set(statuses(sqlite_db.engine).values()) == {"approved"}
    assert sink.handler.received == []


async def test_starttls_required_even_when_the_server_does_not_offer_it(sqlite_db, ca_file, clock):
    with SmtpSink() as sink:  # no STARTTLS: a stripping attacker looks like this
        setup(sqlite_db.engine, 1)
        settings = smtp_settings(
            sqlite_db.url, sink.port, smtp_tls="starttls", smtp_ca_file=str(ca_file)
        )
        with pytest.raises(SmtpTlsError, match="does not offer STARTTLS"):
            await Dispatcher(sqlite_db.engine, settings, clock=clock).run_once()
    assert sink.handler.received == []
    assert set(statuses(sqlite_db.engine).values()) == {"approved"}


async def test_implicit_tls(sqlite_db, server_context, ca_file, clock):
    with SmtpSink(ssl_context=server_context) as sink:
        setup(sqlite_db.engine, 2)
        settings = smtp_settings(
            sqlite_db.url, sink.port, smtp_tls="tls", smtp_ca_file=str(ca_file)
        )
        summary = await Dispatcher(
            sqlite_db.engine, settings, clock=FixedClock(clock.now())
        ).run_once()
    assert summary.sent == 2 and len(sink.handler.received) == 2
