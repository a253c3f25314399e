"""How the console names a download (outreach/web/routes/letter_files.py): an ASCII fallback and
the full name as RFC 5987 ``filename*``; nothing can break out of the header."""

from __future__ import annotations

from outreach.web.routes.letter_files import content_disposition


def test_names_in_any_script_are_safe_in_the_header() -> None:
    header = content_disposition('Ministère "des" Affaires.pdf')
    assert header == (
        'attachment; filename="Minist_re _des_ Affaires.pdf"; '
        "filename*=UTF-8''Minist%C3%A8re%20%22des%22%20Affaires.pdf"
    )
    assert "\r" not in content_disposition("a\r\nX-Evil: 1.pdf")
