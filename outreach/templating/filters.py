"""The filters templates may use, formatting in the letter's locale (the context's ``locale``):
``format_date``, ``format_date_range``, ``format_number``, ``country_name`` (Babel) and
``paragraphs`` (plain text to HTML)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import babel
import babel.dates
import babel.numbers
from jinja2 import pass_context
from jinja2.runtime import Context, Undefined
from markupsafe import Markup, escape

from outreach.templating.context import as_text
from outreach.templating.languages import babel_locale


def _fail_if_undefined(value: Any) -> None:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()


def _as_date(value: Any, what: str) -> date:
    _fail_if_undefined(value)
    if isinstance(value, date):  # datetime is a date too
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise TypeError(f"{what} needs a date, not {value!r}")


@pass_context
def format_date(context: Context, value: Any, format: str = "long") -> str:
    """``{{ m.date | format_date }}`` → "1 August 2010" / "1 août 2010". ``format`` is a Babel
    format name (short, medium, long, full) or a CLDR pattern such as ``"d MMMM"``."""
    locale = babel_locale(context.get("locale"))
    return _format_date(_as_date(value, "format_date"), format, locale)


@lru_cache(maxsize=4096)
def _format_date(value: date, format: str, locale: babel.Locale) -> str:
    """Babel's format_date, memoised: a campaign formats the same few dates in a few locales
    for every letter, and Babel re-reads its pattern each call."""
    return babel.dates.format_date(value, format, locale=locale)


@lru_cache(maxsize=256)
def _interval_patterns(locale: babel.Locale) -> Mapping[str, tuple[str, str]]:
    """CLDR interval patterns with full month names, per greatest differing field (y, M, d)."""
    formats = locale.interval_formats
    source = formats.get("yMMMMd")
    widen = source is None
    if source is None:
        source = formats.get("yMMMd")
    out: dict[str, tuple[str, str]] = {}
    for field in ("y", "M", "d"):
        parts = source.get(field) if source is not None else None
        if not parts or len(parts) != 2:
            continue
        first, second = parts
        if widen:
            first = re.sub(r"(?<!M)MMM(?!M)", "MMMM", first)
            second = re.sub(r"(?<!M)MMM(?!M)", "MMMM", second)
        if field == "d":  # "8–12 November 2010", not "8 – 12 November 2010"
            first = first.replace("\u2009–\u2009", "–").replace(" – ", "–")
        out[field] = (first, second)
    return out


@pass_context
def format_date_range(context: Context, start: Any, end: Any = None) -> str:
    """``{{ m.date | format_date_range(m.end) }}`` → "8–12 November 2010" /
    "8–12 novembre 2010"; one date when ``end`` is empty or the same day."""
    locale = babel_locale(context.get("locale"))
    first = _as_date(start, "format_date_range")
    if end is None or end == "":
        return babel.dates.format_date(first, "long", locale=locale)
    last = _as_date(end, "format_date_range")
    if isinstance(first, datetime):
        first = first.date()
    if isinstance(last, datetime):
        last = last.date()
    if last == first:
        return babel.dates.format_date(first, "long", locale=locale)
    field = "y" if first.year != last.year else "M" if first.month != last.month else "d"
    patterns = _interval_patterns(locale).get(field)
    if patterns is None:
        return (
            f"{babel.dates.format_date(first, 'long', locale=locale)} – "
            f"{babel.dates.format_date(last, 'long', locale=locale)}"
        )
    return babel.dates.format_date(first, patterns[0], locale=locale) + babel.dates.format_date(
        last, patterns[1], locale=locale
    )


@pass_context
def format_number(context: Context, value: Any) -> str:
    """``{{ 1234 | format_number }}`` → "1,234" / "1 234" (the letter's locale)."""
    _fail_if_undefined(value)
    return babel.numbers.format_decimal(value, locale=babel_locale(context.get("locale")))


def paragraphs(value: Any, breaks: bool = False) -> Markup:
    """Plain-text paragraphs to HTML: blank lines separate paragraphs; a paragraph whose lines
    all start with ``- `` becomes a ``<ul>``; other line breaks become spaces (``<br>`` with
    ``breaks=true``, for addresses). The input is escaped unless it is already markup (a block
    rendered with autoescaping is)."""
    _fail_if_undefined(value)
    source = str(escape(value)).replace("\r\n", "\n")
    out: list[str] = []
    for chunk in re.split(r"\n[ \t]*\n", source):
        lines = [line.strip() for line in chunk.strip("\n").split("\n") if line.strip()]
        if not lines:
            continue
        if all(line.startswith("- ") for line in lines):
            items = "".join(f"<li>{line[2:].strip()}</li>" for line in lines)
            out.append(f"<ul>{items}</ul>")
        else:
            out.append(f"<p>{('<br>' if breaks else ' ').join(lines)}</p>")
    return Markup("\n".join(out))


@pass_context
def country_name(context: Context, code: Any) -> str:
    """``{{ 'VN' | country_name }}`` → "Vietnam" / "Viêt Nam"; the code itself when unknown."""
    _fail_if_undefined(code)
    text = as_text(code)
    return babel_locale(context.get("locale")).territories.get(text.upper(), text)


FILTERS = {
    "country_name": country_name,
    "format_date": format_date,
    "format_date_range": format_date_range,
    "format_number": format_number,
    "paragraphs": paragraphs,
}
