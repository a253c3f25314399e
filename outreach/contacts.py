"""Contacts CSV: parse and validate a contacts file into values, without touching the database.

Pure apart from reading the one file it is given. The format is DESIGN.md §Contacts CSV: a header
row with an ``email`` column; known columns ``name, salutation, title, organisation, country,
language, timezone, tags``; any other column becomes a custom field.

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
* ``tags`` are split on ``;``, stripped, empties dropped, and de-duplicated case-insensitively
  (the first spelling wins); ``extra_tags`` (``--tag T``) are appended to every row.
* Header names are matched case-insensitively (``organization`` is accepted for
  ``organisation``); custom field names keep their spelling, stripped. Columns with an empty
  header are ignored as long as they hold no values (spreadsheets add trailing commas).
* Line numbers are physical line numbers in the file (header usually line 1); a record whose
  quoted field spans several lines is reported at the line it starts on.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import babel
from email_validator import EmailNotValidError, ValidatedEmail, validate_email

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
_ALIASES = {"organization": "organisation"}

#: CLDR two-letter territories that are not countries.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})

#: An ASCII dot-atom local part (RFC 5322 atext, dots between atoms).
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")

#: Exactly the characters header_problem refuses (categories Cc, Zl, Zp and U+0085), for a fast
#: pre-check; encoded words need "=?".
_UNSAFE_CHAR = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

#: Characters that make an email field ambiguous or more than one bare address.
_AMBIGUOUS = re.compile(r"[\s<>(),;:\"\[\]\\]")


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
    """The good rows and every problem found, in file order; ``source`` is the file as given."""

    rows: tuple[ContactRow, ...]
    errors: tuple[RowError, ...]
    source: str

    @property
    def ok(self) -> bool:
        """True when no row had a problem."""
        return not self.errors


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


def _problem(value: str) -> str | None:
    """:func:`header_problem`, skipped for the (usual) values that cannot have one."""
    if _UNSAFE_CHAR.search(value) is None and "=?" not in value:
        return None
    return header_problem(value)


def _show(value: str, limit: int = 60) -> str:
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
    problem = _problem(value)
    if problem is not None:
        raise ValueError(f"{_show(value)} {problem}")
    if _AMBIGUOUS.search(candidate):
        raise ValueError(
            f"{_show(candidate)} is not one bare address "
            "(no names, brackets, quotes, commas, semicolons or spaces)"
        )
    fast = _fast_normalise(candidate)
    if fast is not None:
        return fast
    try:
        return _validate(candidate).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"{_show(candidate)} is not a valid address ({exc})") from None


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
        raise ValueError(f"{_show(value)} is not a language tag (e.g. 'fr', 'fr-CA', 'pt-BR')")
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
                f"{_show(value)} is not a supported language tag (language[-Script][-REGION])"
            )
    tag = "-".join(p for p in (language, script, territory) if p)
    try:
        locale = babel.Locale.parse(tag, sep="-")
    except (ValueError, babel.UnknownLocaleError):
        raise ValueError(f"{_show(value)} is not a known language") from None
    if locale.language != language or (territory is not None and locale.territory != territory):
        raise ValueError(f"{_show(value)} is not a known language (Babel reads it as {locale})")
    return tag


def normalise_country(value: str) -> str:
    """``value`` as an upper-case ISO 3166-1 alpha-2 code, or raise ``ValueError``."""
    code = value.upper()
    if code not in _countries():
        raise ValueError(f"{_show(value)} is not an ISO 3166 two-letter country code")
    return code


def normalise_timezone(value: str) -> str:
    """``value`` as its canonical IANA timezone name, or raise ``ValueError``.

    The aliases campaign files accept (``Europe/Geneva`` -> ``Europe/Zurich``) are accepted
    here too, so a contact and a campaign can be written the same way."""
    from outreach.spec import TIMEZONE_ALIASES

    aliases = {k.lower(): v for k, v in TIMEZONE_ALIASES.items()}
    name = aliases.get(value.lower()) or _timezones().get(value.lower())
    if name is None:
        raise ValueError(f"{_show(value)} is not an IANA timezone (e.g. 'Europe/Zurich')")
    return name


def split_tags(value: str) -> tuple[str, ...]:
    """Tags from a ``;``-separated cell: stripped, empties dropped, de-duplicated
    case-insensitively with the first spelling kept."""
    return _dedupe(value.split(";"))


def _dedupe(tags: Iterable[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    out: list[str] = []
    for raw in tags:
        tag = raw.strip(" ")
        if tag and tag.lower() not in seen:
            seen.add(tag.lower())
            out.append(tag)
    return tuple(out)


_CODED = {
    "country": normalise_country,
    "language": normalise_language,
    "timezone": normalise_timezone,
}


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
        folded = _ALIASES.get(name.lower(), name.lower())
        if folded in seen:
            raise ContactImportError(
                f"{source}, line {line}: duplicate column {name!r} "
                f"(columns {seen[folded]} and {index})"
            )
        seen[folded] = index
        keys.append(folded if folded in KNOWN_COLUMNS else name)
    if "email" not in seen:
        shown = ", ".join(repr(n.strip(" ")) for n in names)
        raise ContactImportError(
            f"{source}, line {line}: the header has no 'email' column (columns: {shown})"
        )
    return keys


def parse_contacts_csv(
    path: Path,
    *,
    extra_tags: tuple[str, ...] = (),
    progress: Callable[[int], None] | None = None,
) -> ParsedContacts:
    """Read and validate the contacts CSV at ``path``.

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
    for tag in extra_tags:
        problem = header_problem(tag) or (";" in tag and "contains ';'") or None
        if problem:
            raise ContactImportError(f"tag {_show(tag)} {problem}")
    extra = _dedupe(extra_tags)
    text = _read_text(path)

    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    keys: list[str | None] | None = None
    rows: list[ContactRow] = []
    errors: list[RowError] = []
    first_line_of: dict[str, int] = {}
    done = 0
    last_reported = 0
    previous_end = 0
    while True:
        start = previous_end + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ContactImportError(f"{source}, line {start}: not valid CSV ({exc})") from None
        previous_end = reader.line_num
        if not any(cell.strip(" ") for cell in record):
            continue  # blank line or a line of empty cells
        if keys is None:
            keys = _header(record, source, start)
            continue

        row, row_errors = _parse_record(record, keys, start, source, extra)
        if row is not None:
            earlier = first_line_of.get(row.email)
            if earlier is not None:
                row_errors.append(
                    RowError(
                        start,
                        "email",
                        f"{row.email!r} duplicates line {earlier} (addresses are compared "
                        "ignoring case)",
                        source,
                    )
                )
            else:
                first_line_of[row.email] = start
        if row_errors:
            errors.extend(row_errors)
        elif row is not None:
            rows.append(row)

        done += 1
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done)
            last_reported = done

    if keys is None:
        raise ContactImportError(f"{source}: no header row (the file is empty)")
    if progress is not None and done != last_reported:
        progress(done)
    return ParsedContacts(rows=tuple(rows), errors=tuple(errors), source=source)


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

    if len(record) > len(keys):
        extra_cells = record[len(keys) :]
        if any(cell.strip(" ") for cell in extra_cells):
            fail(None, f"has {len(record)} fields but the header has {len(keys)}")
    values: dict[str, str] = {}
    custom: dict[str, str] = {}
    for index, (key, raw) in enumerate(zip(keys, record, strict=False), start=1):
        if key is None:
            if raw.strip(" "):
                fail(f"column {index}", f"has a value {_show(raw)} but no header name")
            continue
        if key == "email":
            values[key] = raw
            continue
        if not raw.strip(" "):
            continue
        problem = _problem(raw)
        if problem is not None:
            fail(key, f"{_show(raw)} {problem}")
            continue
        value = raw.strip(" ")
        if len(value) > MAX_FIELD_LENGTH:
            fail(key, f"is {len(value)} characters long (at most {MAX_FIELD_LENGTH})")
            continue
        if key in KNOWN_COLUMNS:
            values[key] = value
        else:
            custom[key] = value

    email: str | None = None
    try:
        email = normalise_email(values.get("email", ""))
    except ValueError as exc:
        fail("email", str(exc))

    coded: dict[str, str | None] = {}
    for key, normalise in _CODED.items():
        if key in values:
            try:
                coded[key] = normalise(values[key])
            except ValueError as exc:
                fail(key, str(exc))

    if email is None:
        return None, errors
    tags = _dedupe((*split_tags(values.get("tags", "")), *extra_tags))
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
        tags=tags,
        fields=custom,
    )
    return row, errors
