"""A picture of a PDF: its first page as PNG, for the review console's preview and the
README. Uses pypdfium2 (PDFium in a PyPI wheel: no system package needed)."""

from __future__ import annotations

import io

from outreach.errors import AttachmentError


def first_page_png(pdf: bytes, *, width: int = 800) -> bytes:
    """The first page of ``pdf`` rendered ``width`` pixels wide, as PNG bytes. Raises
    :class:`AttachmentError` for bytes that are not a readable PDF."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(pdf)
    except pdfium.PdfiumError as exc:
        raise AttachmentError(f"not a readable PDF: {exc}") from None
    try:
        if len(document) == 0:
            raise AttachmentError("the PDF has no pages")
        page = document[0]
        scale = width / page.get_width()
        image = page.render(scale=scale).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        return out.getvalue()
    finally:
        document.close()
