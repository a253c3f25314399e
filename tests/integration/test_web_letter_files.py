"""A letter's page in the console (outreach/web/routes/letter_files.py and testsend.py): its
attachments listed (name, type, size, SHA-256) with downloads of the exact stored bytes, a PNG
of its PDF letter's first page from the console's own origin, and an operator's test send to
the in-process SMTP sink that changes nothing about the letter — on SQLite and PostgreSQL."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from urllib.parse import quote

from sqlmodel import Session, select

from outreach.attachments.listing import attachments_in, describe
from outreach.models import Attempt, Event, Message
from outreach.planner import plan
from outreach.review.files import save_names
from outreach.smtpsink.server import SmtpSink
from outreach.web.routes.letter_files import content_disposition
from tests.planning import load_sample, sample_settings
from tests.web_kit import (
    add_account,
    client,
    console,
    console_settings,
    csrf_for,
    seed_pending,
    sign_in,
)

T_APPEAL = datetime(2010, 4, 20, 12, 0, tzinfo=UTC)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def planned_letter(db) -> Message:  # type: ignore[no-untyped-def]
    """A letter of the sample campaign's appeal: a PDF letter and a fact sheet enclosed."""
    settings = sample_settings(db.url)
    load_sample(db.engine, settings, T_APPEAL)
    report = plan(db.engine, now=T_APPEAL, settings=settings)
    assert report.queued and not report.render_errors
    with Session(db.engine) as s:
        letters = [
            m for m in s.exec(select(Message).order_by(Message.id)) if attachments_in(m.body.raw)
        ]
    assert letters
    return letters[0]


def signed_in(db, name: str, role: str, **settings):  # type: ignore[no-untyped-def]
    add_account(db.engine, name, role)
    app = console(db.engine, db.url, settings=console_settings(db.url, **settings))
    http = client(app)
    assert sign_in(http, name).status_code == 303
    return http


def test_the_page_lists_the_attachments_and_downloads_are_the_exact_bytes(db) -> None:
    letter = planned_letter(db)
    files = attachments_in(letter.body.raw)
    rita = signed_in(db, "rita", "reviewer")
    page = rita.get(f"/messages/{letter.id}")
    assert page.status_code == 200
    for n, info in enumerate(describe(files), start=1):
        assert f'href="/messages/{letter.id}/attachments/{n}"' in page.text
        assert info.content_type in page.text and info.sha256 in page.text
        assert f"{info.size:,} bytes" in page.text
    names = save_names(files)
    for n, (att, name) in enumerate(zip(files, names, strict=True), start=1):
        got = rita.get(f"/messages/{letter.id}/attachments/{n}")
        assert got.status_code == 200
        assert got.content == att.data  # byte for byte what the letter carries
        assert got.headers["content-type"].startswith(att.content_type)
        assert got.headers["content-disposition"] == content_disposition(name)
        assert got.headers["content-disposition"].startswith("attachment; filename=")
        assert quote(name, safe="") in got.headers["content-disposition"]
        assert got.headers["cache-control"] == "no-store"
        assert got.headers["x-content-type-options"] == "nosniff"
    for n in (0, len(files) + 1):
        assert rita.get(f"/messages/{letter.id}/attachments/{n}").status_code == 404
    assert rita.get("/messages/999999/attachments/1").status_code == 404
    anonymous = client(console(db.engine, db.url)).get(f"/messages/{letter.id}/attachments/1")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_the_preview_is_a_png_of_the_pdf_from_the_consoles_origin(db) -> None:
    letter = planned_letter(db)
    rita = signed_in(db, "rita", "reviewer")
    page = rita.get(f"/messages/{letter.id}")
    assert f'<img class="pdf-preview" src="/messages/{letter.id}/preview.png"' in page.text
    assert "img-src 'self'" in page.headers["content-security-policy"]
    png = rita.get(f"/messages/{letter.id}/preview.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", png.content[16:24])  # the IHDR chunk
    assert width == 800 and height > width  # a portrait page
    assert png.headers["cache-control"] == "no-store"
    (plain,) = seed_pending(db.engine, slug="plain")
    assert "preview.png" not in rita.get(f"/messages/{plain}").text
    assert rita.get(f"/messages/{plain}/preview.png").status_code == 404


def test_an_operator_test_send_delivers_the_stored_bytes_and_changes_nothing(db) -> None:
    letter = planned_letter(db)
    with Session(db.engine) as s:
        before = s.get(Message, letter.id).model_dump()
    with SmtpSink() as smtp:
        olga = signed_in(
            db,
            "olga",
            "operator",
            smtp_host=smtp.host,
            smtp_port=smtp.port,
            smtp_tls="none",
            test_send_per_hour=1,
        )
        url = f"/messages/{letter.id}/test-send"
        sent = olga.post(url, data={"csrf": csrf_for(olga), "to": "olga@example.org"})
        assert sent.status_code == 200
        assert "sent to olga@example.org: 250" in sent.text
        [received] = smtp.received
        limited = olga.post(url, data={"csrf": csrf_for(olga), "to": "olga@example.org"})
        assert limited.status_code == 400 and "OUTREACH_TEST_SEND_PER_HOUR=1" in limited.text
        assert len(smtp.received) == 1
    assert received.content == letter.body.raw  # the letter with its attachments, unchanged
    assert received.rcpt_tos == ("olga@example.org",)
    with Session(db.engine) as s:
        assert s.get(Message, letter.id).model_dump() == before  # no status, no count
        assert s.exec(select(Attempt)).all() == []
        tests = s.exec(
            select(Event).where(Event.entity_id == letter.id, Event.action.like("test_%"))
        ).all()
    assert [(e.action, e.actor) for e in tests] == [
        ("test_send", "olga via web"),
        ("test_sent", "olga via web"),
    ]


def test_a_reviewer_cannot_test_send_and_the_form_needs_its_token(db) -> None:
    (mid,) = seed_pending(db.engine)
    with SmtpSink() as smtp:
        options = {"smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_tls": "none"}
        rita = signed_in(db, "rita", "reviewer", **options)
        assert "/test-send" not in rita.get(f"/messages/{mid}").text
        refused = rita.post(
            f"/messages/{mid}/test-send", data={"csrf": csrf_for(rita), "to": "rita@example.org"}
        )
        assert refused.status_code == 403
        olga = signed_in(db, "olga", "operator", **options)
        assert f'action="/messages/{mid}/test-send"' in olga.get(f"/messages/{mid}").text
        forged = olga.post(f"/messages/{mid}/test-send", data={"to": "olga@example.org"})
        assert forged.status_code == 403
        bad = olga.post(
            f"/messages/{mid}/test-send", data={"csrf": csrf_for(olga), "to": "not an address"}
        )
        assert bad.status_code == 400 and "not a single valid email address" in bad.text
        assert smtp.received == []
    with Session(db.engine) as s:
        actions = s.exec(select(Event.action).where(Event.entity_id == mid)).all()
    assert not [a for a in actions if a.startswith("test_")]
