"""Settings as an operator meets them through the CLI: a misspelt ``OUTREACH_*`` variable is
named with the closest known one, ``postgres://`` URLs work, ``OUTREACH_CAMPAIGNS_DIR`` is where
``campaign load`` looks without a path, and ``$VISUAL`` wins over ``$EDITOR``."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import Path

from tests.cli import REPO, run_cli


def test_misspelt_variable_is_named_with_the_closest_known_one(sqlite_db, tmp_path) -> None:
    result = run_cli("init", db_url=sqlite_db.url, env={"OUTREACH_SMTP_PROT": "2525"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        "warning: OUTREACH_SMTP_PROT is not a setting (did you mean OUTREACH_SMTP_PORT?); "
        "it is ignored" in result.stderr
    )


def test_unknown_variable_without_a_close_name_is_still_reported(sqlite_db, tmp_path) -> None:
    result = run_cli("init", db_url=sqlite_db.url, env={"OUTREACH_XYZZY": "1"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning: OUTREACH_XYZZY is not a setting; it is ignored" in result.stderr


def test_known_variables_give_no_warning(sqlite_db, tmp_path) -> None:
    result = run_cli("init", db_url=sqlite_db.url, env={"OUTREACH_SMTP_PORT": "2525"}, cwd=tmp_path)
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr


def test_postgres_and_postgresql_urls_use_the_psycopg_driver(pg_db) -> None:
    rest = pg_db.url.split("://", 1)[1]
    for scheme in ("postgres", "postgresql"):
        result = run_cli("init", db_url=f"{scheme}://{rest}")
        assert result.returncode == 0, result.stderr
        assert "up to date" in result.stdout


def test_campaign_load_without_a_path_loads_the_campaigns_dir(db, tmp_path) -> None:
    folder = tmp_path / "campaigns"
    folder.mkdir()
    sample = REPO / "config" / "campaigns"
    source = (sample / "ccm-2010.toml").read_text(encoding="utf-8")
    shutil.copytree(sample / "files", folder / "files")  # the files the campaign attaches
    (folder / "mine.toml").write_text(source.replace("ccm-2010", "mine-2010"), encoding="utf-8")
    result = run_cli("campaign", "load", db_url=db.url, env={"OUTREACH_CAMPAIGNS_DIR": str(folder)})
    assert result.returncode == 0, result.stderr
    assert "mine-2010: created" in result.stdout
    listed = json.loads(run_cli("campaign", "list", "--json", db_url=db.url).stdout)
    assert [c["slug"] for c in listed] == ["mine-2010"]


def _editor(tmp_path: Path, name: str, body: str) -> str:
    script = tmp_path / f"{name}.py"
    script.write_text("import sys\npath = sys.argv[1]\n" + body)
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"


def test_visual_is_used_before_editor(db, tmp_path) -> None:
    assert run_cli("campaign", "load", "config/campaigns", db_url=db.url).returncode == 0
    contacts = "config/contacts/ccm-2010-sample.csv"
    assert run_cli("contacts", "import", contacts, db_url=db.url).returncode == 0
    assert run_cli("plan", "--now", "2010-04-20T12:00Z", db_url=db.url).returncode == 0
    pending = json.loads(run_cli("review", "list", "--json", db_url=db.url).stdout)
    mid = str(pending[0]["id"])
    visual = _editor(
        tmp_path,
        "visual",
        "text = open(path).read().splitlines(True)\n"
        "text[0] = 'Subject: Edited with VISUAL\\n'\n"
        "open(path, 'w').write(''.join(text))\n",
    )
    editor = _editor(tmp_path, "editor", "sys.exit(7)\n")
    result = run_cli("review", "edit", mid, db_url=db.url, env={"VISUAL": visual, "EDITOR": editor})
    assert result.returncode == 0, result.stderr
    shown = run_cli("review", "show", mid, db_url=db.url)
    assert "Subject: Edited with VISUAL" in shown.stdout
