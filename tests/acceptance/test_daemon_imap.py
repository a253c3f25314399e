"""`outreach daemon --once` against a real Dovecot: the replies job fetches, matches and acts."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from tests.cli import REPO, cli_env
from tests.dovecot import PASSWORD, DovecotServer, dovecot_available
from tests.integration.intake_kit import build_world, enrollment, reply, status_of

pytestmark = [
    pytest.mark.dovecot,
    pytest.mark.skipif(
        not dovecot_available(),
        reason="dovecot is not installed (Debian: apt-get install dovecot-imapd)",
    ),
]


def test_daemon_once_fetches_replies_from_dovecot(db) -> None:
    world = build_world(db.engine)
    folder = f"D{uuid.uuid4().hex[:10]}"
    with DovecotServer() as server:
        server.append(reply(world.a_email, in_reply_to=world.a_appeal), mailbox=folder)
        env = cli_env(
            db.url,
            {
                "OUTREACH_IMAP_HOST": "127.0.0.1",
                "OUTREACH_IMAP_PORT": str(server.port),
                "OUTREACH_IMAP_USERNAME": server.username,
                "OUTREACH_IMAP_PASSWORD": PASSWORD,
                "OUTREACH_IMAP_TLS": "none",
                "OUTREACH_IMAP_MAILBOX": folder,
                # no SMTP server: dispatch has nothing due at this moment anyway
                "OUTREACH_SMTP_HOST": "127.0.0.1",
                "OUTREACH_SMTP_PORT": "9",
                "OUTREACH_SMTP_TLS": "none",
                "OUTREACH_LOG_FORMAT": "json",
            },
        )
        result = subprocess.run(
            [sys.executable, "-m", "outreach", "daemon", "--once", "--now", "2010-04-27T12:00Z"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert PASSWORD not in result.stderr
        assert '"job": "replies"' in result.stderr
    assert enrollment(db, world.campaign_id, world.a_contact) == "replied"
    assert status_of(db, world.a_follow) == "cancelled"
    assert status_of(db, world.b_follow) != "cancelled"
