"""Attachment file names: the letter's name pattern (``{campaign}-{step}-{contact.organisation}.pdf``)
checked and filled in, and any name made safe to attach or to write to disk. Pure.

A safe name is one path segment of at most :data:`MAX_STEM` characters plus its extension:
letters, marks, digits, spaces and ``- _ . , ( ) & + '`` kept (any script: "Ministère des
Affaires étrangères" stays as it is and is written with RFC 2231 in the header), every other
character — ``/ \\ : * ? " < > |``, controls, line separators — becomes ``-``; never empty,
never ``.``/``..``, never a name Windows reserves.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

#: The default letter file name pattern.
DEFAULT_LETTER_FILENAME = "{campaign}-{step}-{contact.organisation}.pdf"
#: Characters of a name's stem (before the extension) kept at most.
MAX_STEM = 100
#: Contact fields a pattern may use as ``{contact.FIELD}`` (custom columns:
#: ``{contact.fields.COLUMN}``).
CONTACT_FIELDS = ("email", "name", "salutation", "title", "organisation", "country", "language")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_FIELD_COLUMN = re.compile(r"^contact\.fields\.[A-Za-z0-9_][A-Za-z0-9_ -]*$")
_KEPT_PUNCTUATION = frozenset("-_.,()&+' ")
_WINDOWS_RESERVED = frozenset(
    {
        "con",
        "prn",
        "aux",
        "nul",
        *(f"com{i}" for i in range(1, 10)),
        *(f"lpt{i}" for i in range(1, 10)),
    }
)


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable file name pattern, or ``None``. Placeholders:
    ``{campaign}``, ``{step}``, ``{date}`` (the letter's date, ISO), ``{contact.FIELD}`` for
    :data:`CONTACT_FIELDS` and ``{contact.fields.COLUMN}``."""
    if not pattern.strip():
        return "must not be empty"
    if "/" in pattern or "\\" in pattern:
        return "must be a file name, not a path (no '/' or '\\')"
    stripped = _PLACEHOLDER.sub("", pattern)
    if "{" in stripped or "}" in stripped:
        return "has an unbalanced '{' or '}'"
    for match in _PLACEHOLDER.finditer(pattern):
        name = match[1]
        if name in ("campaign", "step", "date"):
            continue
        if name.startswith("contact.") and (
            name.removeprefix("contact.") in CONTACT_FIELDS or _FIELD_COLUMN.match(name)
        ):
            continue
        known = "{campaign}, {step}, {date}, " + ", ".join(
            f"{{contact.{f}}}" for f in CONTACT_FIELDS
        )
        return f"unknown placeholder {{{name}}} (known: {known}, {{contact.fields.COLUMN}})"
    return None


def fill_pattern(pattern: str, values: Mapping[str, Any], *, extension: str) -> str:
    """``pattern`` with each placeholder replaced by its value in ``values`` (keys as written:
    ``campaign``, ``contact.organisation``, ``contact.fields.city``; a missing value is empty),
    made a :func:`safe_filename` ending in ``.extension``."""

    def value(match: re.Match[str]) -> str:
        found = values.get(match[1])
        return "" if found is None else str(found)

    return safe_filename(_PLACEHOLDER.sub(value, pattern), default="letter", extension=extension)


def safe_filename(name: str, *, default: str = "attachment", extension: str | None = None) -> str:
    """``name`` as one safe path segment (see the module docstring). A name with nothing left
    becomes ``default`` (a stem). With ``extension``, the result ends in ``.extension``
    (added when the name has another or none)."""
    name = unicodedata.normalize("NFC", name).strip()
    if extension is not None:
        ext = extension
        suffix = "." + extension.lower()
        stem = name[: -len(suffix)] if name.lower().endswith(suffix) else name
    else:
        stem, dot, ext = name.rpartition(".")
        if not dot or not _clean(stem):
            stem, ext = name, ""
    stem = _clean(stem)[:MAX_STEM].rstrip(" .-") or default
    if stem.lower() in _WINDOWS_RESERVED:
        stem += "_"
    ext = _clean(ext)[:16].strip(" .-")
    return f"{stem}.{ext}" if ext else stem


def _clean(name: str) -> str:
    """NFC, unsafe characters as ``-``, whitespace runs as one space, ``-`` runs as one,
    stripped of spaces, dots and dashes at both ends."""
    cleaned = "".join(_kept(ch) for ch in unicodedata.normalize("NFC", name))
    cleaned = re.sub(r"\s+", " ", cleaned)
    return re.sub(r"-{2,}", "-", cleaned).strip(" .-")


def _kept(ch: str) -> str:
    if ch in _KEPT_PUNCTUATION:
        return ch
    category = unicodedata.category(ch)
    if category[0] in "LMN":
        return ch
    if category == "Zs":
        return " "
    return "-"
