"""The console in a real headless Chromium (Debian's ``chromium``, driven by Playwright):
signing in, two reviewers approving, the same one twice refused, roles, a letter's scripts
running nowhere, CSRF, throttling, a letter's attachments downloaded and its PDF previewed, a
test send, an operator correcting a reply's class; and, with a plain HTTP client against the same served
app, one-click unsubscribe, /healthz and /metrics.

Without chromium these tests skip with the reason; with ``CI=true`` they fail instead (CI
installs chromium and must run them).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session, select

from outreach.attachments.listing import attachments_in
from outreach.db import create_engine, migrate
from outreach.models import Approval, Contact, Message, Suppression
from outreach.planner import plan
from outreach.review.files import save_names
from outreach.smtpsink.server import SmtpSink
from outreach.unsubscribe_links import token_in_raw
from outreach.web.server import serve_in_thread
from scripts.screenshots import CHROMIUM_ARGS
from tests.integration.intake_kit import build_world, dsn, inbound_rows, suppressed
from tests.integration.intake_kit import run as run_intake
from tests.planning import load_sample, sample_settings
from tests.web_kit import (
    PASSWORD,
    add_account,
    console,
    console_settings,
    record_successes,
    seed_pending,
)

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.browser


def _require_chromium() -> None:
    """Skip without chromium or Playwright — unless CI is set: then fail."""
    problem = None
    if CHROMIUM is None:
        problem = "chromium is not installed (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "Playwright for Python is not installed (pip install -e '.[dev]')"
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run in CI: {problem}")
    pytest.skip(f"browser tests need chromium: {problem}")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium for every browser test (they are all in this module; closing it
    with the module also ends Playwright's event loop before any asyncio test runs)."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def served(db) -> Iterator[str]:
    """The console over the test database (SQLite and PostgreSQL), served on a free loopback
    port."""
    with serve_in_thread(console(db.engine, db.url)) as base:
        yield base


@pytest.fixture
def served_sqlite(sqlite_db) -> Iterator[tuple[object, str]]:
    """(the database, the served console) on SQLite only: for what the engine cannot change."""
    with serve_in_thread(console(sqlite_db.engine, sqlite_db.url)) as base:
        yield sqlite_db, base


def signed_in_page(browser, base: str, name: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    """A new browser context (its own cookies) signed in as ``name``."""
    page = browser.new_context().new_page()
    page.goto(f"{base}/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def approvals_of(db, mid: int) -> tuple[str, list[str]]:
    with Session(db.engine) as s:
        status = s.get(Message, mid).status
        reviewers = [a.reviewer for a in s.exec(select(Approval).where(Approval.message_id == mid))]
    return status, sorted(reviewers)


def test_two_reviewers_approve_and_the_same_one_twice_is_refused(db, browser, served) -> None:
    (mid,) = seed_pending(db.engine, approvals_required=2)
    add_account(db.engine, "alice")
    add_account(db.engine, "bob")
    alice = signed_in_page(browser, served, "alice")
    assert "alice (reviewer)" in alice.inner_text("header")
    alice.goto(f"{served}/review")
    alice.click(f"a[href='/messages/{mid}']")
    stale_tab = alice.context.new_page()
    stale_tab.goto(f"{served}/messages/{mid}")
    alice.fill("#note", "dates checked")
    alice.click("button:has-text('Approve')")
    assert "needs another reviewer" in alice.inner_text("main")
    stale_tab.click("button:has-text('Approve')")  # the same account, from a form opened before
    assert f"reviewer alice already approved message {mid}" in stale_tab.inner_text(".error")
    assert approvals_of(db, mid) == ("pending_review", ["alice"])
    bob = signed_in_page(browser, served, "bob")
    bob.goto(f"{served}/messages/{mid}")
    bob.click("button:has-text('Approve')")
    assert "will leave at its scheduled time" in bob.inner_text("main")
    assert approvals_of(db, mid) == ("approved", ["alice", "bob"])
    assert "bob via web" in bob.inner_text("ol.timeline")


def test_a_reviewer_cannot_reach_operator_or_admin_pages(browser, served_sqlite) -> None:
    db, served = served_sqlite
    seed_pending(db.engine)
    add_account(db.engine, "alice")
    page = signed_in_page(browser, served, "alice")
    assert page.goto(f"{served}/users").status == 403
    assert "needs the admin role" in page.inner_text("main")
    assert page.locator("text=Pause").count() == 0 and page.locator("a[href='/users']").count() == 0
    page.goto(f"{served}/")
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    pause = page.request.post(f"{served}/campaigns/ccm/pause", form={"csrf": token or ""})
    assert pause.status == 403


def test_a_letters_scripts_run_nowhere_in_the_console(browser, served_sqlite) -> None:
    db, served = served_sqlite
    marker = f"{served}/static/tracker.png"
    payload = (
        "<script>window.__pwned = 1; document.title = 'pwned';"
        " try { parent.document.title = 'pwned'; parent.__pwned = 1; } catch (e) {}</script>"
        "<img src=x onerror=\"window.__pwned = 1; document.title = 'pwned';"
        " try { parent.__pwned = 1; parent.document.title = 'pwned'; } catch (e) {}\">"
        f'<img src="{marker}"><p>Dear Minister,</p>'
    )
    (mid,) = seed_pending(
        db.engine, html=payload, subject="Hello <script>window.__pwned=1</script>"
    )
    add_account(db.engine, "alice")
    page = signed_in_page(browser, served, "alice")
    answered: list[str] = []
    blocked: dict[str, str | None] = {}
    page.on("response", lambda response: answered.append(response.url))
    page.on("requestfailed", lambda request: blocked.update({request.url: request.failure}))
    page.goto(f"{served}/messages/{mid}")
    frame = page.frame_locator("iframe.letter-html")
    frame.locator("p").wait_for()
    assert frame.locator("p").inner_text() == "Dear Minister,"
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.title() == f"Letter #{mid} — outreach"
    letter = next(f for f in page.frames if f.url.endswith(f"/messages/{mid}/letter"))
    assert letter.evaluate("document.title") != "pwned"
    assert letter.evaluate("window.__pwned") is None
    assert marker not in answered and blocked.get(marker) == "csp"  # the letter loads nothing
    assert "<script>window.__pwned=1</script>" in page.inner_text("main")  # shown as text


def test_a_form_post_without_the_csrf_token_changes_nothing(browser, served_sqlite) -> None:
    db, served = served_sqlite
    (mid,) = seed_pending(db.engine)
    add_account(db.engine, "alice")
    page = signed_in_page(browser, served, "alice")
    page.goto(f"{served}/messages/{mid}")
    page.locator("form[action$='/approve'] input[name=csrf]").evaluate("node => node.remove()")
    with page.expect_response(f"{served}/messages/{mid}/approve") as answer:
        page.click("button:has-text('Approve')")
    assert answer.value.status == 403
    assert "security token is missing or wrong" in page.inner_text("main")
    assert approvals_of(db, mid) == ("pending_review", [])


def test_sign_in_is_throttled(browser, served_sqlite) -> None:
    db, served = served_sqlite
    add_account(db.engine, "alice")
    page = browser.new_context().new_page()
    for _ in range(5):
        page.goto(f"{served}/login")
        page.fill("#name", "alice")
        page.fill("#password", "not the right one")
        page.click("button[type=submit]")
        assert "Unknown account or wrong password." in page.inner_text("main")
    page.goto(f"{served}/login")
    page.fill("#name", "alice")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    assert "Too many failed sign-ins" in page.inner_text("main")
    assert page.url.startswith(f"{served}/login")


def test_one_click_unsubscribe_with_an_http_client(db, browser, served) -> None:
    settings = sample_settings(db.url, public_url="https://console.example.org")
    moment = datetime(2010, 4, 20, 12, 0, tzinfo=UTC)
    load_sample(db.engine, settings, moment)
    plan(db.engine, now=moment, settings=settings)
    with Session(db.engine) as s:
        target, other = s.exec(select(Message).order_by(Message.id)).all()[:2]
        email = s.get(Contact, target.contact_id).email
    url = f"{served}/unsubscribe/{token_in_raw(target.body.raw)}"
    assert httpx2.get(url).status_code == 200
    with Session(db.engine) as s:
        assert s.exec(select(Suppression)).all() == []
    answer = httpx2.post(url, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    with Session(db.engine) as s:
        assert [x.email for x in s.exec(select(Suppression))] == [email]
        assert s.get(Message, target.id).status == "cancelled"
        assert s.get(Message, other.id).status == "pending_review"


def test_healthz_and_metrics(browser, tmp_path: Path) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    url = f"sqlite:///{folder / 'outreach.db'}"
    engine = create_engine(url)
    migrate(engine)
    record_successes(engine, url)  # the daemon's jobs ran: healthy as `status --check` says
    with serve_in_thread(console(engine, url)) as base:
        assert httpx2.get(f"{base}/healthz").status_code == 200
        metrics = httpx2.get(f"{base}/metrics").text
        names = {family.name for family in text_string_to_metric_families(metrics)}
        assert {"outreach_messages", "outreach_smtp_attempts", "outreach_inbound"} <= names
        engine.dispose()
        shutil.rmtree(folder)
        gone = httpx2.get(f"{base}/healthz")
        assert gone.status_code == 503 and gone.json()["database"] == "unreachable"


def test_a_letters_files_preview_and_test_send_in_the_browser(db, browser) -> None:
    settings = sample_settings(db.url)
    moment = datetime(2010, 4, 20, 12, 0, tzinfo=UTC)
    load_sample(db.engine, settings, moment)
    plan(db.engine, now=moment, settings=settings)
    with Session(db.engine) as s:
        letter = next(m for m in s.exec(select(Message).order_by(Message.id)) if m.body.raw)
    files = attachments_in(letter.body.raw)
    assert files
    add_account(db.engine, "olga", "operator")
    with SmtpSink() as smtp:
        options = {"smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_tls": "none"}
        app = console(db.engine, db.url, settings=console_settings(db.url, **options))
        with serve_in_thread(app) as base:
            page = signed_in_page(browser, base, "olga")
            blocked: list[str] = []
            page.on("requestfailed", lambda request: blocked.append(request.url))
            page.goto(f"{base}/messages/{letter.id}")
            preview = page.locator("img.pdf-preview")
            preview.wait_for()
            page.wait_for_function("document.querySelector('img.pdf-preview').complete")
            assert preview.evaluate("img => img.naturalWidth") == 800  # CSP img-src 'self'
            assert blocked == []
            with page.expect_download() as download:
                page.click(f"a[href='/messages/{letter.id}/attachments/1']")
            assert download.value.suggested_filename == save_names(files)[0]
            assert Path(download.value.path()).read_bytes() == files[0].data
            page.fill("#test-to", "olga@example.org")
            page.click("button:has-text('Send a test copy')")
            assert "sent to olga@example.org: 250" in page.inner_text("main")
            assert [r.content for r in smtp.received] == [letter.body.raw]
    with Session(db.engine) as s:
        assert s.get(Message, letter.id).status == letter.status


def test_an_operator_corrects_a_classification_in_the_browser(browser, served_sqlite) -> None:
    db, served = served_sqlite
    w = build_world(db.engine)
    run_intake(db, dsn(w.a_email, "5.1.1", original_id=w.a_appeal))
    [row] = inbound_rows(db)
    assert suppressed(db) == {w.a_email: "bounce_hard"}
    add_account(db.engine, "olga", "operator")
    page = signed_in_page(browser, served, "olga")
    page.goto(f"{served}/replies")
    reply = page.locator(f"#reply-{row.id}")
    reply.locator("summary").click()
    reply.locator("select[name=class]").select_option("bounce_soft")
    reply.locator("input[name=reason]").fill("the ministry says the address works")
    reply.locator("button[type=submit]").click()
    assert "Reclassified" in page.inner_text("main")
    assert "bounce soft" in page.locator(f"#reply-{row.id}").inner_text()
    [stored] = inbound_rows(db)
    assert stored.classification == "bounce_soft" and suppressed(db) == {}
