"""Contact field values: each column of a contacts file checked and normalised, one value at a
time. Pure (CLDR data from Babel, zone names from zoneinfo); every ``normalise_*`` function
returns the stored form or raises ``ValueError`` saying what is wrong, in words a user reads
after ``<file>, line N: <column>:``.

The decisions (lower-cased addresses, one bare addr-spec, canonical language tags, CLDR
countries, IANA zones, ``;``- or ``,``-separated tags) are listed in :mod:`outreach.contacts`.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Iterable

import babel
from email_validator import EmailNotValidError, ValidatedEmail, validate_email

from outreach.headersafe import header_problem
from outreach.spec import TIMEZONE_ALIASES

#: CLDR two-letter territories that are not countries.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})

#: An ASCII dot-atom local part (RFC 5322 atext, dots between atoms).
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")

#: Exactly the characters header_problem refuses (categories Cc, Zl, Zp and U+0085), for a fast
#: pre-check; encoded words need "=?".
_UNSAFE_CHAR = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

#: Characters that make an email field ambiguous or more than one bare address.
_AMBIGUOUS = re.compile(r"[\s<>(),;:\"\[\]\\]")


@functools.cache
def _timezones() -> dict[str, str]:
    """Lower-cased IANA name -> canonical name, for every zone zoneinfo can load."""
    return {
        name.lower(): name
        for name in zoneinfo.available_timezones()
        if name not in ("localtime", "Factory", "posixrules")
    }


@functools.cache
def _countries() -> frozenset[str]:
    territories = babel.Locale("en").territories
    return (
        frozenset(code for code in territories if len(code) == 2 and code.isalpha())
        - _NOT_COUNTRIES
    )


def value_problem(value: str) -> str | None:
    """:func:`header_problem`, skipped for the (usual) values that cannot have one."""
    if _UNSAFE_CHAR.search(value) is None and "=?" not in value:
        return None
    return header_problem(value)


def quoted(value: str, limit: int = 60) -> str:
    """``value`` quoted for a message, escapes visible, shortened if long."""
    if len(value) > limit:
        value = value[:limit] + "…"
    return repr(value)


def normalise_email(value: str) -> str:
    """The address in ``value`` normalised and lower-cased, or raise ``ValueError`` saying why.

    ``value`` must be exactly one bare addr-spec (surrounding spaces aside). No DNS lookups.
    """
    candidate = value.strip(" ")
    if not candidate:
        raise ValueError("is empty")
    problem = value_problem(value)
    if problem is not None:
        raise ValueError(f"{quoted(value)} {problem}")
    if _AMBIGUOUS.search(candidate):
        raise ValueError(
            f"{quoted(candidate)} is not one bare address "
            "(no names, brackets, quotes, commas, semicolons or spaces)"
        )
    fast = _fast_normalise(candidate)
    if fast is not None:
        return fast
    try:
        return _validate(candidate).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"{quoted(candidate)} is not a valid address ({exc})") from None


def _validate(address: str) -> ValidatedEmail:
    return validate_email(
        address,
        check_deliverability=False,
        allow_display_name=False,
        allow_quoted_local=False,
        allow_domain_literal=False,
        allow_empty_local=False,
    )


@functools.lru_cache(maxsize=4096)
def _ascii_domain(domain: str) -> str | None:
    """The normalised form of an ASCII ``domain`` as email-validator sees it, or ``None``."""
    try:
        return _validate(f"a@{domain}").domain
    except EmailNotValidError:
        return None


def _fast_normalise(address: str) -> str | None:
    """Same answer as email-validator for the common case (ASCII dot-atom local part, ASCII
    domain), with the domain's validation cached, since a list holds few distinct domains;
    ``None`` means "ask email-validator" (anything unusual, and every invalid address, so the
    message is always email-validator's)."""
    if not address.isascii() or len(address) > 254:
        return None
    local, at, domain = address.partition("@")
    if not at or len(local) > 64 or not _DOT_ATOM.fullmatch(local):
        return None
    normalised = _ascii_domain(domain)
    if normalised is None:
        return None
    return f"{local}@{normalised}".lower()


@functools.lru_cache(maxsize=1024)
def normalise_language(value: str) -> str:
    """``value`` as a canonically cased BCP 47 tag Babel knows (``fr``, ``fr-CA``), or raise
    ``ValueError``."""
    parts = value.replace("_", "-").split("-")
    if not value.isascii() or not parts[0].isalpha() or not 2 <= len(parts[0]) <= 3:
        raise ValueError(f"{quoted(value)} is not a language tag (e.g. 'fr', 'fr-CA', 'pt-BR')")
    language, script, territory = parts[0].lower(), None, None
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha() and script is None and territory is None:
            script = part.title()
        elif (
            (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit())
        ) and territory is None:
            territory = part.upper()
        else:
            raise ValueError(
                f"{quoted(value)} is not a supported language tag (language[-Script][-REGION])"
            )
    tag = "-".join(p for p in (language, script, territory) if p)
    try:
        locale = babel.Locale.parse(tag, sep="-")
    except (ValueError, babel.UnknownLocaleError):
        raise ValueError(f"{quoted(value)} is not a known language") from None
    if locale.language != language or (territory is not None and locale.territory != territory):
        raise ValueError(f"{quoted(value)} is not a known language (Babel reads it as {locale})")
    return tag


def normalise_country(value: str) -> str:
    """``value`` as an upper-case ISO 3166-1 alpha-2 code, or raise ``ValueError``."""
    code = value.upper()
    if code not in _countries():
        raise ValueError(f"{quoted(value)} is not an ISO 3166 two-letter country code")
    return code


def normalise_timezone(value: str) -> str:
    """``value`` as its canonical IANA timezone name, or raise ``ValueError``.

    The aliases campaign files accept (``Europe/Geneva`` -> ``Europe/Zurich``) are accepted
    here too, so a contact and a campaign can be written the same way."""
    aliases = {k.lower(): v for k, v in TIMEZONE_ALIASES.items()}
    name = aliases.get(value.lower()) or _timezones().get(value.lower())
    if name is None:
        raise ValueError(f"{quoted(value)} is not an IANA timezone (e.g. 'Europe/Zurich')")
    return name


#: What separates tags in a cell: ``;`` or ``,`` (``"target, eu"`` is two tags).
TAG_SEPARATORS = re.compile(r"[;,]")


def split_tags(value: str) -> tuple[str, ...]:
    """Tags from a ``;``- or ``,``-separated cell: stripped, empties dropped, de-duplicated
    case-insensitively with the first spelling kept."""
    return dedupe_tags(TAG_SEPARATORS.split(value))


def dedupe_tags(tags: Iterable[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    out: list[str] = []
    for raw in tags:
        tag = raw.strip(" ")
        if tag and tag.lower() not in seen:
            seen.add(tag.lower())
            out.append(tag)
    return tuple(out)


#: The columns holding codes, and the function that normalises each.
CODED_COLUMNS = {
    "country": normalise_country,
    "language": normalise_language,
    "timezone": normalise_timezone,
}
