"""Attachment file names: the letter's pattern, and any name made one safe path segment."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from outreach.attachments.filenames import (
    DEFAULT_LETTER_FILENAME,
    MAX_STEM,
    fill_pattern,
    pattern_problem,
    safe_filename,
)


def test_the_default_pattern_fills_in_campaign_step_and_organisation() -> None:
    values = {
        "campaign": "ccm-2010",
        "step": "appeal",
        "contact.organisation": "Ministère des Affaires étrangères",
    }
    name = fill_pattern(DEFAULT_LETTER_FILENAME, values, extension="pdf")
    assert name == "ccm-2010-appeal-Ministère des Affaires étrangères.pdf"


def test_unsafe_characters_and_paths_are_neutralised() -> None:
    assert safe_filename("../../etc/passwd") == "etc-passwd"
    assert safe_filename('a/b\\c:d*e?f"g<h>i|j.pdf') == "a-b-c-d-e-f-g-h-i-j.pdf"
    assert safe_filename("x\r\nBcc: victim@example.org.pdf") == "x-Bcc- victim-example.org.pdf"
    assert safe_filename("  ..  ") == "attachment"
    assert safe_filename(".hidden") == "hidden"
    assert safe_filename("CON") == "CON_"
    assert safe_filename("report", extension="pdf") == "report.pdf"
    assert safe_filename("report.docx", extension="pdf") == "report.docx.pdf"
    assert fill_pattern("{contact.organisation}.pdf", {}, extension="pdf") == "letter.pdf"


def test_patterns_are_checked() -> None:
    assert pattern_problem(DEFAULT_LETTER_FILENAME) is None
    assert pattern_problem("{campaign}-{date}-{contact.fields.mission_city}.pdf") is None
    assert "unknown placeholder {nickname}" in (pattern_problem("{nickname}.pdf") or "")
    assert "unbalanced" in (pattern_problem("{campaign.pdf") or "")
    assert "not a path" in (pattern_problem("letters/{campaign}.pdf") or "")


@given(st.text(max_size=300), st.sampled_from([None, "pdf", "ics"]))
def test_a_safe_name_is_always_one_harmless_segment(name: str, extension: str | None) -> None:
    safe = safe_filename(name, extension=extension)
    assert safe and safe not in (".", "..")
    assert "/" not in safe and "\\" not in safe
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs") for ch in safe)
    assert safe == safe.strip()
    stem = safe.rsplit(".", 1)[0] if "." in safe else safe
    assert len(stem) <= MAX_STEM + 20
    if extension:
        assert safe.endswith("." + extension)
