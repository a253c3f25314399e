"""Contacts CSV files (outreach.contacts): read from disk, validated row by row, values out."""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import pytest

from outreach.contacts import (
    MAX_FIELD_LENGTH,
    ContactRow,
    ParsedContacts,
    RowError,
    parse_contacts_csv,
)
from outreach.errors import ContactImportError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "contacts"


def write(tmp_path: Path, text: str, name: str = "contacts.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def by_line(parsed: ParsedContacts) -> dict[int, list[RowError]]:
    out: dict[int, list[RowError]] = {}
    for error in parsed.errors:
        out.setdefault(error.line, []).append(error)
    return out


# --- a good file -------------------------------------------------------------------------------


def test_good_file_with_bom_custom_columns_and_tags() -> None:
    path = FIXTURES / "good_bom.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")

    parsed = parse_contacts_csv(path, extra_tags=("ccm-2010",))

    assert parsed.errors == ()
    assert parsed.ok
    assert parsed.source == str(path)
    alice, bruno, chi, dana = parsed.rows
    # The BOM did not end up in the first header name, so "Email" was found.
    assert alice == ContactRow(
        line=2,
        email="alice.martin@example.org",
        name="Alice Martin",
        salutation="Dear Ms Martin",
        title="Director",
        organisation="Ministry of Foreign Affairs",  # header spelled "Organization"
        country="FR",
        language="fr-CA",
        timezone="America/Montreal",
        tags=("press", "ngo", "ccm-2010"),
        fields={"Region": "North", "Ministry": "MFA"},
    )
    assert bruno.language == "pt-BR"  # written pt_BR
    assert bruno.title is None and bruno.organisation is None
    assert bruno.fields == {"Region": "South"}  # empty custom value dropped
    assert bruno.tags == ("ccm-2010",)
    # Line 4 is blank; physical line numbers are kept.
    assert chi.line == 5
    assert chi.email == "chi@example.com"  # surrounding spaces stripped
    assert chi.organisation == "Mission of Viet Nam, Geneva"
    assert chi.salutation == "Kính gửi ông Chí,"
    assert chi.name == "Nguyễn Văn Chí"
    assert dana == ContactRow(line=6, email="dana@example.org", tags=("ccm-2010",))


def test_values_are_frozen() -> None:
    row = parse_contacts_csv(FIXTURES / "good_bom.csv").rows[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.email = "other@example.org"  # type: ignore[misc]


def test_file_without_bom_and_crlf(tmp_path: Path) -> None:
    path = write(tmp_path, "EMAIL , Tags\r\nA@Example.org,x;y\r\n")
    parsed = parse_contacts_csv(path)
    assert parsed.errors == ()
    assert [(r.line, r.email, r.tags) for r in parsed.rows] == [(2, "a@example.org", ("x", "y"))]


# --- line 7 and line 12 ------------------------------------------------------------------------


def test_bad_address_on_line_7_and_case_duplicate_on_line_12() -> None:
    path = FIXTURES / "line7_line12.csv"
    parsed = parse_contacts_csv(path)

    assert [(e.line, e.column) for e in parsed.errors] == [(7, "email"), (12, "email")]
    bad, duplicate = parsed.errors
    assert str(bad).startswith(
        f"{path}, line 7: email: 'bob@@example.org' is not a valid address ("
    )
    assert "line 3" in duplicate.message  # names the earlier line
    assert str(duplicate).startswith(f"{path}, line 12: email: 'bruno@example.org' duplicates")
    # The good rows are still returned, in order, and the bad ones are not.
    assert [r.line for r in parsed.rows] == [2, 3, 5, 6, 8, 9, 10, 11, 13]
    emails = [r.email for r in parsed.rows]
    assert emails.count("bruno@example.org") == 1
    assert not any("bob" in e for e in emails)
    assert parsed.rows[0].timezone == "Europe/Zurich"


def test_every_bad_row_is_reported_not_just_the_first(tmp_path: Path) -> None:
    lines = ["email,timezone"] + [
        f"person{i}@example.org,{'Nowhere/Atlantis' if i % 3 == 0 else 'Europe/Paris'}"
        for i in range(30)
    ]
    parsed = parse_contacts_csv(write(tmp_path, "\n".join(lines) + "\n"))
    assert [e.line for e in parsed.errors] == [i + 2 for i in range(30) if i % 3 == 0]
    assert len(parsed.rows) == 20


def test_a_row_with_several_problems_reports_each(tmp_path: Path) -> None:
    path = write(tmp_path, "email,language,country,timezone\nnope,zz,QQ,Mars/Base\n")
    parsed = parse_contacts_csv(path)
    assert sorted(e.column for e in parsed.errors) == ["country", "email", "language", "timezone"]
    assert {e.line for e in parsed.errors} == {2}
    assert parsed.rows == ()


def test_duplicate_of_a_row_that_was_itself_bad_still_names_it(tmp_path: Path) -> None:
    path = write(tmp_path, "email,timezone\na@example.org,Bad/Zone\nA@EXAMPLE.ORG,\n")
    parsed = parse_contacts_csv(path)
    assert [(e.line, e.column) for e in parsed.errors] == [(2, "timezone"), (3, "email")]
    assert "duplicates line 2" in parsed.errors[1].message


# --- header injection --------------------------------------------------------------------------


def test_injection_fixture_every_kind_refused_with_its_line() -> None:
    parsed = parse_contacts_csv(FIXTURES / "injection.csv")
    # Lines 2-3 and 4-5 are one record each (a quoted CR, a quoted LF).
    assert [(e.line, e.column) for e in parsed.errors] == [
        (2, "name"),
        (4, "salutation"),
        (6, "title"),
        (7, "organisation"),
        (8, "tags"),
        (9, "Notes"),
    ]
    messages = [e.message for e in parsed.errors]
    assert "line break" in messages[0]
    assert "line break" in messages[1]
    assert "U+0000" in messages[2]
    assert "U+2028" in messages[3]
    assert "U+2029" in messages[4]
    assert "encoded-word" in messages[5]
    assert [(r.line, r.email) for r in parsed.rows] == [(10, "safe@example.org")]


PAYLOADS = {
    "cr": "Alice\rBcc: victim@example.net",
    "lf": "Alice\nBcc: victim@example.net",
    "crlf": "Alice\r\nBcc: victim@example.net",
    "trailing-lf": "Alice\n",
    "nul": "Alice\x00",
    "tab": "Alice\tSmith",
    "u2028": "Alice\u2028Bcc: victim@example.net",
    "u2029": "Alice\u2029Bcc: victim@example.net",
    "nel": "Alice\x85Bcc",
    "encoded-word": "=?UTF-8?Q?=0A?=Bcc: victim@example.net",
    "encoded-word-b": "Hi =?utf-8?b?DQpCY2M6IHg=?=",
}
COLUMNS = ["name", "salutation", "title", "organisation", "tags", "Department", "language"]


@pytest.mark.parametrize("column", COLUMNS)
@pytest.mark.parametrize("payload", list(PAYLOADS), ids=list(PAYLOADS))
def test_header_injection_refused_in_every_field(tmp_path: Path, column: str, payload: str) -> None:
    value = PAYLOADS[payload].replace('"', '""')
    text = f'email,{column}\nok@example.org,fr\nvictim@example.org,"{value}"\nlast@example.org,\n'
    parsed = parse_contacts_csv(write(tmp_path, text))

    assert len(parsed.errors) == 1
    error = parsed.errors[0]
    assert (error.line, error.column) == (3, column)
    assert [r.email for r in parsed.rows] == ["ok@example.org", "last@example.org"]
    # The line after a multi-line record is numbered physically.
    extra_lines = len(re.findall(r"\r\n|\r|\n", PAYLOADS[payload]))
    assert parsed.rows[1].line == 4 + extra_lines


@pytest.mark.parametrize("payload", list(PAYLOADS), ids=list(PAYLOADS))
def test_header_injection_refused_in_email(tmp_path: Path, payload: str) -> None:
    value = ("alice@example.org" + PAYLOADS[payload]).replace('"', '""')
    parsed = parse_contacts_csv(write(tmp_path, f'email\n"{value}"\n'))
    assert [(e.line, e.column) for e in parsed.errors] == [(2, "email")]
    assert parsed.rows == ()


def test_unsafe_extra_tag_is_a_file_level_error(tmp_path: Path) -> None:
    path = write(tmp_path, "email\na@example.org\n")
    with pytest.raises(ContactImportError, match="line break"):
        parse_contacts_csv(path, extra_tags=("ok", "bad\ntag"))


# --- ambiguous addresses -----------------------------------------------------------------------


def test_ambiguous_addresses_refused() -> None:
    parsed = parse_contacts_csv(FIXTURES / "ambiguous.csv")
    assert sorted(by_line(parsed)) == [2, 3, 4, 5, 6, 7, 8]
    for line in (2, 3, 5, 6, 7, 8):
        assert by_line(parsed)[line][0].column == "email"
        assert "not one bare address" in by_line(parsed)[line][0].message
    assert "3 fields" in by_line(parsed)[4][0].message
    assert [(r.line, r.email) for r in parsed.rows] == [(9, "ok@example.org")]


# --- coded columns -----------------------------------------------------------------------------


def test_unknown_timezone_language_country_refused_with_lines() -> None:
    parsed = parse_contacts_csv(FIXTURES / "bad_codes.csv")
    assert [(e.line, e.column) for e in parsed.errors] == [
        (2, "timezone"),
        (3, "language"),
        (4, "country"),
        (6, "country"),
        (6, "language"),
    ]
    assert "'Mars/Olympus_Mons'" in parsed.errors[0].message
    assert [(r.line, r.timezone, r.language, r.country) for r in parsed.rows] == [
        (5, "Europe/Zurich", "fr-CH", "CH")
    ]


# --- lengths and shapes ------------------------------------------------------------------------


def test_over_long_field_refused(tmp_path: Path) -> None:
    ok = "n" * MAX_FIELD_LENGTH
    long = "n" * (MAX_FIELD_LENGTH + 1)
    path = write(
        tmp_path,
        f"email,name,Notes\na@example.org,{ok},{ok}\nb@example.org,{long},\n"
        f"c@example.org,,{long}\n",
    )
    parsed = parse_contacts_csv(path)
    assert [(e.line, e.column) for e in parsed.errors] == [(3, "name"), (4, "Notes")]
    assert str(MAX_FIELD_LENGTH) in parsed.errors[0].message
    assert [r.email for r in parsed.rows] == ["a@example.org"]


def test_short_rows_and_extra_cells(tmp_path: Path) -> None:
    text = (
        "email,name,,\na@example.org\nb@example.org,B,,\nc@example.org,C,x\nd@example.org,D,,,y\n"
    )
    parsed = parse_contacts_csv(write(tmp_path, text))
    assert [(e.line, e.column) for e in parsed.errors] == [(4, "column 3"), (5, None)]
    assert [(r.email, r.name) for r in parsed.rows] == [
        ("a@example.org", None),
        ("b@example.org", "B"),
    ]


def test_missing_email_value(tmp_path: Path) -> None:
    parsed = parse_contacts_csv(write(tmp_path, "email,name\n,Nobody\n"))
    assert [(e.line, e.column, e.message) for e in parsed.errors] == [(2, "email", "is empty")]


# --- multi-line records ------------------------------------------------------------------------


def test_multiline_quoted_field_line_numbering() -> None:
    parsed = parse_contacts_csv(FIXTURES / "multiline.csv")
    # The record on lines 3-5 is reported at line 3; the next record starts on line 6.
    assert [(e.line, e.column) for e in parsed.errors] == [(3, "notes"), (6, "email")]
    assert [r.line for r in parsed.rows] == [2, 7]


def test_header_may_follow_blank_lines(tmp_path: Path) -> None:
    parsed = parse_contacts_csv(write(tmp_path, "\n\nemail\n\nbad\na@example.org\n"))
    assert [e.line for e in parsed.errors] == [5]
    assert [r.line for r in parsed.rows] == [6]


# --- file-level problems -----------------------------------------------------------------------


def test_missing_email_column() -> None:
    path = FIXTURES / "no_email_column.csv"
    with pytest.raises(ContactImportError, match=r"line 1: the header has no 'email' column") as e:
        parse_contacts_csv(path)
    assert str(path) in str(e.value)


def test_not_utf8_names_file_and_line() -> None:
    path = FIXTURES / "latin1.csv"
    with pytest.raises(ContactImportError) as e:
        parse_contacts_csv(path)
    assert str(e.value).startswith(f"{path}, line 3: not valid UTF-8")


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"", "no header row"),
        (b"\xef\xbb\xbf", "no header row"),
        (b"\n\n", "no header row"),
        (b"Email,name,EMAIL\n", r"duplicate column 'EMAIL' \(columns 1 and 3\)"),
        (b"email,organisation,Organization\n", "duplicate column"),
        (b'email,name\na@example.org,"unterminated\nb@example.org,B\n', "line 2: not valid CSV"),
        (b'email,name\na@example.org,"x"y\n', "line 2: not valid CSV"),
        (b"mail,name\nx@example.org,X\n", "no 'email' column"),
        (b'"em\nail",x\n', "line 1: column 1 name contains a line break"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not valid UTF-8"),
    ],
)
def test_file_level_errors(tmp_path: Path, content: bytes, pattern: str) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(content)
    with pytest.raises(ContactImportError, match=pattern) as e:
        parse_contacts_csv(path)
    assert str(path) in str(e.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ContactImportError, match="no such file"):
        parse_contacts_csv(tmp_path / "nope.csv")
    with pytest.raises(ContactImportError, match="directory"):
        parse_contacts_csv(tmp_path)


# --- progress and scale ------------------------------------------------------------------------


def test_progress_reported_every_thousand_rows_and_at_the_end(tmp_path: Path) -> None:
    lines = ["email"] + [f"p{i}@example.org" for i in range(2500)]
    calls: list[int] = []
    parsed = parse_contacts_csv(write(tmp_path, "\n".join(lines)), progress=calls.append)
    assert calls == [1000, 2000, 2500]
    assert len(parsed.rows) == 2500


@pytest.mark.slow
def test_hundred_thousand_rows_in_a_few_seconds(tmp_path: Path) -> None:
    zones = ["Europe/Zurich", "Asia/Tokyo", "America/New_York", "Africa/Dakar"]
    languages = ["fr", "en", "pt-BR", "fr-CA", "de-CH"]
    lines = ["email,name,salutation,country,language,timezone,tags,Region"] + [
        f"Person.{i}@Example{i % 500}.org,Person {i},Dear Person {i},CH,"
        f"{languages[i % 5]},{zones[i % 4]},a;b;c,R{i % 7}"
        for i in range(100_000)
    ]
    path = write(tmp_path, "\n".join(lines) + "\n")
    started = time.perf_counter()
    parsed = parse_contacts_csv(path)
    elapsed = time.perf_counter() - started
    assert len(parsed.rows) == 100_000 and parsed.errors == ()
    assert parsed.rows[-1].email == "person.99999@example499.org"
    assert elapsed < 15, f"{elapsed:.1f}s for 100,000 rows"
