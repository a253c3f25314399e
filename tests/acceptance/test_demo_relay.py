"""`outreach demo --smtp-host HOST --smtp-port PORT` (the compose quick start's command, with
Mailpit as HOST): the sample campaign's letters go through a real SMTP server — here the
project's sink on loopback — every sent letter exactly once, and no `.eml` file is written; an
unreachable server stops the demo with one line."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from outreach.smtpsink.server import SmtpSink, free_port
from tests.cli import run_cli_process


def test_the_demo_sends_its_letters_through_the_given_smtp_server(tmp_path: Path) -> None:
    with SmtpSink(server_hostname="mailpit.example.org") as sink:
        result = run_cli_process(
            "demo",
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            str(sink.port),
            "--dir",
            str(tmp_path / "demo"),
            timeout=300,
        )
        received = sink.received
    assert result.returncode == 0, result.stderr
    match = re.search(
        r"(\d+) message\(s\) sent through the SMTP server at 127\.0\.0\.1:", result.stdout
    )
    assert match, result.stdout
    funnel = re.search(r"funnel: .*\bsent (\d+)", result.stdout)
    assert funnel is not None
    assert int(match.group(1)) == int(funnel.group(1)) == len(received) > 40
    assert max(Counter(r.message_id for r in received).values()) == 1  # none twice
    assert {r.mail_from for r in received} == {"outreach@example.org"}
    subjects = {r.content.split(b"\r\nSubject: ", 1)[1].split(b"\r\n", 1)[0] for r in received}
    assert len(subjects) >= 3  # the appeal, its follow-up and the invitation, in two languages
    assert not (tmp_path / "demo" / "sent").exists() or not any(
        (tmp_path / "demo" / "sent").iterdir()
    )


def test_an_unreachable_server_stops_the_demo_with_one_line(tmp_path: Path) -> None:
    port = free_port()
    result = run_cli_process(
        "demo", "--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--dir", str(tmp_path / "d")
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert f"cannot reach the SMTP server at 127.0.0.1:{port}" in result.stderr
