"""A letter's HTML printed to PDF with WeasyPrint (imported on first use: it takes ~0.4 s).

* **A4 by default**, fonts that cover Vietnamese, Lao, French and Cyrillic: a user
  stylesheet sets ``@page { size: A4 }`` and a Noto font stack (Debian's ``fonts-noto-core``:
  Noto Serif, Noto Serif Lao, Noto Sans); the letter's own CSS overrides both.
* **No arbitrary reads, no network.** Every URL the letter uses (images, stylesheets, fonts)
  goes through :class:`SafeFetcher`: ``data:`` URIs, and regular files inside the allowed
  folders (the campaign's folder, the templates folder), nothing else — no ``http(s)``, no
  ``file:`` elsewhere, no symlink out. A refused or missing resource fails the letter (a
  letter without its signature is not queued), naming the URL.
* **Deterministic.** The PDF's creation and modification dates are the letter's date, so the
  same content gives the same bytes (and the same approved hash) on every render.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from outreach.attachments.sniff import sniff
from outreach.errors import AttachmentError

#: The user stylesheet under every letter (the letter's CSS wins over it).
BASE_CSS = """
@page { size: A4; margin: 22mm 20mm 22mm 22mm; }
html {
  font-family: "Noto Serif", "Noto Serif Lao", "Noto Sans Lao", "Noto Sans", "DejaVu Serif", serif;
  font-size: 11pt;
  line-height: 1.45;
}
"""
#: What a letter may read of one resource.
MAX_RESOURCE_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class PrintJob:
    """One letter to print: its HTML (rendered from ``template``), the folder its relative
    URLs resolve against, the folders it may read from, and its date."""

    html: str
    template: str
    folder: Path
    roots: tuple[Path, ...]
    created: date


def render_pdf(job: PrintJob) -> bytes:
    """The PDF of ``job``. Raises :class:`AttachmentError` (naming the template and the
    URL) when the letter uses a resource it may not, or that is missing."""
    from weasyprint import HTML
    from weasyprint.urls import FatalURLFetchingError

    fetcher = safe_fetcher(tuple(root.resolve() for root in job.roots))
    try:
        document = HTML(
            string=job.html, base_url=job.folder.resolve().as_uri() + "/", url_fetcher=fetcher
        ).render(stylesheets=[_base_css()])
    except FatalURLFetchingError as exc:
        cause = exc.__cause__ or exc
        raise AttachmentError(f"letter {job.template}: {cause}") from None
    document.metadata.created = job.created.isoformat()
    document.metadata.modified = job.created.isoformat()
    pdf = document.write_pdf()
    assert isinstance(pdf, bytes)
    return pdf


@lru_cache(maxsize=1)
def warm_up() -> None:
    """Load WeasyPrint, its stylesheets and the fonts once (the first letter of a process
    costs about a second more than the next): before forking render workers, so that they
    share what was loaded instead of each loading it again."""
    from weasyprint import HTML

    HTML(string="<p>Warm-up: Noto Serif, ລາວ, кириллица.</p>").render(
        stylesheets=[_base_css()]
    ).write_pdf()


@lru_cache(maxsize=1)
def _base_css() -> Any:
    from weasyprint import CSS

    return CSS(string=BASE_CSS)


class ResourceRefused(Exception):
    """A letter asked for a resource it may not read."""


def resolve_local(url: str, roots: tuple[Path, ...]) -> Path:
    """The file a ``file:`` URL names when it is a regular file inside one of ``roots``
    (already resolved); else :class:`ResourceRefused` saying why."""
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise ResourceRefused(
            f"may not load {url!r} (only files in the campaign or templates folder, and data: URIs)"
        )
    path = Path(unquote(parts.path)).resolve()
    if not any(path.is_relative_to(root) for root in roots):
        raise ResourceRefused(
            f"may not load {str(path)!r}: outside the campaign and templates folders"
        )
    if not path.is_file():
        raise ResourceRefused(f"{str(path)!r}: no such file")
    if path.stat().st_size > MAX_RESOURCE_BYTES:
        raise ResourceRefused(f"{str(path)!r}: larger than {MAX_RESOURCE_BYTES:,} bytes")
    return path


def safe_fetcher(roots: tuple[Path, ...]) -> Any:
    """A WeasyPrint URL fetcher that serves ``data:`` URIs and files inside ``roots`` and
    stops the render (``FatalURLFetchingError``) on anything else."""
    from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

    class SafeFetcher(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("data:"):
                return super().fetch(url, headers)
            try:
                path = resolve_local(url, roots)
                data = path.read_bytes()
            except (ResourceRefused, OSError) as exc:
                raise FatalURLFetchingError(str(exc)) from exc
            ctype = sniff(data, path.name).content_type
            if path.suffix.lower() == ".css":
                ctype = "text/css"
            return URLFetcherResponse(url, data, {"Content-Type": ctype})

    return SafeFetcher(allowed_protocols=("data", "file"))
