"""The CLI skeleton as a user runs it: a real `outreach` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

GROUPS = ["init", "status", "campaign", "contacts", "templates", "review", "queue", "replies"]


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "outreach", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=120,
    )


def test_help_lists_every_group() -> None:
    result = run("--help")
    assert result.returncode == 0
    for group in GROUPS:
        assert group in result.stdout


def test_init_then_status_json_zero(db, tmp_path: Path) -> None:
    env = {"OUTREACH_DATABASE_URL": db.url}
    result = run("init", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout  # the fixture had migrated it already
    result = run("status", "--json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["campaigns"] == []
    assert set(data["totals"].values()) == {0}


def test_init_on_a_new_sqlite_file(tmp_path: Path) -> None:
    env = {"OUTREACH_DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}"}
    first = run("init", env=env, cwd=tmp_path)
    assert first.returncode == 0 and "created" in first.stdout
    second = run("init", env=env, cwd=tmp_path)
    assert second.returncode == 0 and "up to date" in second.stdout


@pytest.mark.parametrize(
    "url",
    ["not-a-url", "mysql://h/db", "postgresql+psycopg://nobody@127.0.0.1:1/none"],
)
def test_bad_database_url_is_one_line_exit_1(url: str, tmp_path: Path) -> None:
    result = run("status", "--json", env={"OUTREACH_DATABASE_URL": url}, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error:")


def test_uninitialised_database_says_run_init(tmp_path: Path) -> None:
    env = {"OUTREACH_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    result = run("status", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "outreach init" in result.stderr


def test_usage_error_is_exit_2() -> None:
    assert run("status", "--no-such-flag").returncode == 2
