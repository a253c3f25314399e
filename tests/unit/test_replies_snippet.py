"""snippet: the short text of a reply shown in listings, without quotes and signatures."""

from __future__ import annotations

import pytest

from outreach.replies.snippet import snippet, strip_quoted


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Yes, gladly.\n\nOn Fri, Apr 23, 2010 at 9:00 AM, X <x@example.org> wrote:\n> Dear",
            "Yes, gladly.",
        ),
        ("Oui.\n\nLe 23 avr. 2010 à 09:00, X a écrit :\n> Madame", "Oui."),
        ("Sí.\n\nEl 23/04/2010 9:00, X escribió:\n> Señor", "Sí."),
        ("Ja.\n\nAm 23.04.2010 09:00, schrieb X:\n> Herr", "Ja."),
        ("Fine.\n\n-----Original Message-----\nFrom: X\nSent: Friday", "Fine."),
        ("Fine.\n\nFrom: X [mailto:x@example.org]\nSent: Friday\nTo: Y\n\nDear", "Fine."),
        ("Fine.\n\nDe : X\nEnvoyé : vendredi\nÀ : Y", "Fine."),
        ("Thanks\n\nSent from my iPhone", "Thanks"),
        ("Thanks\n-- \nJane Doe\nMinistry", "Thanks"),
        ("> quoted first\nmy answer\n> more quote", "my answer"),
        ("  lots   of\n\n  space  ", "lots of space"),
    ],
)
def test_snippet_strips_quotes_and_signatures(text: str, expected: str) -> None:
    assert snippet(text) == expected


def test_snippet_truncates_with_ellipsis() -> None:
    text = "word " * 100
    out = snippet(text, limit=40)
    assert len(out) <= 40 and out.endswith("…")
    assert snippet("short", limit=40) == "short"


def test_strip_quoted_keeps_text_above_outlook_block_only_when_block_is_real() -> None:
    assert strip_quoted("From: the ministry, good news\nregards") == (
        "From: the ministry, good news\nregards"
    )
