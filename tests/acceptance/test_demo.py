"""`outreach demo`: the whole pipeline offline; its .eml files parse; its funnel is what its
injected replies imply."""

from __future__ import annotations

import csv
from email import policy
from email.parser import BytesParser
from pathlib import Path

import sqlalchemy as sa

from outreach.demo import SCRIPT, run_demo
from tests.cli import REPO, run_cli


def audience() -> tuple[int, int]:
    with (REPO / "config" / "contacts" / "ccm-2010-sample.csv").open(encoding="utf-8-sig") as fh:
        rows = [{t.strip() for t in r["tags"].split(";")} for r in csv.DictReader(fh)]
    joined = [t for t in rows if "not-joined" in t]
    return len(joined), sum(1 for t in joined if "affected-state" in t)


def test_demo_runs_and_its_funnel_matches_its_replies(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_demo(tmp_path / "demo", echo=lines.append)
    appeals, invited_audience = audience()
    kinds = [s.kind for s in SCRIPT]
    funnel = result.funnel
    assert funnel["enrolled"] == appeals
    assert funnel["replied"] == kinds.count("human")
    assert funnel["bounced"] == kinds.count("bounce_hard") == 1
    assert funnel["unsubscribed"] == kinds.count("unsubscribe") == 1
    # replies before the follow-ups were queued (4 May) stop them; one after cancels one
    before_follow_up = [
        s for s in SCRIPT if s.step == "appeal" and s.day.isoformat() < "2010-05-04"
    ]
    stopping = [s for s in before_follow_up if s.kind != "auto_reply"]
    assert funnel["cancelled"] == 1
    follow_ups = appeals - len(stopping) - 1
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'demo' / 'outreach.db'}")
    with engine.connect() as conn:
        by_step = dict(
            conn.execute(
                sa.text(
                    "SELECT s.key, count(*) FROM message m JOIN step s ON s.id = m.step_id "
                    "WHERE m.status = 'sent' GROUP BY s.key"
                )
            ).all()
        )
        sent_ids = {
            r[0]
            for r in conn.execute(sa.text("SELECT message_id FROM message WHERE status = 'sent'"))
        }
    engine.dispose()
    assert by_step["appeal"] == appeals
    assert by_step["appeal-follow-up"] == follow_ups
    # the invitation goes to the affected states still active (nobody who replied or left)
    assert 0 < by_step["msp-invitation"] <= invited_audience
    assert funnel["sent"] == sum(by_step.values()) == result.eml_count
    files = sorted(result.folder.glob("*.eml"))
    assert len(files) == result.eml_count
    parsed_ids = set()
    enclosed: dict[str, set[str]] = {}
    for f in files:
        msg = BytesParser(policy=policy.default).parsebytes(f.read_bytes())
        assert msg["From"] and msg["To"] and msg["Subject"] and msg.get_body(("plain",))
        parsed_ids.add(msg["Message-ID"])
        types = {part.get_content_type() for part in msg.iter_attachments()}
        enclosed.setdefault(msg["X-Outreach-Step"], set()).update(types)
    assert parsed_ids == sent_ids
    # the .eml files show the letters as sent: the appeal's PDF letter, the invitation's event
    assert enclosed["appeal"] == {"application/pdf"}
    assert enclosed["msp-invitation"] == {"text/calendar"}
    text = "\n".join(lines)
    assert "appeal-follow-up: cancelled" in text
    assert "msp-invitation: sent" in text


def test_demo_command_quiet(tmp_path: Path) -> None:
    result = run_cli("demo", "--quiet", "--dir", str(tmp_path / "d"))
    assert result.returncode == 0, result.stderr
    assert "funnel:" in result.stdout and ".eml" in result.stdout
