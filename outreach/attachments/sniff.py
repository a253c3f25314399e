"""What a file is, from its bytes: the MIME type of an attachment, detected from magic numbers
(PDF, PNG, JPEG, GIF, WebP, SVG, ZIP and the office formats inside a ZIP, OLE2, RTF, iCalendar,
UTF-8 text), the file name's extension only deciding between types the bytes cannot tell apart
(a ZIP or UTF-8 text) or when the bytes say nothing. Pure: bytes in, a type out.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

#: Extensions that name a type when the bytes say nothing more specific.
BY_EXTENSION: dict[str, str] = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "svg": "image/svg+xml",
    "txt": "text/plain",
    "csv": "text/csv",
    "md": "text/markdown",
    "html": "text/html",
    "htm": "text/html",
    "ics": "text/calendar",
    "rtf": "application/rtf",
    "zip": "application/zip",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
}
OCTET_STREAM = "application/octet-stream"

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"{\\rtf", "application/rtf"),
)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OOXML_PARTS = (
    ("word/", BY_EXTENSION["docx"]),
    ("xl/", BY_EXTENSION["xlsx"]),
    ("ppt/", BY_EXTENSION["pptx"]),
)
_ODF_PREFIX = "application/vnd.oasis.opendocument."


@dataclass(frozen=True)
class Sniffed:
    """A detected type: ``content_type`` (``type/subtype``) and, for text, its charset."""

    content_type: str
    charset: str | None = None


def extension_of(name: str) -> str:
    """The lower-cased extension of ``name`` without its dot ("" when none)."""
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def sniff(data: bytes, name: str = "") -> Sniffed:
    """The MIME type of ``data`` (a file called ``name``): from its magic number first; a
    ZIP is looked into (OOXML and OpenDocument files are ZIPs); UTF-8 text without NUL is
    text (``text/plain`` unless the extension names a text type). The extension is used only
    when the bytes match no known signature and are not text."""
    ext = extension_of(name)
    for magic, ctype in _MAGIC:
        if data.startswith(magic):
            return Sniffed(ctype)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return Sniffed("image/webp")
    if data.startswith(b"PK\x03\x04"):
        return Sniffed(_zip_type(data))
    if data.startswith(_OLE2):
        legacy = BY_EXTENSION.get(ext, "")
        return Sniffed(legacy if ext in ("doc", "xls", "ppt") else "application/x-ole-storage")
    text = _as_text(data)
    if text is not None:
        return _text_type(text, ext)
    return Sniffed(
        BY_EXTENSION.get(ext, OCTET_STREAM) if ext not in _TEXT_EXTENSIONS else OCTET_STREAM
    )


_TEXT_EXTENSIONS = frozenset({"txt", "csv", "md", "html", "htm", "ics", "svg"})


def _zip_type(data: bytes) -> str:
    """An OpenDocument type (its ``mimetype`` entry), an OOXML type (by its part folders), or
    plain ZIP."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                declared = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
                if declared.startswith(_ODF_PREFIX):
                    return declared
            if "[Content_Types].xml" in names:
                for folder, ctype in _OOXML_PARTS:
                    if any(n.startswith(folder) for n in names):
                        return ctype
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, NotImplementedError):
        pass
    return "application/zip"


def _as_text(data: bytes) -> str | None:
    """``data`` as text when it is UTF-8 (a BOM allowed) without NUL bytes, else ``None``."""
    if b"\x00" in data[:65536]:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _text_type(text: str, ext: str) -> Sniffed:
    head = text[:2048].lstrip().lower()
    if head.startswith("begin:vcalendar"):
        return Sniffed("text/calendar", "utf-8")
    if "<svg" in head and (head.startswith("<svg") or head.startswith("<?xml")):
        return Sniffed("image/svg+xml")
    if ext in ("csv", "md", "html", "htm"):
        return Sniffed(BY_EXTENSION[ext], "utf-8")
    return Sniffed("text/plain", "utf-8")
