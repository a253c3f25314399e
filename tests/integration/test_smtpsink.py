"""The SMTP sink (outreach.smtpsink) itself: real aiosmtplib clients against it on 127.0.0.1."""

from __future__ import annotations

import ssl
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime

import aiosmtplib
import pytest

from outreach.compose import ComposeInput, compose
from outreach.smtpsink.server import SmtpSink
from outreach.smtpsink.values import DROP
from tests.tls import TestCA, make_test_ca


def message(n: int, to: str = "minister@example.org") -> bytes:
    """Real composed bytes (CRLF, Message-ID <msg-N@example.org>)."""
    return compose(
        ComposeInput(
            from_name="Cluster Munition Coalition",
            from_email="outreach@example.org",
            to_name="Nguyễn Thị Thu",
            to_email=to,
            reply_to=None,
            subject=f"Letter {n}",
            text=f"Dear Minister,\n\nletter {n}\n.\nend\n",
            html=None,
            date=datetime(2010, 4, 23, 9, 0, tzinfo=UTC),
            message_id=f"<msg-{n}@example.org>",
            list_unsubscribe_mailto=None,
            unsubscribe_url=None,
        )
    ).raw


async def send(server: SmtpSink, raw: bytes, to: str = "minister@example.org", **kw):
    return await aiosmtplib.send(
        raw,
        sender="outreach@example.org",
        recipients=[to],
        hostname=server.host,
        port=server.port,
        timeout=10,
        **kw,
    )


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


@pytest.fixture(scope="module")
def test_ca() -> TestCA:
    return make_test_ca()


async def test_plain_send_is_recorded_byte_for_byte(smtp: SmtpSink) -> None:
    raw = message(1)
    await send(smtp, raw, start_tls=False)
    [got] = smtp.received
    assert got.mail_from == "outreach@example.org"
    assert got.rcpt_tos == ("minister@example.org",)
    assert got.content == raw  # dot-stuffing undone, CRLF kept
    assert got.message_id == "<msg-1@example.org>"
    assert got.tls is False and got.auth_login is None
    assert smtp.received_message_ids() == ["<msg-1@example.org>"]


async def test_count_by_message_id_shows_duplicates(smtp: SmtpSink) -> None:
    await send(smtp, message(1))
    await send(smtp, message(2))
    await send(smtp, message(1))
    assert smtp.count_by_message_id() == {"<msg-1@example.org>": 2, "<msg-2@example.org>": 1}
    assert smtp.helo_count == 3


async def test_scripted_rcpt_refusal(smtp: SmtpSink) -> None:
    smtp.script_rcpt(lambda rcpt, n: "550 5.1.1 No such user" if rcpt.startswith("gone") else None)
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as err:
        await send(smtp, message(1, to="gone@example.org"), to="gone@example.org")
    assert err.value.recipients[0].code == 550
    assert "No such user" in err.value.recipients[0].message
    await send(smtp, message(2))
    assert smtp.received_message_ids() == ["<msg-2@example.org>"]
    assert [a.reply[:3] for a in smtp.rcpt_attempts] == ["550", "250"]


async def test_rcpt_script_sees_attempt_numbers(smtp: SmtpSink) -> None:
    smtp.script_rcpt(lambda rcpt, n: "450 4.2.0 Greylisted" if n == 1 else None)
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as err:
        await send(smtp, message(1))
    assert err.value.recipients[0].code == 450
    await send(smtp, message(1))
    assert smtp.count_by_message_id() == {"<msg-1@example.org>": 1}


async def test_fail_data_next_then_accept(smtp: SmtpSink) -> None:
    smtp.fail_data_next(2, "451 4.3.0 Try again later")
    for _ in range(2):
        with pytest.raises(aiosmtplib.SMTPDataError) as err:
            await send(smtp, message(1))
        assert err.value.code == 451
    await send(smtp, message(1))
    assert smtp.count_by_message_id() == {"<msg-1@example.org>": 1}
    assert [a.reply[:3] for a in smtp.data_attempts] == ["451", "451", "250"]


async def test_script_replies_per_message_id(smtp: SmtpSink) -> None:
    smtp.script_replies("<msg-2@example.org>", ["452 4.3.1 Full", "554 5.7.1 Rejected"])
    await send(smtp, message(1))
    with pytest.raises(aiosmtplib.SMTPDataError) as first:
        await send(smtp, message(2))
    with pytest.raises(aiosmtplib.SMTPDataError) as second:
        await send(smtp, message(2))
    await send(smtp, message(2))
    assert (first.value.code, second.value.code) == (452, 554)
    assert smtp.received_message_ids() == ["<msg-1@example.org>", "<msg-2@example.org>"]


async def test_script_data_by_attempt_number(smtp: SmtpSink) -> None:
    smtp.script_data(lambda mid, n: "421 4.7.0 Closing" if n < 3 else None)
    codes = []
    for _ in range(3):
        try:
            await send(smtp, message(7))
            codes.append(250)
        except aiosmtplib.SMTPResponseException as exc:
            codes.append(exc.code)
    assert codes[-1] == 250 and 250 not in codes[:-1]
    assert smtp.count_by_message_id() == {"<msg-7@example.org>": 1}


async def test_drop_after_data_leaves_client_without_reply(smtp: SmtpSink) -> None:
    smtp.drop_data_next(1)
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await send(smtp, message(1))
    assert smtp.received == []
    assert [a.reply for a in smtp.data_attempts] == [DROP]
    await send(smtp, message(1))
    assert smtp.count_by_message_id() == {"<msg-1@example.org>": 1}


async def test_data_delay_makes_the_client_time_out(smtp: SmtpSink) -> None:
    smtp.set_data_delay(3.0)
    with pytest.raises(aiosmtplib.SMTPTimeoutError):
        await aiosmtplib.send(
            message(1),
            sender="outreach@example.org",
            recipients=["minister@example.org"],
            hostname=smtp.host,
            port=smtp.port,
            timeout=0.5,
        )
    assert [a.message_id for a in smtp.data_attempts] == ["<msg-1@example.org>"]
    assert smtp.received == []  # the client hung up during the delay
    smtp.set_data_delay(0)


async def test_stop_and_start_on_the_same_port(smtp: SmtpSink) -> None:
    port = smtp.port
    await send(smtp, message(1))
    smtp.stop()
    assert not smtp.running
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await send(smtp, message(2))
    smtp.start()
    assert smtp.port == port
    await send(smtp, message(2))
    assert smtp.received_message_ids() == ["<msg-1@example.org>", "<msg-2@example.org>"]


async def test_starttls_with_test_ca_and_certificate_validation(test_ca: TestCA) -> None:
    with SmtpSink(tls_context=test_ca.server_context, require_starttls=True) as server:
        await send(
            server,
            message(1),
            start_tls=True,
            validate_certs=True,
            tls_context=test_ca.client_context,
        )
        [got] = server.received
        assert got.tls is True


async def test_starttls_with_wrong_ca_fails(test_ca: TestCA) -> None:
    with SmtpSink(tls_context=test_ca.server_context, require_starttls=True) as server:
        # aiosmtplib 5.x lets the ssl error through unwrapped (not an SMTPException).
        with pytest.raises(ssl.SSLCertVerificationError):
            await send(
                server,
                message(1),
                start_tls=True,
                validate_certs=True,
                tls_context=test_ca.wrong_client_context,
            )
        assert server.received == []


async def test_require_starttls_refuses_plain_mail(test_ca: TestCA) -> None:
    with SmtpSink(tls_context=test_ca.server_context, require_starttls=True) as server:
        with pytest.raises(aiosmtplib.SMTPResponseException) as err:
            await send(server, message(1), start_tls=False)
        assert err.value.code == 530
        assert server.received == []


async def test_implicit_tls(test_ca: TestCA) -> None:
    with SmtpSink(implicit_tls_context=test_ca.server_context) as server:
        await send(server, message(1), use_tls=True, tls_context=test_ca.client_context)
        assert [r.tls for r in server.received] == [True]


async def test_auth_ok_and_535(test_ca: TestCA) -> None:
    with SmtpSink(
        tls_context=test_ca.server_context,
        require_starttls=True,
        auth={"outreach": "s3cret"},
        auth_required=True,
    ) as server:
        tls = {"start_tls": True, "tls_context": test_ca.client_context}
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as err:
            await send(server, message(1), username="outreach", password="wrong", **tls)
        assert err.value.code == 535
        await send(server, message(2), username="outreach", password="s3cret", **tls)
        assert [(r.message_id, r.auth_login) for r in server.received] == [
            ("<msg-2@example.org>", "outreach")
        ]


async def test_auth_required_on_plain_connection_without_warning() -> None:
    with SmtpSink(auth={"u": "p"}, auth_required=True, auth_require_tls=False) as server:
        with pytest.raises(aiosmtplib.SMTPResponseException) as err:
            await send(server, message(1), start_tls=False)
        assert err.value.code == 530  # authentication required
        await send(server, message(1), start_tls=False, username="u", password="p")
        assert len(server.received) == 1


def test_separate_process_can_send(smtp: SmtpSink) -> None:
    """A dispatcher in another process reaches the server like any SMTP server."""
    raw = message(9)
    script = textwrap.dedent(
        """
        import smtplib, sys
        raw = sys.stdin.buffer.read()
        with smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=10) as client:
            client.sendmail("outreach@example.org", ["minister@example.org"], raw)
        """
    )
    subprocess.run(
        [sys.executable, "-c", script, smtp.host, str(smtp.port)],
        input=raw,
        check=True,
        timeout=30,
    )
    assert smtp.wait_for_messages(1, timeout=5)
    assert smtp.received[0].content == raw


def test_wait_for_messages_times_out(smtp: SmtpSink) -> None:
    assert smtp.wait_for_messages(1, timeout=0.2) is False
