"""Printing a letter's HTML to PDF: A4, Noto fonts for Vietnamese, Lao, French and Cyrillic,
deterministic bytes, and a fetcher that reads only the campaign's and templates' folders and
data: URIs (never the network, never a file elsewhere)."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pypdf
import pytest

from outreach.attachments.pdf import PrintJob, render_pdf
from outreach.attachments.preview import first_page_png
from outreach.errors import AttachmentError

TEXT = {
    "vi": "Kính gửi Phó Thủ tướng Trần Quốc Bảo",
    "fr": "Son Excellence Monsieur le Ministre des Affaires étrangères",
    "ru": "Конвенция по кассетным боеприпасам",
}
LAO = "ສົນທິສັນຍາ ວຽງຈັນ"
PNG_1PX = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _job(tmp_path: Path, body: str, *, created: date = date(2010, 4, 23)) -> PrintJob:
    html = f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>T</title></head><body>{body}</body></html>'
    return PrintJob(html=html, template="t.j2", folder=tmp_path, roots=(tmp_path,), created=created)


def _reader(pdf: bytes) -> pypdf.PdfReader:
    return pypdf.PdfReader(io.BytesIO(pdf))


def test_a4_noto_fonts_for_every_script_and_dates_from_the_letter(tmp_path: Path) -> None:
    body = "".join(f"<p>{t}</p>" for t in TEXT.values()) + f"<p>{LAO}</p>"
    pdf = render_pdf(_job(tmp_path, body))
    reader = _reader(pdf)
    page = reader.pages[0]
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    text = page.extract_text()
    for sample in TEXT.values():
        assert sample in text
    fonts = {
        str(font["/BaseFont"]).split("+", 1)[-1]
        for font in (page["/Resources"]["/Font"].get_object()).values()
    }
    assert "Noto-Serif" in fonts and "Noto-Serif-Lao" in fonts
    assert all(f.startswith("Noto") for f in fonts), fonts
    assert reader.metadata["/CreationDate"].startswith("D:20100423")
    assert reader.metadata["/ModDate"].startswith("D:20100423")


def test_the_same_letter_gives_the_same_bytes(tmp_path: Path) -> None:
    first = render_pdf(_job(tmp_path, "<p>Your Excellency,</p>"))
    assert render_pdf(_job(tmp_path, "<p>Your Excellency,</p>")) == first
    assert render_pdf(_job(tmp_path, "<p>Your Excellency,</p>", created=date(2010, 4, 26))) != first


def test_images_from_the_campaign_folder_and_data_uris_are_allowed(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "sig.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
    )
    pdf = render_pdf(_job(tmp_path, f'<img src="files/sig.svg"><img src="{PNG_1PX}"><p>ok</p>'))
    assert "ok" in _reader(pdf).pages[0].extract_text()
    assert first_page_png(pdf, width=200).startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    "src",
    [
        "http://127.0.0.1:9/tracker.png",
        "https://www.example.org/logo.png",
        "file:///etc/passwd",
        "../outside.png",
        "files/missing.png",
    ],
)
def test_anything_else_fails_the_letter(tmp_path: Path, src: str) -> None:
    campaign = tmp_path / "campaign"
    campaign.mkdir()
    (tmp_path / "outside.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(AttachmentError, match=r"letter t\.j2: "):
        render_pdf(_job(campaign, f'<img src="{src}"><p>x</p>'))


def test_a_symlink_out_of_the_folder_and_css_imports_are_refused(tmp_path: Path) -> None:
    campaign = tmp_path / "campaign"
    campaign.mkdir()
    (tmp_path / "secret.css").write_text("body { color: red }")
    (campaign / "style.css").symlink_to(tmp_path / "secret.css")
    with pytest.raises(AttachmentError, match="outside"):
        render_pdf(_job(campaign, '<link rel="stylesheet" href="style.css"><p>x</p>'))
    with pytest.raises(AttachmentError, match="may not load"):
        render_pdf(_job(campaign, "<style>@import url(http://example.org/x.css);</style><p>x</p>"))
