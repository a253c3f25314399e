"""Signing in to the console: the same refusal for an unknown account and a wrong password,
throttling per account and per address, revocable sessions with idle and absolute timeouts,
cookie flags, one-time set-password links and API tokens (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from starlette.testclient import TestClient

from outreach.accounts.policy import ThrottlePolicy
from outreach.accounts.users import disable_user, new_api_token, password_link
from outreach.clock import FixedClock
from outreach.db import session_scope
from tests.factories import T0
from tests.web_kit import PASSWORD, add_account, client, console, console_settings, csrf_of, sign_in


def test_sign_in_refuses_unknown_and_wrong_alike_then_lets_in(db) -> None:
    add_account(db.engine, "alice")
    http = client(console(db.engine, db.url))
    unknown = sign_in(http, "nobody", PASSWORD)
    wrong = sign_in(http, "alice", "not the password at all")
    assert unknown.status_code == wrong.status_code == 401
    assert "Unknown account or wrong password." in unknown.text
    assert "Unknown account or wrong password." in wrong.text
    ok = sign_in(http, "alice")
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    home = http.get("/")
    assert home.status_code == 200 and "alice (reviewer)" in home.text


def test_pages_need_a_session(db) -> None:
    http = client(console(db.engine, db.url))
    page = http.get("/review?campaign=x")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Freview%3Fcampaign%3Dx"
    assert http.post("/messages/1/approve", data={"csrf": "x"}).status_code == 403
    assert http.get("/api/review").status_code == 401


def test_sign_in_form_needs_its_token(db) -> None:
    add_account(db.engine, "alice")
    http = client(console(db.engine, db.url))
    http.get("/login")
    refused = http.post("/login", data={"name": "alice", "password": PASSWORD})
    assert refused.status_code == 403
    assert "outreach_session" not in http.cookies


def test_throttled_per_account_then_per_address(db) -> None:
    add_account(db.engine, "alice")
    policy = ThrottlePolicy(window=timedelta(minutes=15), per_account=3, per_address=5)
    clock = FixedClock(T0)
    http = client(console(db.engine, db.url, clock=clock, throttle=policy))
    for _ in range(3):
        assert sign_in(http, "alice", "wrong password!!").status_code == 401
    blocked = sign_in(http, "alice")  # the right password, but too late
    assert blocked.status_code == 401 and "Too many failed sign-ins" in blocked.text
    ghost = sign_in(http, "ghost", "wrong password!!")  # an unknown name counts the same
    assert "Unknown account or wrong password." in ghost.text
    for _ in range(2):
        sign_in(http, "ghost", "wrong password!!")
    assert "Too many failed sign-ins" in sign_in(http, "ghost", "x" * 12).text
    clock.advance(minutes=16)  # the window moved on
    assert sign_in(http, "alice").status_code == 303


def test_session_cookie_flags_and_timeouts(db) -> None:
    add_account(db.engine, "alice")
    clock = FixedClock(T0)
    http = client(console(db.engine, db.url, clock=clock))
    response = sign_in(http, "alice")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("outreach_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    clock.advance(minutes=59)
    assert http.get("/").status_code == 200  # activity restarts the idle timeout
    clock.advance(minutes=59)
    assert http.get("/").status_code == 200
    clock.advance(minutes=61)
    assert http.get("/").status_code == 303  # idle too long
    sign_in(http, "alice")
    for _ in range(14):  # 14 x 55 minutes > 12 hours
        clock.advance(minutes=55)
        last = http.get("/")
    assert last.status_code == 303  # 12 hours after signing in, whatever the activity


def test_secure_cookie_over_https(db) -> None:
    add_account(db.engine, "alice")
    settings = console_settings(db.url, public_url="https://console.example.org")
    app = console(db.engine, db.url, settings=settings)
    http = TestClient(app, base_url="https://console.example.org", follow_redirects=False)
    cookie = sign_in(http, "alice").headers["set-cookie"]
    assert cookie.startswith("__Host-outreach_session=") and "Secure" in cookie


def test_sign_out_revokes_the_session(db) -> None:
    add_account(db.engine, "alice")
    http = client(console(db.engine, db.url))
    sign_in(http, "alice")
    token = http.cookies["outreach_session"]
    out = http.post("/logout", data={"csrf": csrf_of(http.get("/").text)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    replay = client(console(db.engine, db.url))
    replay.cookies.set("outreach_session", token)
    assert replay.get("/").status_code == 303


def test_disabling_an_account_ends_its_sessions_and_token(db) -> None:
    add_account(db.engine, "alice")
    http = client(console(db.engine, db.url))
    sign_in(http, "alice")
    with session_scope(db.engine) as s:
        token = new_api_token(s, name="alice", now=T0, actor="test")
    assert http.get("/api/review", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with session_scope(db.engine) as s:
        disable_user(s, name="alice", now=T0, actor="test")
    assert http.get("/").status_code == 303
    fresh = client(console(db.engine, db.url))
    assert fresh.get("/api/review", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert sign_in(fresh, "alice").status_code == 401


def test_api_token_replaced_by_a_new_one(db) -> None:
    add_account(db.engine, "alice")
    with session_scope(db.engine) as s:
        old = new_api_token(s, name="alice", now=T0, actor="test")
        new = new_api_token(s, name="alice", now=T0, actor="test")
    http = client(console(db.engine, db.url))
    assert http.get("/api/queue", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert http.get("/api/queue", headers={"Authorization": f"Bearer {new}"}).status_code == 200
    assert http.get("/api/queue", headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_set_password_link_works_once(db) -> None:
    add_account(db.engine, "alice")
    with session_scope(db.engine) as s:
        token = password_link(s, name="alice", now=T0, actor="test")
    http = client(console(db.engine, db.url))
    page = http.get(f"/set-password/{token}")
    assert page.status_code == 200 and "alice" in page.text
    mismatch = http.post(
        f"/set-password/{token}",
        data={"csrf": csrf_of(page.text), "password": "a new password 1", "again": "different"},
    )
    assert mismatch.status_code == 400 and "differ" in mismatch.text
    done = http.post(
        f"/set-password/{token}",
        data={
            "csrf": csrf_of(page.text),
            "password": "a new password 1",
            "again": "a new password 1",
        },
    )
    assert done.status_code == 303
    assert http.get(f"/set-password/{token}").status_code == 404  # used up
    assert sign_in(http, "alice").status_code == 401  # the old password is gone
    assert sign_in(http, "alice", "a new password 1").status_code == 303
    assert http.get("/set-password/not-a-token").status_code == 404
