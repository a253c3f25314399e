"""Personal data through the CLI, on SQLite and PostgreSQL: `contacts erase` (with its
confirmation), `contacts export EMAIL` (everything held, as JSON, and what is left after an
erasure), and the CSV exports (`contacts export --csv`, `replies list --csv`, `status --csv`)
whose formula-like cells are neutralised."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from outreach.smtpsink.server import SmtpSink
from tests.acceptance.replies_kit import NOW, sent_sample
from tests.cli import run_cli
from tests.conftest import Database
from tests.integration.privacy_kit import (
    P_EMAIL,
    P_NAME,
    R_EMAIL,
    History,
    build_history,
    traces,
)
from tests.planning import SAMPLE_CONTACTS

AFTER = "2010-06-01T12:00Z"


@pytest.fixture
def history(db: Database, tmp_path: Path) -> Iterator[History]:
    with SmtpSink(record=False) as sink:
        yield build_history(db.engine, db.url, tmp_path, sink)


def cli(db: Database, tmp_path: Path, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    """`outreach ARGS…` with the erasure key file in the test's folder."""
    env = {"OUTREACH_ERASURE_KEY_FILE": str(tmp_path / "erasure.key")}
    return run_cli(*args, db_url=db.url, env=env, input=input)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# --- contacts erase ----------------------------------------------------------------------------


def test_erase_asks_first_then_leaves_no_trace(
    db: Database, history: History, tmp_path: Path
) -> None:
    unconfirmed = cli(db, tmp_path, "contacts", "erase", P_EMAIL, "--reason", "letter of 1 June")
    assert unconfirmed.returncode == 1
    assert "add --yes to confirm" in unconfirmed.stderr and "Traceback" not in unconfirmed.stderr
    assert traces(db.engine, [P_EMAIL]), "nothing was erased without confirmation"
    no_reason = cli(db, tmp_path, "contacts", "erase", P_EMAIL, "--yes")
    assert no_reason.returncode == 2  # --reason is required

    erased = cli(
        db,
        tmp_path,
        "contacts",
        "erase",
        P_EMAIL.upper(),
        "--reason",
        f"request of {P_NAME} dated 1 June 2010",
        "--yes",
        "--now",
        AFTER,
    )
    assert erased.returncode == 0, erased.stderr
    assert erased.stdout.startswith("erased 1 address(es): 1 contact(s), 2 letter(s) emptied")
    assert "created the erasure key" in erased.stderr and "(mode 0600)" in erased.stderr
    assert (tmp_path / "erasure.key").stat().st_mode & 0o077 == 0
    assert traces(db.engine, [P_EMAIL, P_NAME]) == []

    left = json.loads(cli(db, tmp_path, "contacts", "export", P_EMAIL).stdout)
    assert left["erased"] is True and set(left) == {"email", "erased", "held"}
    again = cli(db, tmp_path, "contacts", "import", str(SAMPLE_CONTACTS), "--now", AFTER)
    assert again.returncode == 0, again.stderr
    assert "erased on request" in again.stderr and ", 1 erased" in again.stdout
    assert traces(db.engine, [P_EMAIL]) == []


def test_erase_refuses_a_bad_address_and_changes_nothing(
    db: Database, history: History, tmp_path: Path
) -> None:
    result = cli(
        db, tmp_path, "contacts", "erase", P_EMAIL, "not-an-address", "--reason", "x", "--yes"
    )
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "not-an-address" in result.stderr
    assert traces(db.engine, [P_EMAIL])
    assert not (tmp_path / "erasure.key").exists()


# --- contacts export EMAIL ---------------------------------------------------------------------


def test_export_one_person_holds_everything_about_them(
    db: Database, history: History, tmp_path: Path
) -> None:
    result = cli(db, tmp_path, "contacts", "export", P_EMAIL.upper())
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["email"], doc["erased"]) == (P_EMAIL, False)
    assert doc["contact"]["name"] == P_NAME and doc["contact"]["email"] == P_EMAIL
    assert doc["contact"]["fields"]["mission_city"] == "Geneva"
    assert [e["campaign"] for e in doc["enrollments"]] == ["ccm-2010"]
    steps = [letter["step"] for letter in doc["letters"]]
    assert steps == ["appeal", "appeal-follow-up"]
    appeal = doc["letters"][0]
    assert appeal["status"] == "sent" and appeal["attempts"][0]["smtp_code"] == 250
    assert P_NAME in appeal["approvals"][0]["note"]
    assert {a["filename"] for a in appeal["attachments"]} >= {"ccm-key-facts.pdf"}
    # the letters' words come from their bodies (message_body), the edited one as edited
    assert appeal["text"] and doc["letters"][1]["text"].startswith(f"Dear {P_NAME},")
    received = {m["classification"]: m for m in doc["received"]}
    assert {"auto_reply", "bounce_soft"} <= set(received)
    assert P_EMAIL in received["bounce_soft"]["raw"]
    assert doc["suppression"] is None
    actions = {(e["entity"], e["action"]) for e in doc["events"]}
    assert {("message", "edited"), ("message", "sent"), ("inbound", "received")} <= actions
    assert all(e["entity"] in ("message", "enrollment", "inbound") for e in doc["events"])

    r = json.loads(cli(db, tmp_path, "contacts", "export", R_EMAIL).stdout)
    assert r["suppression"]["reason"] == "unsubscribe"
    assert [m["classification"] for m in r["received"]] == ["unsubscribe"]


def test_export_says_when_nothing_is_held_or_the_request_is_unclear(
    db: Database, history: History, tmp_path: Path
) -> None:
    nobody = cli(db, tmp_path, "contacts", "export", "nobody@example.org")
    assert nobody.returncode == 1 and "nothing is held about nobody@example.org" in nobody.stderr
    neither = cli(db, tmp_path, "contacts", "export")
    assert neither.returncode == 1 and "--csv" in neither.stderr
    both = cli(db, tmp_path, "contacts", "export", P_EMAIL, "--csv")
    assert both.returncode == 1 and both.stdout == ""
    bad = cli(db, tmp_path, "contacts", "export", "not an address")
    assert bad.returncode == 1 and "email" in bad.stderr and "Traceback" not in bad.stderr


# --- CSV exports -------------------------------------------------------------------------------

HOSTILE_CSV = (
    "email,name,organisation,tags,note,phone\n"
    'hyper@example.org,"=HYPERLINK(""http://evil.example.org"",""x"")",@ministry,a;b,-2+3,'
    "+41 22 917 12 34\n"
    "plain@example.org,Plain Name,Mission,a,ordinary,12\n"
)


def test_contacts_export_csv_neutralises_formulas_and_reads_back(
    db: Database, tmp_path: Path
) -> None:
    source = tmp_path / "hostile.csv"
    source.write_text(HOSTILE_CSV, encoding="utf-8")
    imported = cli(db, tmp_path, "contacts", "import", str(source), "--now", NOW)
    assert imported.returncode == 0, imported.stderr
    result = cli(db, tmp_path, "contacts", "export", "--csv")
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0].split(",")
    assert header[:9] == [
        "email",
        "name",
        "salutation",
        "title",
        "organisation",
        "country",
        "language",
        "timezone",
        "tags",
    ]
    assert header[9:] == ["note", "phone"]
    by_email = {r["email"]: r for r in rows(result.stdout)}
    hyper = by_email["hyper@example.org"]
    assert hyper["name"] == '\'=HYPERLINK("http://evil.example.org","x")'
    assert hyper["organisation"] == "'@ministry" and hyper["note"] == "'-2+3"
    assert hyper["phone"] == "'+41 22 917 12 34" and hyper["tags"] == "a;b"
    assert by_email["plain@example.org"]["note"] == "ordinary"
    for row in rows(result.stdout):
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    only_b = rows(cli(db, tmp_path, "contacts", "export", "--csv", "--tag", "b").stdout)
    assert [r["email"] for r in only_b] == ["hyper@example.org"]


def test_a_contacts_export_imports_back_unchanged(db: Database, tmp_path: Path) -> None:
    assert (
        cli(db, tmp_path, "contacts", "import", str(SAMPLE_CONTACTS), "--now", NOW).returncode == 0
    )
    exported = tmp_path / "export.csv"
    exported.write_text(cli(db, tmp_path, "contacts", "export", "--csv").stdout, encoding="utf-8")
    assert len(rows(exported.read_text(encoding="utf-8"))) == 42
    again = cli(db, tmp_path, "contacts", "import", str(exported), "--now", NOW)
    assert again.returncode == 0, again.stderr
    assert "0 created, 0 updated, 42 unchanged" in again.stdout


def test_replies_and_status_csv(db: Database, tmp_path: Path) -> None:
    (mid, email, _), *_ = sent_sample(db)
    reply = tmp_path / "reply.eml"
    reply.write_bytes(
        (
            f"From: Correspondent <{email}>\r\nTo: outreach@example.org\r\n"
            "Subject: =cmd|' /C calc'!A0\r\nDate: Mon, 26 Apr 2010 10:00:00 +0200\r\n"
            f"Message-ID: <csv1@example.net>\r\nIn-Reply-To: {mid}\r\n\r\n"
            "@SUM(1+1) we will attend the meeting.\r\n"
        ).encode()
    )
    assert cli(db, tmp_path, "replies", "import", str(reply), "--now", NOW).returncode == 0
    listed = cli(db, tmp_path, "replies", "list", "--csv")
    assert listed.returncode == 0, listed.stderr
    [row] = rows(listed.stdout)
    assert row["subject"] == "'=cmd|' /C calc'!A0"
    assert row["snippet"].startswith("'@SUM(1+1)")
    assert row["from_addr"] == email and row["classification"] == "human"
    assert row["campaign"] == "ccm-2010" and row["needs_review"] == "false"
    assert json.loads(row["evidence"])["decided_by"]

    status = cli(db, tmp_path, "status", "--csv", "--now", NOW)
    assert status.returncode == 0, status.stderr
    [funnel] = rows(status.stdout)
    assert (funnel["campaign"], funnel["state"]) == ("ccm-2010", "active")
    assert funnel["sent"] == "3" and funnel["replied"] == "1"
    assert int(funnel["enrolled"]) >= 3
