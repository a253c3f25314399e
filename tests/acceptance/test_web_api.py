"""``/api/review``, ``/api/queue``, ``/api/replies`` and ``/api/status`` answer exactly what the
CLI prints with ``--json`` (same filters), for a session or an API token."""

from __future__ import annotations

import json

from outreach import review
from outreach.accounts.users import new_api_token
from outreach.db import session_scope
from outreach.replies.intake import import_paths
from tests.cli import REPO, run_cli
from tests.factories import T0
from tests.planning import sample_settings
from tests.web_kit import add_account, client, console, seed_pending, sign_in

REPLIES = REPO / "tests" / "fixtures" / "replies"


def seed(db) -> None:
    ids = seed_pending(db.engine, 3, approvals_required=2)
    seed_pending(db.engine, 1, slug="other", html=None)
    with session_scope(db.engine) as s:
        review.approve(s, [ids[0]], reviewer="alice", now=T0)
        review.reject(s, [ids[1]], reviewer="alice", reason="tone", now=T0)
    import_paths(
        db.engine,
        [
            REPLIES / "human" / "gmail_reply.eml",
            REPLIES / "auto_reply" / "ooo_en_auto_submitted.eml",
        ],
        settings=sample_settings(db.url),
        now=T0,
    )


def cli_json(db, *args: str) -> object:
    result = run_cli(*args, "--json", db_url=db.url)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_api_documents_equal_the_cli_json(db) -> None:
    seed(db)
    add_account(db.engine, "alice")
    http = client(console(db.engine, db.url))
    sign_in(http, "alice")
    pairs = [
        ("/api/review", ("review", "list")),
        ("/api/review?campaign=ccm", ("review", "list", "--campaign", "ccm")),
        (
            "/api/review?language=en&step=appeal",
            ("review", "list", "--language", "en", "--step", "appeal"),
        ),
        ("/api/queue", ("queue", "list")),
        (
            "/api/queue?status=rejected&limit=5",
            ("queue", "list", "--status", "rejected", "--limit", "5"),
        ),
        ("/api/replies", ("replies", "list")),
        ("/api/replies?unmatched=1", ("replies", "list", "--unmatched")),
        ("/api/status", ("status", "--now", T0.isoformat())),
        ("/api/status?campaign=other", ("status", "--campaign", "other", "--now", T0.isoformat())),
    ]
    for path, command in pairs:
        answer = http.get(path)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.json() == cli_json(db, *command), path
        assert answer.json(), path  # not trivially equal


def test_api_token_and_errors(db) -> None:
    seed(db)
    add_account(db.engine, "bob")
    with session_scope(db.engine) as s:
        token = new_api_token(s, name="bob", now=T0, actor="test")
    http = client(console(db.engine, db.url))
    auth = {"Authorization": f"Bearer {token}"}
    assert http.get("/api/queue", headers=auth).json() == cli_json(db, "queue", "list")
    missing = http.get("/api/review?campaign=nosuch", headers=auth)
    assert missing.status_code == 404 and "nosuch" in missing.json()["error"]
    assert http.get("/api/queue?status=bogus", headers=auth).status_code == 400
    assert http.get("/api/queue?limit=0", headers=auth).status_code == 400
    assert http.get("/api/queue").status_code == 401
