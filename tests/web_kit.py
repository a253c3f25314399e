"""Helpers for the console's tests: accounts, letters waiting for review, the app over a test
database, and signing in through the real forms (``TestClient`` or a served app)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

from starlette.applications import Starlette
from starlette.testclient import TestClient

from outreach.accounts.users import add_user, set_password
from outreach.clock import FixedClock
from outreach.daemon import job_intervals
from outreach.db import Engine, session_scope
from outreach.repository.jobs import record_job_run
from outreach.settings import Settings, load_settings
from outreach.web.app import create_app
from tests.factories import T0, make_campaign, make_contact, make_message, make_step

#: The password of every test account.
PASSWORD = "correct horse battery staple"

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def add_account(
    engine: Engine, name: str, role: str = "reviewer", password: str = PASSWORD
) -> None:
    """An active account with a password."""
    with session_scope(engine) as session:
        add_user(session, name=name, role=role, now=T0, actor="test")
        set_password(session, name=name, password=password, now=T0, actor="test")


def letter_bytes(subject: str, text: str, html: str | None, to: str) -> bytes:
    """A plain multipart/alternative letter (CRLF line ends)."""
    msg = EmailMessage()
    msg["From"] = "Coalition <outreach@example.org>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = "<letter@example.org>"
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def seed_pending(
    engine: Engine,
    n: int = 1,
    *,
    approvals_required: int = 1,
    slug: str = "ccm",
    html: str | None = "<p>Dear Minister,</p>",
    subject: str = "100 days to go",
    **campaign: Any,
) -> list[int]:
    """``n`` letters waiting for review in a new campaign ``slug``."""
    with session_scope(engine) as s:
        camp = make_campaign(s, slug, approvals_required=approvals_required, **campaign)
        step = make_step(s, camp)
        ids = []
        for i in range(n):
            contact = make_contact(s, f"{slug}{i}@example.org", name=f"Minister {i}")
            raw = letter_bytes(subject, "Dear Minister,\n", html, contact.email)
            ids.append(
                make_message(
                    s,
                    campaign=camp,
                    step=step,
                    contact=contact,
                    subject=subject,
                    text="Dear Minister,\n",
                    html=html,
                    raw=raw,
                    content_hash=hashlib.sha256(raw).hexdigest(),
                    scheduled_for=T0 + timedelta(days=i + 1),
                    language="en",
                ).id
            )
        return ids


def console_settings(db_url: str, **overrides: Any) -> Settings:
    return load_settings(env={}, database_url=db_url, **overrides)


def console(
    engine: Engine, db_url: str, *, clock: FixedClock | None = None, **options: Any
) -> Starlette:
    """The console over a test database (clock pinned at :data:`T0` unless given)."""
    settings = options.pop("settings", None) or console_settings(db_url)
    return create_app(settings, engine=engine, clock=clock or FixedClock(T0), **options)


def client(app: Starlette) -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = _CSRF.search(html)
    assert found, "no form with a CSRF token on this page"
    return found.group(1)


def sign_in(http: TestClient, name: str, password: str = PASSWORD) -> Any:
    """Sign in through the real form; returns the POST's response."""
    page = http.get("/login")
    return http.post(
        "/login", data={"csrf": csrf_of(page.text), "name": name, "password": password, "next": "/"}
    )


def csrf_for(http: TestClient, path: str = "/") -> str:
    """The CSRF token the signed-in session's pages carry."""
    page = http.get(path)
    assert page.status_code == 200, page.status_code
    return csrf_of(page.text)


def record_successes(engine: Engine, url: str, *, skip: tuple[str, ...] = ()) -> None:
    """An ``ok`` run at :data:`T0` of every job a daemon with the console's settings schedules
    (but ``skip``), so that ``/healthz`` at T0 judges the daemon healthy."""
    with session_scope(engine) as s:
        for job in job_intervals(console_settings(url)):
            if job not in skip:
                record_job_run(
                    s, job=job, instance="h2", started_at=T0 - timedelta(seconds=1),
                    finished_at=T0, outcome="ok", detail=None,
                )  # fmt: skip
