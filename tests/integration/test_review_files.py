"""Review sees what leaves: the attachments listed from the stored bytes (name, type, size,
SHA-256), written out safely on request, and the PDF's first page as a picture."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import Session

from outreach.attachments.pdf import PrintJob, render_pdf
from outreach.compose import ComposeInput, compose
from outreach.compose.attachments import Attachment
from outreach.errors import NotFoundError, ReviewError
from outreach.review.files import pdf_preview, save_attachments, save_names
from outreach.review.views import show
from tests.factories import make_message


def letter_raw(
    tmp_path: Path, names: tuple[str, ...] = ("Thư gửi Bộ trưởng.pdf", "facts.pdf")
) -> bytes:
    pdf = render_pdf(
        PrintJob(
            html="<p>Your Excellency,</p>",
            template="t.j2",
            folder=tmp_path,
            roots=(tmp_path,),
            created=datetime(2010, 4, 23).date(),
        )
    )
    return compose(
        ComposeInput(
            from_name="Coalition",
            from_email="outreach@example.org",
            to_name=None,
            to_email="minister@example.org",
            reply_to=None,
            subject="Our letter",
            text="Please find our letter attached.\n",
            html=None,
            date=datetime(2010, 4, 23, 7, tzinfo=UTC),
            message_id="<letter.1@example.org>",
            list_unsubscribe_mailto=None,
            unsubscribe_url=None,
            attachments=tuple(Attachment(n, "application/pdf", pdf) for n in names),
        )
    ).raw


def test_review_show_lists_each_attachment(db, tmp_path: Path) -> None:
    raw = letter_raw(tmp_path)
    with Session(db.engine) as s:
        m = make_message(s, raw=raw)
        s.commit()
        detail = show(s, m.id)
    assert [(a.filename, a.content_type) for a in detail.attachments] == [
        ("Thư gửi Bộ trưởng.pdf", "application/pdf"),
        ("facts.pdf", "application/pdf"),
    ]
    first = detail.attachments[0]
    assert first.size > 1000 and len(first.sha256) == 64
    assert detail.text.strip() == "Please find our letter attached."


def hostile_raw(names: tuple[str, ...]) -> bytes:
    """Stored bytes whose attachment names compose() would refuse (a path, a repeat)."""
    message = EmailMessage()
    message["Subject"] = "hostile"
    message.set_content("x")
    for name in names:
        message.add_attachment(b"%PDF-1.4 " + name.encode(), "application", "pdf", filename=name)
    return message.as_bytes()


def test_attachments_are_saved_under_safe_names_and_never_overwritten(db, tmp_path: Path) -> None:
    raw = hostile_raw(("../../escape.pdf", "same.pdf", "same.pdf"))
    out = tmp_path / "out"
    with Session(db.engine) as s:
        m = make_message(s, raw=raw)
        s.commit()
        written = save_attachments(s, m.id, out)
        assert [p.name for p in written] == ["escape.pdf", "same.pdf", "same (2).pdf"]
        assert all(p.parent == out for p in written)
        assert not (tmp_path / "escape.pdf").exists()
        digest = hashlib.sha256(written[0].read_bytes()).hexdigest()
        assert digest == show(s, m.id).attachments[0].sha256
        (out / "same.pdf").write_bytes(b"mine")
        with pytest.raises(ReviewError, match=r"already exist.*--force"):
            save_attachments(s, m.id, out)
        assert (out / "same.pdf").read_bytes() == b"mine"
        save_attachments(s, m.id, out, force=True)
        assert (out / "same.pdf").read_bytes().startswith(b"%PDF")


def test_a_symlink_in_the_way_is_replaced_not_followed(db, tmp_path: Path) -> None:
    raw = letter_raw(tmp_path, ("letter.pdf",))
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / "letter.pdf").symlink_to(victim)
    with Session(db.engine) as s:
        m = make_message(s, raw=raw)
        s.commit()
        with pytest.raises(ReviewError):
            save_attachments(s, m.id, out)
        save_attachments(s, m.id, out, force=True)
    assert victim.read_text() == "keep me"
    assert not (out / "letter.pdf").is_symlink()


def test_the_pdf_preview_is_a_png_of_the_first_page(db, tmp_path: Path) -> None:
    with Session(db.engine) as s:
        m = make_message(s, raw=letter_raw(tmp_path))
        plain = make_message(s)
        s.commit()
        png = pdf_preview(s, m.id, width=300)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        with pytest.raises(NotFoundError, match="carries no PDF"):
            pdf_preview(s, plain.id)


def test_save_names_are_distinct_case_insensitively() -> None:
    atts = tuple(Attachment(n, "application/pdf", b"") for n in ("A.pdf", "a.pdf", "a.pdf"))
    assert save_names(atts) == ["A.pdf", "a (2).pdf", "a (3).pdf"]
