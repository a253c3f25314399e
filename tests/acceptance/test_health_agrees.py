"""One health notion: `outreach status --check` (the daemon's compose healthcheck), `GET /healthz`
on the console and `GET /healthz` on the daemon's own port give the same answer — unhealthy
before the daemon has run, healthy after, unhealthy with the same problem lines once its jobs
are overdue — on SQLite and PostgreSQL."""

from __future__ import annotations

from outreach.clock import FixedClock, parse_now
from outreach.web.routes.health import health_app
from tests.cli import run_cli
from tests.conftest import Database
from tests.web_kit import add_account, client, console, console_settings, sign_in

RAN_AT = "2010-04-20T12:00Z"


def answers(db: Database, at: str) -> tuple[tuple[int, list[str]], ...]:
    """(exit code or HTTP status mapped to 0/1, problem lines) from the CLI, the console and
    the daemon's port, all at ``at``."""
    clock = FixedClock(parse_now(at))
    check = run_cli("status", "--check", "--now", at, db_url=db.url)
    cli = (
        check.returncode,
        [line.removeprefix("unhealthy: ") for line in check.stderr.splitlines()],
    )
    web = client(console(db.engine, db.url, clock=clock)).get("/healthz")
    port = client(health_app(db.engine, console_settings(db.url), clock)).get("/healthz")
    return (
        cli,
        (0 if web.status_code == 200 else 1, web.json()["problems"]),
        (0 if port.status_code == 200 else 1, port.json()["problems"]),
    )


def test_the_cli_the_console_and_the_daemon_port_agree(db: Database) -> None:
    before = answers(db, RAN_AT)
    assert before[0][0] == 1 and "daemon job dispatch: no run has succeeded yet" in before[0][1]
    assert before[1] == before[2] == before[0]

    ran = run_cli("daemon", "--once", "--now", RAN_AT, db_url=db.url)
    assert ran.returncode == 0, ran.stderr
    healthy = answers(db, "2010-04-20T12:09Z")
    assert healthy == ((0, []), (0, []), (0, []))

    overdue = answers(db, "2010-04-20T12:20Z")
    assert overdue[0][0] == 1 and len(overdue[0][1]) == 3  # dispatch, plan, sweep
    assert overdue[1] == overdue[2] == overdue[0]

    # and the dashboard says the same to a person
    add_account(db.engine, "rita")
    http = client(console(db.engine, db.url, clock=FixedClock(parse_now("2010-04-20T12:20Z"))))
    sign_in(http, "rita")
    dashboard = http.get("/").text
    assert "unhealthy" in dashboard
    assert all(line in dashboard for line in overdue[0][1])
