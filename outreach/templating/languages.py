"""Language tags (BCP 47) as the renderer uses them: normalised, their fallback chain, and the
Babel locale that formats dates and numbers in a letter's language."""

from __future__ import annotations

import re
from functools import lru_cache

import babel

_LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*$")


def normalise_tag(language: str | None) -> str | None:
    """``fr_ca`` → ``fr-CA``; ``None`` for anything that is not tag-shaped (so nothing odd
    ever reaches a file name)."""
    if not language:
        return None
    language = language.strip()
    if not _LANGUAGE_RE.match(language):
        return None
    parts = language.replace("_", "-").split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif len(part) == 2 or (len(part) == 3 and part.isdigit()):
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


def tag_chain(tag: str | None) -> list[str]:
    """``zh-Hant-TW`` → ``[zh-Hant-TW, zh-Hant, zh]``."""
    if not tag:
        return []
    parts = tag.split("-")
    return ["-".join(parts[:i]) for i in range(len(parts), 0, -1)]


@lru_cache(maxsize=256)
def babel_locale(tag: str | None) -> babel.Locale:
    """The Babel locale for formatting in ``tag``; bare ``en`` (and anything unknown) is the
    international English style ``en_GB``."""
    if tag and tag != "en":
        try:
            return babel.Locale.parse(tag, sep="-")
        except (ValueError, babel.UnknownLocaleError):
            pass
    return babel.Locale("en", "GB")
