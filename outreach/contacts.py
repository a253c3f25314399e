"""Contacts CSV: parse and validate a contacts file into values, without touching the database.

Pure apart from reading the one file it is given. This module reads the CSV, maps columns and
collects problems; :mod:`outreach.contact_fields` checks and normalises each value. The format
is DESIGN.md §Contacts CSV (and README §Contacts CSV): a header row with an ``email`` column;
known columns ``name, salutation, title, organisation, country, language, timezone, tags``
(spelt as spreadsheets spell them: see :data:`HEADER_ALIASES`); any other column becomes a
custom field. Fields are separated by ``,`` or, as many locales' spreadsheets export, ``;``
(or tabs): the header line tells which (:func:`detect_delimiter`), unless the caller says.

Problems with a row never raise: :func:`parse_contacts_csv` collects one :class:`RowError` per
problem, for every bad row, and returns the good rows next to them, so the caller can choose
all-or-nothing (the default import) or ``--skip-invalid``. Only problems with the file as a whole
(missing, not UTF-8, not CSV, no header, no ``email`` column) raise :class:`ContactImportError`.

Decisions worth knowing:

* Addresses are stored **lower-case**, the whole address. RFC 5321 lets a local part be
  case-sensitive, but no mail system we will ever write to treats ``Alice@`` and ``alice@`` as
  different people, and lower-casing makes "the same address differing only in case" a
  duplicate, which is what users mean.
* The email field must be exactly one bare ``addr-spec``: no display name, angle brackets,
  comments, quoted local parts, domain literals, commas, semicolons or whitespace inside.
  Surrounding spaces (``alice@example.org, Alice`` style CSV) are stripped.
* Every text value (name, salutation, title, organisation, tags, custom fields, and the coded
  columns) is refused if it contains CR, LF, any other control character, U+2028/U+2029 or RFC
  2047 encoded-word syntax (:func:`outreach.headersafe.header_problem`) — also inside a quoted
  CSV field, where a newline is legal CSV — because these values can reach headers and
  salutations. The check runs on the raw value, before surrounding spaces are stripped.
* ``language`` is kept as written, canonically cased (``fr``, ``fr-CA``, ``pt-BR``,
  ``zh-Hant-TW``; ``_`` is accepted for ``-``); Babel must know it as written. Tags that Babel
  would silently replace (``und``, ``en-ZZ``, ``iw``) are refused rather than rewritten.
* ``country`` is an ISO 3166-1 alpha-2 code from CLDR's territory list, minus the groupings and
  pseudo-regions (EU, EZ, UN, QO, XA, XB, ZZ). ``timezone`` is an IANA name known to zoneinfo,
  matched case-insensitively and stored in its canonical spelling.
* ``tags`` are split on ``;`` and ``,``, stripped, empties dropped, and de-duplicated
  case-insensitively (the first spelling wins); ``extra_tags`` (``--tag T``) are appended to
  every row.
* Header names are matched ignoring case, spaces, ``-``, ``_`` and ``.``, through
  :data:`HEADER_ALIASES` (``E-mail`` and ``Email Address`` are ``email``, ``Organization``
  is ``organisation``); custom field names keep their spelling, stripped. Columns with an empty
  header are ignored as long as they hold no values (spreadsheets add trailing commas).
* Line numbers are physical line numbers in the file (header usually line 1); a record whose
  quoted field spans several lines is reported at the line it starts on.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from outreach.contact_fields import (
    CODED_COLUMNS,
    TAG_SEPARATORS,
    dedupe_tags,
    normalise_email,
    quoted,
    split_tags,
    value_problem,
)
from outreach.errors import ContactImportError
from outreach.headersafe import header_problem

#: Longest value accepted in any one field.
MAX_FIELD_LENGTH = 500

#: How often (in data rows) ``progress`` is called.
PROGRESS_EVERY = 1000

KNOWN_COLUMNS = (
    "email",
    "name",
    "salutation",
    "title",
    "organisation",
    "country",
    "language",
    "timezone",
    "tags",
)
#: Header names (folded: lower case, without spaces, ``-``, ``_`` or ``.``) and the known
#: column each means.
HEADER_ALIASES = {
    "email": "email",
    "emailaddress": "email",
    "name": "name",
    "fullname": "name",
    "salutation": "salutation",
    "title": "title",
    "jobtitle": "title",
    "organisation": "organisation",
    "organization": "organisation",
    "organisationname": "organisation",
    "organizationname": "organisation",
    "country": "country",
    "countrycode": "country",
    "language": "language",
    "languagecode": "language",
    "lang": "language",
    "timezone": "timezone",
    "tz": "timezone",
    "tags": "tags",
    "tag": "tags",
}
#: The field separators a file may use (detected from its header line).
DELIMITERS = ",;\t"
_FOLD = re.compile(r"[\s_.\-]+")


def header_key(name: str) -> str | None:
    """The known column a header ``name`` means (``E-mail`` → ``email``), or ``None`` for a
    custom column."""
    return HEADER_ALIASES.get(_FOLD.sub("", name.lower()))


def detect_delimiter(header_line: str) -> str:
    """The field separator of a file whose first line is ``header_line``: ``,``, ``;`` or a
    tab, as :class:`csv.Sniffer` reads it (``,`` when it cannot tell, e.g. a lone column)."""
    try:
        return csv.Sniffer().sniff(header_line, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


@dataclass(frozen=True)
class ContactRow:
    """One valid contact from the file, normalised. ``line`` is where its record starts."""

    line: int
    email: str
    name: str | None = None
    salutation: str | None = None
    title: str | None = None
    organisation: str | None = None
    country: str | None = None
    language: str | None = None
    timezone: str | None = None
    tags: tuple[str, ...] = ()
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RowError:
    """One problem with one row: the line it starts on, the column (if one is to blame) and why.

    ``str()`` gives the one line a user sees:
    ``contacts.csv, line 7: email: 'bob@@example.org' is not a valid address (...)``.
    """

    line: int
    column: str | None
    message: str
    source: str = ""

    def __str__(self) -> str:
        where = f"{self.source}, line {self.line}" if self.source else f"line {self.line}"
        if self.column:
            return f"{where}: {self.column}: {self.message}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class ParsedContacts:
    """The good rows and every problem found, in file order; ``source`` is the file as given,
    ``delimiter`` the field separator it was read with."""

    rows: tuple[ContactRow, ...]
    errors: tuple[RowError, ...]
    source: str
    delimiter: str = ","

    @property
    def ok(self) -> bool:
        """True when no row had a problem."""
        return not self.errors

    @property
    def bad_rows(self) -> int:
        """How many rows had a problem (a row may have several)."""
        return len({e.line for e in self.errors})


def _read_text(path: Path) -> str:
    source = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ContactImportError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise ContactImportError(f"{source}: is a directory, not a CSV file") from None
    except OSError as exc:
        raise ContactImportError(f"{source}: cannot be read ({exc.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ContactImportError(
            f"{source}, line {line}: not valid UTF-8 (byte 0x{data[exc.start]:02x}); "
            "save the file as UTF-8 CSV"
        ) from None


def _header(names: list[str], source: str, line: int) -> list[str | None]:
    """Canonical column keys for the header row (``None`` for unnamed columns)."""
    keys: list[str | None] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(names, start=1):
        problem = header_problem(raw)
        if problem is not None:
            raise ContactImportError(f"{source}, line {line}: column {index} name {problem}")
        name = raw.strip(" ")
        if not name:
            keys.append(None)
            continue
        known = header_key(name)
        folded = known or name.lower()
        if folded in seen:
            raise ContactImportError(
                f"{source}, line {line}: duplicate column {name!r} "
                f"(columns {seen[folded]} and {index})"
            )
        seen[folded] = index
        keys.append(known or name)
    if "email" not in seen:
        shown = ", ".join(repr(n.strip(" ")) for n in names)
        raise ContactImportError(
            f"{source}, line {line}: the header has no 'email' column (columns: {shown})"
        )
    return keys


def _records(text: str, source: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank CSV record with the physical line it starts on; ContactImportError
    naming the line for invalid CSV."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, delimiter=delimiter)
    previous_end = 0
    while True:
        start = previous_end + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ContactImportError(f"{source}, line {start}: not valid CSV ({exc})") from None
        previous_end = reader.line_num
        if any(cell.strip(" ") for cell in record):  # not a blank line or a line of empty cells
            yield start, record


def _checked_extra_tags(extra_tags: tuple[str, ...]) -> tuple[str, ...]:
    for tag in extra_tags:
        problem = header_problem(tag) or (
            "contains ';' or ',' (tags are separated by them)"
            if TAG_SEPARATORS.search(tag)
            else None
        )
        if problem:
            raise ContactImportError(f"tag {quoted(tag)} {problem}")
    return dedupe_tags(extra_tags)


def parse_contacts_csv(
    path: Path,
    *,
    extra_tags: tuple[str, ...] = (),
    progress: Callable[[int], None] | None = None,
    delimiter: str | None = None,
) -> ParsedContacts:
    """Read and validate the contacts CSV at ``path``, its fields separated by ``delimiter``
    (``None``: detected from the header line, :func:`detect_delimiter`).

    Returns every valid row (normalised, in file order) and one :class:`RowError` per problem
    in every invalid row; an invalid row never appears in ``rows``. A later row whose address
    equals an earlier one (ignoring case) is an error naming the earlier line. ``extra_tags``
    are added to every row. ``progress(n)`` is called with the number of data rows done every
    :data:`PROGRESS_EVERY` rows and once at the end.

    Raises :class:`ContactImportError` only for the file as a whole: missing or unreadable,
    not UTF-8 (naming the line), not valid CSV (naming the line), no header row, no ``email``
    column, a duplicate column name, or an unsafe ``extra_tags`` value.
    """
    source = str(path)
    extra = _checked_extra_tags(extra_tags)
    text = _read_text(path)
    if delimiter is None:
        delimiter = detect_delimiter(text.split("\n", 1)[0])
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise ContactImportError(f"delimiter {delimiter!r}: give one character, such as ';'")
    records = _records(text, source, delimiter)
    first = next(records, None)
    if first is None:
        raise ContactImportError(f"{source}: no header row (the file is empty)")
    keys = _header(first[1], source, first[0])
    rows: list[ContactRow] = []
    errors: list[RowError] = []
    first_line_of: dict[str, int] = {}
    done = 0
    for start, record in records:
        row, row_errors = _parse_record(record, keys, start, source, extra)
        if row is not None:
            earlier = first_line_of.setdefault(row.email, start)
            if earlier != start:
                row_errors.append(RowError(start, "email", _duplicate(row.email, earlier), source))
        if row_errors:
            errors.extend(row_errors)
        elif row is not None:
            rows.append(row)
        done += 1
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done)
    if progress is not None and done % PROGRESS_EVERY != 0:
        progress(done)
    return ParsedContacts(
        rows=tuple(rows), errors=tuple(errors), source=source, delimiter=delimiter
    )


def _duplicate(email: str, earlier: int) -> str:
    return f"{email!r} duplicates line {earlier} (addresses are compared ignoring case)"


def _cells(
    record: list[str], keys: list[str | None], fail: Callable[[str | None, str], None]
) -> tuple[dict[str, str], dict[str, str]]:
    """(known columns, custom fields) of one record: values stripped, empty ones left out; the
    email cell kept raw. Every unsafe, too long or unnamed value is reported to ``fail``."""
    if len(record) > len(keys) and any(cell.strip(" ") for cell in record[len(keys) :]):
        fail(None, f"has {len(record)} fields but the header has {len(keys)}")
    values: dict[str, str] = {}
    custom: dict[str, str] = {}
    for index, (key, raw) in enumerate(zip(keys, record, strict=False), start=1):
        if key is None:
            if raw.strip(" "):
                fail(f"column {index}", f"has a value {quoted(raw)} but no header name")
        elif key == "email":
            values[key] = raw
        elif raw.strip(" "):
            problem = value_problem(raw)
            value = raw.strip(" ")
            if problem is not None:
                fail(key, f"{quoted(raw)} {problem}")
            elif len(value) > MAX_FIELD_LENGTH:
                fail(key, f"is {len(value)} characters long (at most {MAX_FIELD_LENGTH})")
            elif key in KNOWN_COLUMNS:
                values[key] = value
            else:
                custom[key] = value
    return values, custom


def _parse_record(
    record: list[str],
    keys: list[str | None],
    line: int,
    source: str,
    extra_tags: tuple[str, ...],
) -> tuple[ContactRow | None, list[RowError]]:
    """Validate one data record. Returns the row (``None`` when there is no usable address)
    and its problems; the address is still returned when only other columns are bad, so that
    duplicate detection sees it."""
    errors: list[RowError] = []

    def fail(column: str | None, message: str) -> None:
        errors.append(RowError(line, column, message, source))

    values, custom = _cells(record, keys, fail)
    email: str | None = None
    try:
        email = normalise_email(values.get("email", ""))
    except ValueError as exc:
        fail("email", str(exc))
    coded: dict[str, str] = {}
    for key, normalise in CODED_COLUMNS.items():
        if key in values:
            try:
                coded[key] = normalise(values[key])
            except ValueError as exc:
                fail(key, str(exc))
    if email is None:
        return None, errors
    row = ContactRow(
        line=line,
        email=email,
        name=values.get("name"),
        salutation=values.get("salutation"),
        title=values.get("title"),
        organisation=values.get("organisation"),
        country=coded.get("country"),
        language=coded.get("language"),
        timezone=coded.get("timezone"),
        tags=dedupe_tags((*split_tags(values.get("tags", "")), *extra_tags)),
        fields=custom,
    )
    return row, errors
