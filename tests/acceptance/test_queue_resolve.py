"""`outreach queue resolve` through the CLI: many ids, or every unknown message of a campaign
with a count confirmation (`--yes`), all or nothing."""

from __future__ import annotations

import sqlalchemy as sa

from outreach.db import session_scope
from outreach.models import Event, Message
from tests.cli import run_cli
from tests.factories import T0
from tests.integration.dispatch_kit import add_approved, make_world, message, statuses

NOW = T0.isoformat()


def unknown_world(db) -> tuple[list[int], list[int]]:
    """Two campaigns with three ``unknown`` messages each (and one sent message in each)."""
    with session_scope(db.engine) as s:
        ours = add_approved(s, make_world(s, slug="ccm"), 4)
        theirs = add_approved(s, make_world(s, slug="other"), 4)
        s.execute(
            sa.update(Message).where(Message.id.in_(ours[:3] + theirs[:3])).values(status="unknown")
        )
        s.execute(
            sa.update(Message).where(Message.id.in_([ours[3], theirs[3]])).values(status="sent")
        )
    return ours, theirs


def resolve(db, *args: str, input: str | None = None):
    return run_cli("queue", "resolve", *args, "--now", NOW, db_url=db.url, input=input)


def test_many_ids_are_resolved_together(db) -> None:
    ours, theirs = unknown_world(db)
    out = resolve(db, str(ours[0]), str(theirs[1]), "--sent")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2 messages are now sent"
    st = statuses(db.engine)
    assert (st[ours[0]], st[theirs[1]], st[ours[1]]) == ("sent", "sent", "unknown")
    again = resolve(db, str(ours[1]), "--retry")
    assert again.returncode == 0 and again.stdout.strip() == f"message {ours[1]} is now approved"
    m = message(db.engine, ours[1])
    assert m.status == "approved" and m.due_at == T0 and m.lease_token is None
    with session_scope(db.engine) as s:
        reasons = s.execute(
            sa.select(Event.reason).where(Event.action == "resolved").order_by(Event.id)
        ).scalars()
        assert list(reasons) == ["operator: delivered"] * 2 + ["operator: send again"]


def test_one_bad_id_resolves_nothing(db) -> None:
    ours, _ = unknown_world(db)
    out = resolve(db, str(ours[0]), str(ours[3]), "999999", "--sent")
    assert out.returncode == 1
    assert out.stderr.strip() == (
        f"error: no message 999999; message {ours[3]} is sent, not unknown; only unknown "
        "messages can be resolved; nothing was resolved"
    )
    assert statuses(db.engine)[ours[0]] == "unknown"


def test_every_unknown_of_a_campaign_after_a_confirmation(db) -> None:
    ours, theirs = unknown_world(db)
    refused = resolve(db, "--status", "unknown", "--campaign", "ccm", "--retry")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "error: queue resolve would resolve 3 message(s) in ccm (3) as approved; "
        "add --yes to confirm"
    )
    assert [statuses(db.engine)[mid] for mid in ours[:3]] == ["unknown"] * 3
    done = resolve(db, "--status", "unknown", "--campaign", "ccm", "--retry", "--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3 messages are now approved"
    st = statuses(db.engine)
    assert [st[mid] for mid in ours] == ["approved", "approved", "approved", "sent"]
    assert [st[mid] for mid in theirs[:3]] == ["unknown"] * 3
    nothing = resolve(db, "--status", "unknown", "--campaign", "ccm", "--sent", "--yes")
    assert nothing.returncode == 0 and nothing.stdout.strip() == "no unknown messages"
    every = resolve(db, "--status", "unknown", "--sent", "-y")
    assert every.returncode == 0 and every.stdout.strip() == "3 messages are now sent"
    assert set(statuses(db.engine).values()) == {"approved", "sent"}


def test_usage_errors(sqlite_db) -> None:
    for args in [
        ("1", "--sent", "--retry"),
        ("1",),
        ("1", "--status", "unknown", "--sent"),
        ("--sent",),
        ("--status", "sent", "--sent"),
        ("1", "--campaign", "ccm", "--sent"),
    ]:
        out = resolve(sqlite_db, *args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
    missing = resolve(sqlite_db, "--status", "unknown", "--campaign", "nope", "--sent", "--yes")
    assert missing.returncode == 1 and missing.stderr.strip() == "error: no campaign 'nope'"
