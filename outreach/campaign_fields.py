"""Reading a campaign file's fields: TOML text to a document (accepting TOML 1.1's times
without seconds), and typed values out of it, each error one line naming the file and the key.

Pure: text in, values out. :mod:`outreach.campaigns` and :mod:`outreach.campaign_steps` use it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any, TypeVar

from email_validator import EmailNotValidError, validate_email

from outreach.errors import CampaignFileError
from outreach.headersafe import header_problem
from outreach.spec import END_OF_DAY

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
#: Milestone and step keys: same alphabet as slugs (they end up in URLs, headers and tables).
KEY_RE = SLUG_RE
TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")

T = TypeVar("T")


_ERROR_AT = re.compile(r"\(at line (\d+), column (\d+)\)")
_SHORT_TIME = re.compile(r"(?<![\d:])(?:\d{4}-\d{2}-\d{2}[T ])?\d{2}:\d{2}(?![:\d])")


def toml_loads(text: str) -> dict[str, Any]:
    """``tomllib.loads``, also accepting TOML 1.1's times without seconds (``09:00``,
    ``2010-05-10T09:00``, as DESIGN.md writes them), which Python 3.11's TOML 1.0 parser
    refuses. Only a bare time on the line where the parser stopped is completed with ``:00``,
    so quoted text is never altered; any other error is raised as it was."""
    original: tomllib.TOMLDecodeError | None = None
    for _ in range(200):
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            original = original or exc
            fixed = _complete_short_time(text, str(exc))
            if fixed is None:
                raise original from None
            text = fixed
    raise original  # type: ignore[misc]  # pragma: no cover


def _complete_short_time(text: str, error: str) -> str | None:
    where = _ERROR_AT.search(error)
    if where is None:
        return None
    line_no, column = int(where[1]), int(where[2])
    lines = text.splitlines(keepends=True)
    if line_no > len(lines):
        return None
    line = lines[line_no - 1]
    for match in _SHORT_TIME.finditer(line):
        before = line[: match.start()]
        if before.count('"') % 2 or before.count("'") % 2 or "#" in before:
            continue  # inside a string or a comment
        if match.end() < column - 12 or match.start() > column + 1:
            continue
        lines[line_no - 1] = line[: match.end()] + ":00" + line[match.end() :]
        return "".join(lines)
    return None


class FieldReader:
    """Reads typed values out of a parsed campaign file; every error it makes names the file
    (``source``) and the key. :meth:`attempt` runs one part of the file, keeping its problem
    and going on, so that one run reports every independent problem of the file."""

    def __init__(self, source: str) -> None:
        self.source = source
        #: The problems :meth:`attempt` kept, one line each, in the order found.
        self.problems: list[str] = []

    def fail(self, key: str, what: str) -> CampaignFileError:
        return CampaignFileError(
            f"{self.source}: {key}: {what}" if key else f"{self.source}: {what}"
        )

    def attempt(self, parse: Callable[[], T]) -> T | None:
        """``parse()``, or ``None`` with its :class:`CampaignFileError` kept in
        :attr:`problems`."""
        try:
            return parse()
        except CampaignFileError as exc:
            self.problems.extend(exc.message.splitlines())
            return None

    def raise_problems(self) -> None:
        """Raise one :class:`CampaignFileError` holding every kept problem (one per line), if
        any."""
        if self.problems:
            raise CampaignFileError("\n".join(self.problems))

    def unknown_keys(self, table: dict[str, Any], where: str, *, allowed: set[str]) -> None:
        """Keep one problem per key of ``table`` not in ``allowed`` (does not raise)."""
        for key in table:
            if key not in allowed:
                self.problems.append(
                    self.fail(
                        self.join(where, key),
                        f"unknown key (allowed: {', '.join(sorted(allowed))})",
                    ).message
                )

    def required(self, table: dict[str, Any], where: str, key: str) -> Any:
        """``table[key]``; the error "required key is missing" when there is none."""
        if key not in table:
            raise self.fail(self.join(where, key), "required key is missing")
        return table[key]

    @staticmethod
    def join(where: str, key: str) -> str:
        return f"{where}.{key}" if where else key

    def table(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a table, not {kind_of(value)}")
        return value

    def keys(
        self,
        table: dict[str, Any],
        where: str,
        *,
        allowed: set[str],
        required: frozenset[str] | set[str] = frozenset(),
    ) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(
                    self.join(where, key), f"unknown key (allowed: {', '.join(sorted(allowed))})"
                )
        for key in sorted(required):
            if key not in table:
                raise self.fail(self.join(where, key), "required key is missing")

    def string(self, value: Any, where: str, *, allow_empty: bool = False) -> str:
        if not isinstance(value, str):
            raise self.fail(where, f"must be a string, not {kind_of(value)}")
        if not allow_empty and not value.strip():
            raise self.fail(where, "must not be empty")
        return value

    def header_text(self, value: Any, where: str) -> str:
        text = self.string(value, where)
        problem = header_problem(text)
        if problem is not None:
            raise self.fail(where, f"unsafe in a mail header: {problem}")
        return text

    def integer(self, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(where, f"must be an integer, not {kind_of(value)}")
        return value

    def boolean(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"must be true or false, not {kind_of(value)}")
        return value

    def key_name(self, value: Any, where: str) -> str:
        text = self.string(value, where)
        if not KEY_RE.match(text):
            raise self.fail(
                where,
                f"{text!r} is not a valid key (lowercase letters, digits, '-' and '_', "
                "starting with a letter or digit)",
            )
        return text

    def tags(self, value: Any, where: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(where, f"must be a list of strings, not {kind_of(value)}")
        out: list[str] = []
        for i, item in enumerate(value):
            tag = self.string(item, f"{where}[{i}]").strip()
            if tag not in out:
                out.append(tag)
        return tuple(out)

    def clock_time(self, value: Any, where: str, *, allow_24: bool = False) -> time:
        if isinstance(value, time):
            if value.tzinfo is not None:
                raise self.fail(where, "must be a local time without offset")
            return value
        if not isinstance(value, str):
            raise self.fail(where, f'must be a time like "09:00", not {kind_of(value)}')
        m = TIME_RE.match(value.strip())
        if m is None:
            raise self.fail(where, f'{value!r} is not a time like "09:00"')
        hour, minute, second = int(m[1]), int(m[2]), int(m[3] or 0)
        if allow_24 and (hour, minute, second) == (24, 0, 0):
            return END_OF_DAY
        if hour > 23 or minute > 59 or second > 59:
            raise self.fail(where, f"{value!r} is not a valid time of day")
        return time(hour, minute, second)

    def calendar_date(self, value: Any, where: str) -> date:
        if isinstance(value, datetime):
            raise self.fail(where, "must be a date (YYYY-MM-DD) without a time")
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                raise self.fail(where, f"{value!r} is not a date like 2010-08-01") from None
        raise self.fail(where, f"must be a date like 2010-08-01, not {kind_of(value)}")

    def email(self, value: Any, where: str) -> str:
        text = self.header_text(value, where)
        try:
            result = validate_email(text, check_deliverability=False)
        except EmailNotValidError as exc:
            raise self.fail(where, f"{text!r} is not a valid email address: {exc}") from None
        return result.normalized


#: How an error message names a TOML value's type; the first match wins (a bool is an int, a
#: datetime a date).
_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (list, "a list"),
    (dict, "a table"),
    (datetime, "a date-time"),
    (date, "a date"),
    (time, "a time"),
)


def kind_of(value: Any) -> str:
    """What ``value`` is, in the words an error message uses ("a string", "a table")."""
    return next((words for cls, words in _KINDS if isinstance(value, cls)), type(value).__name__)
