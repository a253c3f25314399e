"""The CLI with letters that carry attachments: a campaign naming a missing file is refused
with its file and key; `review show` lists the attachments and saves them on request; `review
test-send` sends the stored bytes to a test address."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from outreach.smtpsink.server import SmtpSink
from tests.cli import REPO, run_cli

CAMPAIGN = """
slug = "mini"
name = "Mini campaign"
timezone = "Europe/Zurich"

[sender]
name = "Cluster Munition Coalition"
email = "outreach@example.org"

[vars]
city = "Geneva"
city_fr = "Genève"
signatories = 106
ratifications = 30
signer_name = "Ingrid Halvorsen-Mbeki"
signer_title = "Director"
signer_title_fr = "Directrice"
website = "https://www.example.org/ccm"
recent_ratifications = [{ en = "Malta", fr = "Malte" }]

[letters]
filename = "{campaign}-{contact.organisation}.pdf"
signature = "files/signature.svg"

[[milestones]]
key = "entry_into_force"
title = "entry into force"
date = 2010-08-01

[[milestones]]
key = "first_msp"
title = "First Meeting of States Parties"
date = 2010-11-08
end = 2010-11-12
location = "Vientiane, Lao PDR"

[[steps]]
key = "appeal"
template = "ccm/appeal"
letter = "ccm/appeal_letter"
attachments = ["files/ccm-key-facts.pdf"]
calendar = "first_msp"
when = { milestone = "entry_into_force", days_before = 100, at = "09:00" }
"""
CONTACTS = (
    "email,name,salutation,organisation,country,language,honorific,courtesy\n"
    "jb.mukendi@affaires-etrangeres.example.org,Jean-Baptiste Mukendi,Monsieur le Ministre,"
    "Ministère des Affaires étrangères,CD,fr,S.E.,Mr\n"
)


def setup(tmp_path: Path, db_url: str) -> Path:
    folder = tmp_path / "campaigns"
    (folder / "files").mkdir(parents=True)
    for name in ("signature.svg", "ccm-key-facts.pdf"):
        shutil.copy(REPO / "config" / "campaigns" / "files" / name, folder / "files" / name)
    (folder / "mini.toml").write_text(CAMPAIGN, "utf-8")
    (tmp_path / "contacts.csv").write_text(CONTACTS, "utf-8")
    return folder / "mini.toml"


def test_a_missing_attachment_refuses_the_campaign(sqlite_db, tmp_path: Path) -> None:
    path = setup(tmp_path, sqlite_db.url)
    (path.parent / "files" / "ccm-key-facts.pdf").unlink()
    result = run_cli("campaign", "load", str(path), db_url=sqlite_db.url)
    assert result.returncode == 1
    assert (
        f"{path}: steps[0].attachments[0]: 'files/ccm-key-facts.pdf': no such file" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_show_save_and_test_send(sqlite_db, tmp_path: Path) -> None:
    path = setup(tmp_path, sqlite_db.url)
    assert run_cli("campaign", "load", str(path), db_url=sqlite_db.url).returncode == 0
    imported = run_cli("contacts", "import", str(tmp_path / "contacts.csv"), db_url=sqlite_db.url)
    assert imported.returncode == 0, imported.stderr
    planned = run_cli("plan", "--now", "2010-04-20T12:00Z", db_url=sqlite_db.url)
    assert planned.returncode == 0, planned.stderr
    assert run_cli("templates", "check", db_url=sqlite_db.url).returncode == 0
    [item] = json.loads(run_cli("review", "list", "--json", db_url=sqlite_db.url).stdout)
    mid = str(item["id"])
    out = tmp_path / "out"
    shown = run_cli("review", "show", mid, "--save-attachments", str(out), db_url=sqlite_db.url)
    assert shown.returncode == 0, shown.stderr
    assert "--- attachments (3) ---" in shown.stdout
    assert "mini-Ministère des Affaires étrangères.pdf  application/pdf" in shown.stdout
    assert "mini-first_msp.ics  text/calendar" in shown.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "ccm-key-facts.pdf",
        "mini-Ministère des Affaires étrangères.pdf",
        "mini-first_msp.ics",
    ]
    again = run_cli("review", "show", mid, "--save-attachments", str(out), db_url=sqlite_db.url)
    assert again.returncode == 1 and "--force" in again.stderr
    forced = run_cli(
        "review", "show", mid, "--save-attachments", str(out), "--force", db_url=sqlite_db.url
    )
    assert forced.returncode == 0, forced.stderr
    with SmtpSink() as smtp:
        env = {
            "OUTREACH_SMTP_HOST": smtp.host,
            "OUTREACH_SMTP_PORT": str(smtp.port),
            "OUTREACH_SMTP_TLS": "none",
        }
        sent = run_cli(
            "review",
            "test-send",
            mid,
            "--to",
            "reviewer@example.org",
            db_url=sqlite_db.url,
            env=env,
        )
        assert sent.returncode == 0, sent.stderr
        assert "sent to reviewer@example.org: 250" in sent.stdout
        [received] = smtp.received
    assert received.rcpt_tos == ("reviewer@example.org",)
    assert (
        b"To: Jean-Baptiste Mukendi <jb.mukendi@affaires-etrangeres.example.org>"
        in received.content
    )
    history = run_cli("review", "show", mid, db_url=sqlite_db.url).stdout
    assert "test_send" in history and "test_sent" in history
    [still] = json.loads(run_cli("review", "list", "--json", db_url=sqlite_db.url).stdout)
    assert still["id"] == item["id"]  # still pending review
