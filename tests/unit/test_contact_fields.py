"""Contact field normalisation (outreach.contact_fields): addresses, languages, countries,
timezones and tags, value in, value out."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given
from hypothesis import strategies as st

from outreach.contact_fields import (
    normalise_country,
    normalise_email,
    normalise_language,
    normalise_timezone,
    split_tags,
)


@pytest.mark.parametrize(
    "value",
    [
        "alice@example.org)<bob@example.org>",
        "Alice <alice@example.org>",
        "<alice@example.org>",
        "alice@example.org (Alice)",
        "alice@example.org,bob@example.org",
        "alice@example.org bob@example.org",
        "alice@[192.0.2.1]",
        '"alice"@example.org',
        "alice@@example.org",
        "alice@example.org@example.net",
        "alice",
        "alice@localhost",
        "",
        "   ",
    ],
)
def test_normalise_email_refuses(value: str) -> None:
    with pytest.raises(ValueError):
        normalise_email(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Alice@Example.ORG", "alice@example.org"),
        ("  alice@example.org ", "alice@example.org"),
        ("o'brien+ccm@example.org", "o'brien+ccm@example.org"),
        ("Zoë@Example.org", "zoë@example.org"),
        ("a@MÜNCHEN.example", "a@münchen.example"),
    ],
)
def test_normalise_email_accepts(value: str, expected: str) -> None:
    assert normalise_email(value) == expected


FAST_PATH_CASES = [
    "alice@example.org",
    "Alice.Smith@Sub.Example.ORG",
    "a..b@example.org",
    ".a@example.org",
    "a.@example.org",
    "a@example",
    "a@exa_mple.org",
    "a@-example.org",
    "a@example-.org",
    "a@example.org.",
    "a@example.test",
    "a@example.local",
    "x" * 64 + "@example.org",
    "x" * 65 + "@example.org",
    "a@" + ("a" * 63 + ".") * 4 + "org",
    "a@" + "b" * 64 + ".org",
    "a@xn--mnchen-3ya.example",
    "a@xn--zz.example",
    "{weird}!#$%&'*+/=^_`|~-@example.org",
    "a@123.example.org",
    "a@example.123",
]


@pytest.mark.parametrize("address", FAST_PATH_CASES)
def test_fast_path_agrees_with_email_validator(address: str) -> None:
    """normalise_email caches domain checks; it must give email-validator's answer."""
    try:
        expected: str | None = validate_email(
            address, check_deliverability=False
        ).normalized.lower()
    except EmailNotValidError:
        expected = None
    try:
        got: str | None = normalise_email(address)
    except ValueError:
        got = None
    assert got == expected


@given(
    st.one_of(
        st.emails(),
        st.from_regex(r"[A-Za-z0-9.!#'+_-]{0,70}@[A-Za-z0-9._-]{0,70}", fullmatch=True),
    )
)
def test_normalise_email_matches_email_validator_on_arbitrary_addresses(address: str) -> None:
    try:
        expected: str | None = validate_email(
            address, check_deliverability=False
        ).normalized.lower()
    except EmailNotValidError:
        expected = None
    try:
        got: str | None = normalise_email(address)
    except ValueError:
        got = None
    assert got == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("fr", "fr"),
        ("FR", "fr"),
        ("fr-ca", "fr-CA"),
        ("fr_CA", "fr-CA"),
        ("pt-BR", "pt-BR"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("vi", "vi"),
    ],
)
def test_language_normalised(value: str, expected: str) -> None:
    assert normalise_language(value) == expected


@pytest.mark.parametrize(
    "value",
    ["xx", "und", "en-ZZ", "iw", "fr-JP", "english", "f", "fr-CA-x-private", "fr--CA", "ñu"],
)
def test_language_refused(value: str) -> None:
    with pytest.raises(ValueError):
        normalise_language(value)


def test_country_and_timezone() -> None:
    assert normalise_country("ch") == "CH"
    assert normalise_country("LA") == "LA"
    for bad in ("EU", "ZZ", "UN", "XX", "CHE", "1"):
        with pytest.raises(ValueError):
            normalise_country(bad)
    assert normalise_timezone("asia/ho_chi_minh") == "Asia/Ho_Chi_Minh"
    assert normalise_timezone("UTC") == "UTC"
    assert normalise_timezone("Europe/Geneva") == "Europe/Zurich"
    for bad in ("Europe/Genf", "localtime", "Factory", "CEST", "+02:00"):
        with pytest.raises(ValueError):
            normalise_timezone(bad)


def test_split_tags() -> None:
    assert split_tags(" press ; ngo;;PRESS; Ngo ;x") == ("press", "ngo", "x")
    assert split_tags("") == ()
