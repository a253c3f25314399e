"""Several outreach processes starting at once on an empty database (``docker compose up
--scale outreach=3``): the migration runs once, under a lock; the others wait, find the schema
current and carry on. Nobody crashes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from outreach.db import head_revision
from tests.cli import run_cli_process

PROCESSES = 4


def _start_together(db_url: str, *args: str) -> list[tuple[int, str]]:
    with ThreadPoolExecutor(PROCESSES) as pool:
        runs = list(
            pool.map(lambda _: run_cli_process(*args, db_url=db_url, timeout=180), range(PROCESSES))
        )
    return [(r.returncode, r.stderr) for r in runs]


def _revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def test_four_daemons_starting_on_an_empty_database_all_exit_0(empty_db) -> None:
    results = _start_together(empty_db.url, "daemon", "--once")
    for code, stderr in results:
        assert "Traceback" not in stderr, stderr
        assert code == 0, stderr
    assert _revision(empty_db.engine) == head_revision()


def test_four_inits_at_once_all_exit_0(empty_db) -> None:
    results = _start_together(empty_db.url, "init")
    for code, stderr in results:
        assert "Traceback" not in stderr, stderr
        assert code == 0, stderr
    assert _revision(empty_db.engine) == head_revision()
