"""Attachment types come from the bytes (magic numbers, a look inside ZIPs), the extension only
deciding what the bytes cannot."""

from __future__ import annotations

import io
import zipfile

import pytest

from outreach.attachments.sniff import sniff


def _zip(entries: dict[str, bytes], *, stored_first: str | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        if stored_first:
            archive.writestr(stored_first, entries.pop(stored_first), zipfile.ZIP_STORED)
        for name, data in entries.items():
            archive.writestr(name, data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


DOCX = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"})
XLSX = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<x/>"})
ODT = _zip(
    {"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<c/>"},
    stored_first="mimetype",
)


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "letter.pdf", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "sig.png", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "photo.jpg", "image/jpeg"),
        (b"GIF89a\x01\x00\x01\x00", "anim.gif", "image/gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "pic.webp", "image/webp"),
        (
            DOCX,
            "text.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (XLSX, "sheet.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (ODT, "text.odt", "application/vnd.oasis.opendocument.text"),
        (_zip({"a.txt": b"a"}), "bundle.zip", "application/zip"),
        (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n", "event.ics", "text/calendar"),
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
            "s.svg",
            "image/svg+xml",
        ),
        ("Convention sur les armes à sous-munitions\n".encode(), "notes.txt", "text/plain"),
        (b"a,b\n1,2\n", "table.csv", "text/csv"),
        (b"{\\rtf1\\ansi hello}", "old.rtf", "application/rtf"),
    ],
)
def test_types_come_from_the_bytes(data: bytes, name: str, expected: str) -> None:
    assert sniff(data, name).content_type == expected


def test_the_bytes_win_over_a_misleading_extension() -> None:
    assert sniff(b"\x89PNG\r\n\x1a\nrest", "ccm-text.pdf").content_type == "image/png"
    assert sniff(b"%PDF-1.4 x", "photo.jpg").content_type == "application/pdf"
    assert sniff(DOCX, "archive.zip").content_type.endswith("wordprocessingml.document")


def test_the_extension_decides_only_for_unrecognised_binary() -> None:
    blob = bytes(range(256)) * 4
    assert sniff(blob, "file.pdf").content_type == "application/pdf"
    assert sniff(blob, "file.unknown").content_type == "application/octet-stream"
    assert sniff(blob, "notes.txt").content_type == "application/octet-stream"  # not text
    assert sniff(b"plain words", "file.pdf").content_type == "text/plain"
    assert sniff(b"plain words").charset == "utf-8"
