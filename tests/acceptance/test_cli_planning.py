"""Issue 3's promises through the real CLI: imports, campaign validation, plan, preview."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.cli import REPO, run_cli, run_cli_process

BAD_CAMPAIGNS = sorted((REPO / "tests" / "fixtures" / "campaigns" / "bad").glob("*.toml"))
CSV_7_12 = REPO / "tests" / "fixtures" / "contacts" / "line7_line12.csv"


def table_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("campaign", "milestone", "step", "contact", "message", "event")
        }


def test_bad_rows_on_lines_7_and_12_import_nothing(db) -> None:
    result = run_cli("contacts", "import", str(CSV_7_12), db_url=db.url)
    assert result.returncode == 1
    assert "line 7" in result.stderr and "line 12" in result.stderr
    assert "Traceback" not in result.stderr
    assert table_counts(db.engine)["contact"] == 0
    result = run_cli("contacts", "import", str(CSV_7_12), "--skip-invalid", db_url=db.url)
    assert result.returncode == 0, result.stderr
    assert "line 7" in result.stderr and "line 12" in result.stderr
    listed = json.loads(run_cli("contacts", "list", "--json", db_url=db.url).stdout)
    assert len(listed) == table_counts(db.engine)["contact"] > 0
    emails = [c["email"] for c in listed]
    assert len(emails) == len(set(emails))


@pytest.mark.parametrize("path", BAD_CAMPAIGNS, ids=[p.stem for p in BAD_CAMPAIGNS])
def test_malformed_campaign_files_are_refused_and_change_nothing(sqlite_db, path: Path) -> None:
    ok = run_cli("campaign", "load", str(REPO / "config" / "campaigns"), db_url=sqlite_db.url)
    assert ok.returncode == 0, ok.stderr
    before = table_counts(sqlite_db.engine)
    result = run_cli(
        "campaign",
        "load",
        str(path),
        db_url=sqlite_db.url,
        env={"OUTREACH_TEMPLATES_DIR": str(REPO / "tests" / "fixtures" / "templates")},
    )
    assert result.returncode == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert path.name in lines[0]
    assert table_counts(sqlite_db.engine) == before


def test_at_least_eight_malformed_files() -> None:
    assert len(BAD_CAMPAIGNS) >= 8


def test_plan_preview_countdown_and_idempotence(db) -> None:
    assert run_cli("campaign", "load", "config/campaigns", db_url=db.url).returncode == 0
    assert (
        run_cli(
            "contacts", "import", "config/contacts/ccm-2010-sample.csv", db_url=db.url
        ).returncode
        == 0
    )
    early = json.loads(
        run_cli("plan", "--json", "--now", "2010-04-19T12:00Z", db_url=db.url).stdout
    )
    assert early["queued"] == 0
    first = run_cli("plan", "--json", "--now", "2010-04-20T12:00Z", db_url=db.url)
    assert first.returncode == 0, first.stderr
    queued = json.loads(first.stdout)["queued"]
    assert queued > 30
    again = json.loads(
        run_cli("plan", "--json", "--now", "2010-04-20T12:00Z", db_url=db.url).stdout
    )
    assert again["queued"] == 0
    cd = json.loads(
        run_cli("countdown", "--json", "--now", "2010-04-23T08:00Z", db_url=db.url).stdout
    )
    eif = next(m for m in cd if m["key"] == "entry_into_force")
    assert eif["days_until"] == 100
    msp = json.loads(
        run_cli("countdown", "--json", "--now", "2010-11-09T08:00Z", db_url=db.url).stdout
    )
    assert next(m for m in msp if m["key"] == "first_msp")["phase"] == "in_progress"
    preview = run_cli(
        "templates",
        "preview",
        "--campaign",
        "ccm-2010",
        "--step",
        "appeal",
        "--contact",
        "tran.quoc.bao@mofa.example.org",
        "--now",
        "2010-04-20T12:00Z",
        db_url=db.url,
    )
    assert preview.returncode == 0, preview.stderr
    assert "100 days" in preview.stdout
    check = run_cli("templates", "check", db_url=db.url)
    assert check.returncode == 0, check.stderr
    status = json.loads(run_cli("status", "--json", db_url=db.url).stdout)
    assert status["totals"]["pending_review"] == queued


def test_undefined_variable_is_render_error_and_exit_1(sqlite_db, tmp_path: Path) -> None:
    templates = tmp_path / "t"
    (templates / "ccm").mkdir(parents=True)
    for f in (REPO / "templates" / "ccm").iterdir():
        (templates / "ccm" / f.name).write_bytes(f.read_bytes())
    (templates / "ccm" / "appeal.fr.j2").unlink()
    (templates / "ccm" / "appeal.j2").write_text(
        "{% block subject %}Hello{% endblock %}\n{% block text %}\n{{ campaign.vars.nope }}\n{% endblock %}\n"
    )
    env = {"OUTREACH_TEMPLATES_DIR": str(templates)}
    assert (
        run_cli("campaign", "load", "config/campaigns", db_url=sqlite_db.url, env=env).returncode
        == 0
    )
    assert (
        run_cli(
            "contacts", "import", "config/contacts/ccm-2010-sample.csv", db_url=sqlite_db.url
        ).returncode
        == 0
    )
    result = run_cli_process("plan", "--now", "2010-04-20T12:00Z", db_url=sqlite_db.url, env=env)
    assert result.returncode == 1
    assert "ccm/appeal.j2, line 3" in result.stderr
    assert "Traceback" not in result.stderr
    with sqlite_db.engine.connect() as conn:
        statuses = {r[0] for r in conn.execute(sa.text("SELECT DISTINCT status FROM message"))}
    assert statuses == {"render_error"}
