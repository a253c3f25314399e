"""``outreach contacts import`` with the files operators really have: tags separated by ``,``
or ``;``, ``;``-delimited exports, header names as spreadsheets spell them, a warning for tags
no campaign's audience uses, and problems counted as problems."""

from __future__ import annotations

import json
import re

from tests.campaign_kit import SENDER, write_kit
from tests.cli import REPO, run_cli

CAMPAIGN = (
    """slug = "tags"
name = "Tags"
timezone = "UTC"

[audience]
tags = ["target"]
"""
    + SENDER
    + """
[[milestones]]
key = "m"
title = "the meeting"
date = 2010-08-01

[[steps]]
key = "letter"
template = "t/letter"
when = { milestone = "m", days_before = 10 }

[[steps]]
key = "eu-only"
template = "t/letter"
when = { milestone = "m", days_before = 5 }
audience = { tags = ["eu"] }
"""
)
LETTER = "{% block subject %}Hi{% endblock %}{% block text %}Hello{% endblock %}"


def _import(db, tmp_path, csv: str, *args: str):
    kit = write_kit(
        tmp_path, campaigns={"tags.toml": CAMPAIGN}, templates={"t/letter.j2": LETTER}, contacts=csv
    )
    assert (
        run_cli("campaign", "load", str(kit.campaigns), db_url=db.url, env=kit.env).returncode == 0
    )
    return run_cli("contacts", "import", str(kit.contacts), *args, db_url=db.url, env=kit.env)


def _contacts(db) -> dict[str, dict]:
    listed = json.loads(run_cli("contacts", "list", "--json", db_url=db.url).stdout)
    return {c["email"]: c for c in listed}


def test_tags_split_on_commas_and_semicolons(db, tmp_path) -> None:
    csv = 'email,tags\nann@example.org,"target, eu"\nbob@example.org,target ; eu\n'
    result = _import(db, tmp_path, csv)
    assert result.returncode == 0, result.stderr
    contacts = _contacts(db)
    assert contacts["ann@example.org"]["tags"] == ["target", "eu"]
    assert contacts["bob@example.org"]["tags"] == ["target", "eu"]
    assert "warning" not in result.stderr


def test_a_semicolon_delimited_file_with_spreadsheet_headers(db, tmp_path) -> None:
    csv = (
        "E-mail;Full Name; ORGANIZATION ;Time Zone;Country Code;Job Title;Tags;Mission City\n"
        "ann@example.org;Ann Example;Ministry;Asia/Ho_Chi_Minh;vn;Minister;target, eu;Hanoi\n"
    )
    result = _import(db, tmp_path, csv)
    assert result.returncode == 0, result.stderr
    ann = _contacts(db)["ann@example.org"]
    assert (ann["name"], ann["organisation"], ann["timezone"]) == (
        "Ann Example",
        "Ministry",
        "Asia/Ho_Chi_Minh",
    )
    assert (ann["country"], ann["title"], ann["tags"]) == ("VN", "Minister", ["target", "eu"])
    assert ann["fields"] == {"Mission City": "Hanoi"}


def test_email_address_header_and_an_explicit_delimiter(db, tmp_path) -> None:
    csv = "Email Address|Name\nann@example.org|Ann\n"
    result = _import(db, tmp_path, csv, "--delimiter", "|")
    assert result.returncode == 0, result.stderr
    assert _contacts(db)["ann@example.org"]["name"] == "Ann"


def test_tags_no_campaign_audience_uses_are_warned_about(db, tmp_path) -> None:
    csv = "email,tags\nann@example.org,targt\nbob@example.org,targt;press\ncid@example.org,eu\n"
    result = _import(db, tmp_path, csv)
    assert result.returncode == 0, result.stderr
    assert (
        "warning: tag 'targt' (2 contacts) is in no campaign's audience "
        "(audiences use: eu, target)" in result.stderr
    )
    assert "warning: tag 'press' (1 contact) is in no campaign's audience" in result.stderr
    assert "'eu'" not in result.stderr


def test_import_counts_problems_not_rows(db, tmp_path) -> None:
    csv = "email,country,language\nbad@@example.org,XX,en\ngood@example.org,CH,en\nc@example.org,CH,zz-99\n"
    result = _import(db, tmp_path, csv)
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert re.search(r"3 problems in 2 rows, nothing imported", first), result.stderr
    skipped = _import(db, tmp_path, csv, "--skip-invalid")
    assert skipped.returncode == 0, skipped.stderr
    assert "1 created" in skipped.stdout and "2 rows skipped (3 problems)" in skipped.stdout


def test_the_readme_documents_every_csv_column() -> None:
    from outreach.contacts import KNOWN_COLUMNS

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Contacts CSV", 1)[1].split("\n## ", 1)[0]
    for column in KNOWN_COLUMNS:
        assert f"`{column}`" in section, column
    assert "`;`" in section and "`,`" in section and "--delimiter" in section
