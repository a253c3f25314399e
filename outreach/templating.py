"""Render one letter from a Jinja2 template (DESIGN.md §Templates).

A template is one file with blocks ``subject``, ``text`` and optionally ``html``:
``templates/ccm/appeal.j2``, with per-language variants ``templates/ccm/appeal.fr.j2``. For a
contact whose language is ``fr-CA`` the renderer tries ``appeal.fr-CA.j2``, then
``appeal.fr.j2``, then ``appeal.j2``. Layouts work through ``{% extends "ccm/_layout.j2" %}``.

Promises:

* **Sandboxed and strict.** Templates run in Jinja's immutable sandbox (no ``__class__``
  games, no ``list.append``) with ``StrictUndefined``. Two environments share the files: the
  ``html`` block is rendered with autoescaping, ``subject`` and ``text`` without (so
  "O'Brien" stays "O'Brien" in the text part).
* **One line per failure.** An undefined variable, a syntax error, a sandbox refusal, an
  exception inside the template or a missing file raises :class:`TemplateRenderError` (a
  :class:`~outreach.errors.TemplateError`) whose message is one line
  ``ccm/appeal.j2, line 12: 'contact' has no attribute 'nickname'``.
* **All or nothing.** Every block is rendered before anything is returned; a failure in the
  html block means no :class:`RenderedEmail` at all.
* **Blocks only.** Each block is rendered on its own (``template.blocks``), with the blocks of
  every layout up the ``{% extends %}`` chain registered, so ``{{ super() }}`` and
  ``{{ self.other_block() }}`` work. Code *outside* blocks is never run: put ``{% set %}``,
  ``{% import %}`` and macros inside the blocks that use them.
* **Shapes.** The subject is collapsed to one line (runs of whitespace become one space) and
  checked with :func:`outreach.headersafe.header_problem`; it must not be empty. The text part
  is required and must not be empty: trailing spaces are removed from each line (a
  ``--`` line becomes the signature delimiter ``-- ``), leading and
  trailing blank lines are dropped, and it ends with exactly one newline. The html part, when
  the template has an ``html`` block, is stripped the same way at its ends.
* **Dates in the letter's language.** ``format_date``, ``format_date_range`` and
  ``format_number`` use the locale of the variant actually chosen: the contact's language
  when a variant for it (or for its base language) exists, else the renderer's default
  language (``en``). A Spanish-speaking contact who gets the English default letter gets
  English dates, not Spanish ones in an English sentence. English without a region is
  formatted in the international style ("1 August 2010", Babel's ``en_GB``); ``en-US``
  keeps "August 1, 2010".
* **Cheap per render.** Environments are built once per renderer; Jinja caches compiled
  templates (checking the file's mtime when ``auto_reload``); the file chosen for a
  (template, language) pair and each template's layout chain are cached. Call
  :meth:`TemplateRenderer.clear_cache` after adding or removing variant files.

The template context is documented on :func:`build_context`; the renderer adds ``locale``
(the BCP 47 tag used for dates and numbers, e.g. ``"fr-CA"``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

import babel
import babel.dates
import babel.numbers
import jinja2
import jinja2.meta
from jinja2 import StrictUndefined, nodes, pass_context
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from outreach.errors import TemplateError
from outreach.headersafe import header_problem

__all__ = [
    "CONTEXT_NAMES",
    "Record",
    "RenderedEmail",
    "TemplateRenderError",
    "TemplateRenderer",
    "build_context",
]

#: The file name extension of templates.
SUFFIX = ".j2"
#: Blocks every template (with its layouts) must define.
REQUIRED_BLOCKS = ("subject", "text")
#: Names a template may use besides Jinja's globals: what :func:`build_context` provides, plus
#: ``locale`` (added by the renderer). :meth:`TemplateRenderer.check` reports any other name.
CONTEXT_NAMES = frozenset({"contact", "campaign", "milestones", "today", "step", "locale"})

_LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*$")
_DATE_FORMAT_NAMES = frozenset({"short", "medium", "long", "full"})


class TemplateRenderError(TemplateError):
    """A template failed to compile or render."""

    def __init__(
        self,
        message: str | None = None,
        *,
        template: str | None = None,
        lineno: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        #: The file the problem is in (``ccm/_layout.j2`` when the layout is at fault).
        self.template = template
        #: 1-based line in that file, when known.
        self.lineno = lineno
        #: What went wrong, without the location.
        self.reason = reason

    @classmethod
    def at(cls, template: str | None, lineno: int | None, reason: str) -> TemplateRenderError:
        """The one-line error ``<template>, line <n>: <reason>``."""
        where = template or "<template>"
        if lineno is not None:
            where = f"{where}, line {lineno}"
        return cls(f"{where}: {reason}", template=template, lineno=lineno, reason=reason)


@dataclass(frozen=True)
class RenderedEmail:
    """A fully rendered letter. ``template`` is the file actually used (``ccm/appeal.fr.j2``);
    ``language`` is the language it is written in: the variant's tag (``fr``), or the
    renderer's default language for the default file."""

    subject: str
    text: str
    html: str | None
    template: str
    language: str | None


# --------------------------------------------------------------------------------------------
# Context


class Record(Mapping[str, Any]):
    """A read-only mapping whose keys are also attributes (``contact.name``), named so that
    an undefined attribute reads ``'contact' has no attribute 'nickname'``.

    In templates a key wins over a mapping method of the same name (a var called ``items``
    is ``vars.items``); ``get``, ``items``, ``keys`` and ``values`` work for other names.
    """

    __slots__ = ("_data", "_label")

    def __init__(self, label: str, data: Mapping[str, Any]) -> None:
        self._label = label
        self._data = dict(data)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Record({self._label!r}, {self._data!r})"


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """``obj[name]`` for a mapping, else ``getattr(obj, name)``; ``default`` when absent."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _text(value: Any) -> str:
    """Text for a letter: ``None`` becomes ``""`` (never the word "None" in a letter)."""
    return "" if value is None else str(value)


def _freeze(label: str, value: Any) -> Any:
    """Mappings become :class:`Record`s (recursively, also inside lists); lists become
    tuples, so templates cannot change shared data."""
    if isinstance(value, Mapping):
        return Record(label, {str(k): _freeze(f"{label}.{k}", v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(f"{label}[]", v) for v in value)
    return value


def _milestone_items(milestones: Any) -> Iterable[tuple[str, Any]]:
    if milestones is None:
        return ()
    if isinstance(milestones, Mapping):
        return ((str(k), v) for k, v in milestones.items())
    return ((str(_get(m, "key")), m) for m in milestones)


def _simple_countdown(when: date | None, end: date | None, today: date) -> dict[str, Any]:
    """A stand-in for :func:`outreach.countdown.countdown_values` (previews and tests):
    ``days_until`` (negative after the date), ``weeks_until`` (truncated toward zero),
    ``is_past`` (after the last day)."""
    if when is None:
        return {}
    days = (when - today).days
    last = end or when
    return {
        "days_until": days,
        "weeks_until": days // 7 if days >= 0 else -(-days // 7),
        "is_past": last < today,
    }


def build_context(
    *,
    campaign: Any,
    contact: Any,
    milestones: Any = None,
    today: date,
    step: Any = None,
    countdown: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The template context for one letter. Inputs are duck-typed: any of them may be a
    mapping or an object with attributes (a ``CampaignSpec``, a ``Contact`` row, a
    ``SimpleNamespace``). The result holds read-only :class:`Record`s and tuples:

    * ``contact``: ``email, name, salutation, title, organisation, country, language,
      timezone`` (strings; a missing value is ``""``), ``tags`` (tuple), ``fields`` (the
      custom CSV columns: ``contact.fields.mission_city``; use ``contact.fields.get('x')``
      for a column not every contact has).
    * ``campaign``: ``name, slug, timezone`` (strings), ``sender`` (``name, email,
      reply_to``; taken from ``campaign.sender`` or flat ``sender_name``/``sender_email``/
      ``reply_to`` attributes), ``vars`` (the campaign file's ``[vars]``, nested tables as
      Records, arrays as tuples).
    * ``milestones.<key>``: ``key, title, date, end, location`` plus everything in
      ``countdown[key]`` (``days_until, weeks_until, is_past`` …, as computed by
      :func:`outreach.countdown.countdown_values` for ``today``). ``milestones`` defaults to
      ``campaign.milestones`` and may be a sequence of objects with ``.key`` or a mapping
      ``key -> milestone``. When ``countdown`` is ``None`` a simple one is computed from
      ``date - today`` (for previews and tests; the planner passes the real one).
    * ``today``: the send date (a ``date``, campaign timezone).
    * ``step``: ``key`` and ``template`` (a step object, a mapping, or just the key string).
    """
    context = day_context(
        campaign=campaign, milestones=milestones, today=today, step=step, countdown=countdown
    )
    context["contact"] = contact_record(contact)
    return context


def contact_record(contact: Any) -> Record:
    """The ``contact`` part of :func:`build_context` (the only part that differs from one
    contact to the next on a send day)."""
    fields = _get(contact, "fields") or {}
    return Record(
        "contact",
        {
            "email": _text(_get(contact, "email")),
            "name": _text(_get(contact, "name")),
            "salutation": _text(_get(contact, "salutation")),
            "title": _text(_get(contact, "title")),
            "organisation": _text(_get(contact, "organisation")),
            "country": _text(_get(contact, "country")),
            "language": _text(_get(contact, "language")),
            "timezone": _text(_get(contact, "timezone")),
            "tags": tuple(_get(contact, "tags") or ()),
            "fields": Record(
                "contact.fields",
                {str(k): ("" if v is None else v) for k, v in dict(fields).items()},
            ),
        },
    )


def day_context(
    *,
    campaign: Any,
    milestones: Any = None,
    today: date,
    step: Any = None,
    countdown: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Every part of :func:`build_context` but ``contact``: the same for every contact of a
    step on one send day, so the planner builds it once per day (its values are read-only
    Records and tuples, safe to share). Add ``contact`` (:func:`contact_record`) to a copy."""
    if isinstance(today, datetime):
        today = today.date()
    sender = _get(campaign, "sender")
    if sender is not None:
        sender_data = {
            "name": _text(_get(sender, "name")),
            "email": _text(_get(sender, "email")),
            "reply_to": _text(_get(sender, "reply_to")),
        }
    else:
        sender_data = {
            "name": _text(_get(campaign, "sender_name")),
            "email": _text(_get(campaign, "sender_email")),
            "reply_to": _text(_get(campaign, "reply_to")),
        }
    campaign_rec = Record(
        "campaign",
        {
            "name": _text(_get(campaign, "name")),
            "slug": _text(_get(campaign, "slug")),
            "timezone": _text(_get(campaign, "timezone")),
            "sender": Record("campaign.sender", sender_data),
            "vars": _freeze("campaign.vars", dict(_get(campaign, "vars") or {})),
        },
    )

    if milestones is None:
        milestones = _get(campaign, "milestones")
    ms: dict[str, Record] = {}
    for key, m in _milestone_items(milestones):
        when = _get(m, "date")
        data: dict[str, Any] = {
            "key": key,
            "title": _text(_get(m, "title")),
            "date": when,
            "end": _get(m, "end"),
            "location": _text(_get(m, "location")),
        }
        if countdown is None:
            data.update(_simple_countdown(when, _get(m, "end"), today))
        else:
            data.update(countdown.get(key, {}))
        for name in ("title", "location"):
            data[name] = _text(data.get(name))
        ms[key] = Record(f"milestones.{key}", data)

    if step is None or isinstance(step, str):
        step_rec = Record("step", {"key": _text(step), "template": ""})
    else:
        step_rec = Record(
            "step", {"key": _text(_get(step, "key")), "template": _text(_get(step, "template"))}
        )

    return {
        "campaign": campaign_rec,
        "milestones": Record("milestones", ms),
        "today": today,
        "step": step_rec,
    }


# --------------------------------------------------------------------------------------------
# Locales and filters


def _normalise_tag(language: str | None) -> str | None:
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


def _tag_chain(tag: str | None) -> list[str]:
    """``zh-Hant-TW`` → ``[zh-Hant-TW, zh-Hant, zh]``."""
    if not tag:
        return []
    parts = tag.split("-")
    return ["-".join(parts[:i]) for i in range(len(parts), 0, -1)]


@lru_cache(maxsize=256)
def _babel_locale(tag: str | None) -> babel.Locale:
    """The Babel locale for formatting in ``tag``; bare ``en`` (and anything unknown) is the
    international English style ``en_GB``."""
    if tag and tag != "en":
        try:
            return babel.Locale.parse(tag, sep="-")
        except (ValueError, babel.UnknownLocaleError):
            pass
    return babel.Locale("en", "GB")


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
    locale = _babel_locale(context.get("locale"))
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
    locale = _babel_locale(context.get("locale"))
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
    return babel.numbers.format_decimal(value, locale=_babel_locale(context.get("locale")))


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
    text = _text(code)
    return _babel_locale(context.get("locale")).territories.get(text.upper(), text)


FILTERS = {
    "country_name": country_name,
    "format_date": format_date,
    "format_date_range": format_date_range,
    "format_number": format_number,
    "paragraphs": paragraphs,
}


# --------------------------------------------------------------------------------------------
# Errors


class _StrictUndefined(StrictUndefined):
    """StrictUndefined that names our records: ``'contact' has no attribute 'nickname'``."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        obj = self._undefined_obj
        if not self._undefined_hint and isinstance(obj, Record):
            key = self._undefined_name
            if isinstance(key, str):
                return f"{obj._label!r} has no attribute {key!r}"
            return f"{obj._label!r} has no element {key!r}"
        return super()._undefined_message


def _location(tb: TracebackType | None) -> tuple[str | None, int | None]:
    """The innermost template frame of a traceback: (template name, template line)."""
    name: str | None = None
    lineno: int | None = None
    while tb is not None:
        tmpl = tb.tb_frame.f_globals.get("__jinja_template__")
        if tmpl is not None:
            name = tmpl.name
            lineno = tmpl.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return name, lineno


def _reason(exc: BaseException) -> str:
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"template {exc.name!r} not found"
    if isinstance(exc, jinja2.TemplateError):
        message = exc.message or type(exc).__name__
    else:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(message.split())  # one line, whatever the exception said


def _to_error(exc: BaseException, default_template: str | None) -> TemplateRenderError:
    if isinstance(exc, TemplateRenderError):
        return exc
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return TemplateRenderError.at(exc.name or default_template, exc.lineno, _reason(exc))
    name, lineno = _location(exc.__traceback__)
    return TemplateRenderError.at(name or default_template, lineno, _reason(exc))


# --------------------------------------------------------------------------------------------
# The renderer


#: Read-only Mapping methods of :class:`Record` that templates may call.
_RECORD_METHODS = frozenset({"get", "items", "keys", "values"})


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with a fast path for :class:`Record` keys: they are plain data
    (what ``record[key]`` returns anyway), so the per-attribute safety checks, which dominate
    the cost of a render, are skipped for them. Everything else takes the checked path."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is Record and attribute[:1] != "_":
            try:
                return obj._data[attribute]
            except KeyError:
                if attribute in _RECORD_METHODS:
                    return getattr(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if type(obj) is Record and type(argument) is str and argument[:1] != "_":
            try:
                return obj._data[argument]
            except KeyError:
                pass
        return super().getitem(obj, argument)


def _make_env(templates_dir: Path, *, autoescape: bool, auto_reload: bool) -> jinja2.Environment:
    env = _Sandbox(
        loader=jinja2.FileSystemLoader(str(templates_dir), encoding="utf-8"),
        autoescape=autoescape,
        undefined=_StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=auto_reload,
        cache_size=1000,
    )
    env.filters.update(FILTERS)
    return env


def _clean_text(value: str) -> str:
    # "-- " (with its space) is the signature delimiter mail clients recognise; keep it.
    lines = [line.rstrip() for line in value.replace("\r\n", "\n").split("\n")]
    lines = ["-- " if line == "--" else line for line in lines]
    return "\n".join(lines).strip("\n") + "\n"


class TemplateRenderer:
    """Renders templates from ``templates_dir``. Build one per process and reuse it: it holds
    the two Jinja environments and the caches. Safe to share between threads (the caches are
    plain dicts whose worst race is computing an entry twice)."""

    def __init__(
        self,
        templates_dir: Path | str,
        *,
        default_language: str | None = "en",
        auto_reload: bool = True,
    ) -> None:
        self.templates_dir = Path(templates_dir)
        self.default_language = default_language
        self._text_env = _make_env(self.templates_dir, autoescape=False, auto_reload=auto_reload)
        self._html_env = _make_env(self.templates_dir, autoescape=True, auto_reload=auto_reload)
        # (template, normalised language) -> (file name, language written in, formatting tag)
        self._resolved: dict[tuple[str, str | None], tuple[str, str | None, str | None]] = {}
        # (env id, file name) -> (the template, its layouts nearest first)
        self._chains: dict[tuple[int, str], tuple[jinja2.Template, tuple[jinja2.Template, ...]]]
        self._chains = {}

    def clear_cache(self) -> None:
        """Forget resolved file names and layout chains (after adding or removing files)."""
        self._resolved.clear()
        self._chains.clear()

    # -- resolution --------------------------------------------------------------------------

    @staticmethod
    def _base(template: str) -> str:
        return template[: -len(SUFFIX)] if template.endswith(SUFFIX) else template

    def _resolve(self, template: str, language: str | None) -> tuple[str, str | None, str | None]:
        tag = _normalise_tag(language)
        key = (template, tag)
        hit = self._resolved.get(key)
        if hit is not None:
            return hit
        base = self._base(template)
        tried: list[str] = []
        result: tuple[str, str | None, str | None] | None = None
        for variant in _tag_chain(tag):
            name = f"{base}.{variant}{SUFFIX}"
            tried.append(name)
            if self._exists(name):
                result = (name, variant, tag)
                break
        if result is None:
            name = f"{base}{SUFFIX}"
            tried.append(name)
            if not self._exists(name):
                raise TemplateRenderError.at(
                    name, None, f"template not found (tried {', '.join(tried)})"
                )
            default = _normalise_tag(self.default_language)
            same = (
                tag is not None
                and default is not None
                and tag.split("-")[0] == default.split("-")[0]
            )
            result = (name, default, tag if same else default)
        self._resolved[key] = result
        return result

    def _exists(self, name: str) -> bool:
        """Whether ``name`` loads; a file that exists but does not compile raises."""
        try:
            self._text_env.get_template(name)
        except jinja2.TemplateNotFound as exc:
            if exc.name == name:
                return False
            raise _to_error(exc, name) from exc
        except Exception as exc:
            raise _to_error(exc, name) from exc
        return True

    def resolve(self, template: str, language: str | None) -> str:
        """The file used for ``template`` (``ccm/appeal``, with or without ``.j2``) in
        ``language`` (BCP 47, e.g. ``fr-CA``; ``None`` or a malformed tag means the default):
        ``ccm/appeal.fr-CA.j2``, else ``ccm/appeal.fr.j2``, else ``ccm/appeal.j2``. Raises
        :class:`TemplateRenderError` when none exists or the chosen file does not compile."""
        return self._resolve(template, language)[0]

    # -- layouts -----------------------------------------------------------------------------

    def _chain(
        self, env: jinja2.Environment, name: str
    ) -> tuple[jinja2.Template, tuple[jinja2.Template, ...]]:
        """The template and its layouts (nearest first), from ``{% extends "…" %}`` tags."""
        tmpl = env.get_template(name)
        key = (id(env), name)
        hit = self._chains.get(key)
        if (
            hit is not None
            and hit[0] is tmpl
            and (not env.auto_reload or all(p.is_up_to_date for p in hit[1]))
        ):
            return hit
        parents: list[jinja2.Template] = []
        seen = {name}
        current_name = name
        current = tmpl
        while True:
            parent_name, lineno = self._extends(env, current_name)
            if parent_name is None:
                break
            if parent_name in seen:
                raise TemplateRenderError.at(
                    current_name, lineno, f"layout cycle through {parent_name!r}"
                )
            seen.add(parent_name)
            try:
                current = env.get_template(parent_name)
            except jinja2.TemplateNotFound as exc:
                if exc.name != parent_name:
                    raise
                raise TemplateRenderError.at(
                    current_name, lineno, f"layout {parent_name!r} not found"
                ) from exc
            parents.append(current)
            current_name = parent_name
        result = (tmpl, tuple(parents))
        self._chains[key] = result
        return result

    @staticmethod
    def _extends(env: jinja2.Environment, name: str) -> tuple[str | None, int | None]:
        assert env.loader is not None
        source, filename, _ = env.loader.get_source(env, name)
        ast = env.parse(source, name, filename)
        for node in ast.find_all(nodes.Extends):
            if not isinstance(node.template, nodes.Const) or not isinstance(
                node.template.value, str
            ):
                raise TemplateRenderError.at(
                    name, node.lineno, "{% extends %} must name its layout as a literal string"
                )
            return node.template.value, node.lineno
        return None, None

    @staticmethod
    def _context(
        tmpl: jinja2.Template, parents: tuple[jinja2.Template, ...], variables: dict[str, Any]
    ) -> Context:
        ctx = tmpl.new_context(variables)
        for parent in parents:
            for block_name, func in parent.blocks.items():
                ctx.blocks.setdefault(block_name, []).append(func)
        return ctx

    # -- rendering ---------------------------------------------------------------------------

    def render(
        self, template: str, language: str | None, context: Mapping[str, Any]
    ) -> RenderedEmail:
        """Render ``template`` for a contact speaking ``language`` with ``context`` (see
        :func:`build_context`; the renderer adds ``locale``). Returns only a complete letter;
        any failure raises :class:`TemplateRenderError` with one line naming file and line."""
        name, written_in, tag = self._resolve(template, language)
        variables = dict(context)
        variables["locale"] = tag
        try:
            tmpl, parents = self._chain(self._text_env, name)
            ctx = self._context(tmpl, parents, variables)
            for block in REQUIRED_BLOCKS:
                if block not in ctx.blocks:
                    raise TemplateRenderError.at(name, None, f"no {{% block {block} %}}")
            subject = " ".join("".join(ctx.blocks["subject"][0](ctx)).split())
            text = _clean_text("".join(ctx.blocks["text"][0](ctx)))
            html: str | None = None
            htmpl, hparents = self._chain(self._html_env, name)
            hctx = self._context(htmpl, hparents, variables)
            if "html" in hctx.blocks:
                html = "".join(hctx.blocks["html"][0](hctx)).strip() + "\n"
        except Exception as exc:
            raise _to_error(exc, name) from exc
        if not subject:
            raise TemplateRenderError.at(name, None, "the subject is empty")
        problem = header_problem(subject)
        if problem is not None:
            raise TemplateRenderError.at(name, None, f"the subject {problem}")
        if not text.strip():
            raise TemplateRenderError.at(name, None, "the text part is empty")
        return RenderedEmail(
            subject=subject, text=text, html=html, template=name, language=written_in
        )

    # -- checking ----------------------------------------------------------------------------

    def variants(self, template: str) -> list[str]:
        """Every file of ``template``: the default (if present) then the language variants,
        sorted (``ccm/appeal.j2``, ``ccm/appeal.fr.j2``)."""
        base = self._base(template)
        folder, _, stem = base.rpartition("/")
        directory = self.templates_dir / folder if folder else self.templates_dir
        prefix = f"{folder}/" if folder else ""
        found: list[str] = []
        if (directory / f"{stem}{SUFFIX}").is_file():
            found.append(f"{prefix}{stem}{SUFFIX}")
        if directory.is_dir():
            for path in sorted(directory.glob(f"{stem}.*{SUFFIX}")):
                middle = path.name[len(stem) + 1 : -len(SUFFIX)]
                if path.is_file() and _normalise_tag(middle) == middle:
                    found.append(f"{prefix}{path.name}")
        return found

    def check(self, template: str) -> list[str]:
        """Compile the default file and every language variant of ``template`` with their
        layouts; one line per problem (empty: all good). Finds syntax errors, missing or
        cyclic layouts, missing ``subject``/``text`` blocks, a missing default file, and
        variables that are neither context names (:data:`CONTEXT_NAMES`) nor Jinja globals
        (strict mode would fail on those at render time)."""
        base = self._base(template)
        problems: list[str] = []
        files = self.variants(base)
        if f"{base}{SUFFIX}" not in files:
            problems.append(f"{base}{SUFFIX}: template not found (the default file is required)")
        for name in files:
            problems.extend(self._check_file(name))
        return problems

    def _check_file(self, name: str) -> list[str]:
        env = self._text_env
        try:
            tmpl, parents = self._chain(env, name)
        except Exception as exc:
            return [_to_error(exc, name).message]
        problems: list[str] = []
        blocks = set(tmpl.blocks).union(*(p.blocks for p in parents))
        for block in REQUIRED_BLOCKS:
            if block not in blocks:
                problems.append(f"{name}: no {{% block {block} %}}")
        allowed = CONTEXT_NAMES | set(env.globals)
        for file_name in (name, *(p.name for p in parents if p.name)):
            try:
                assert env.loader is not None
                source, filename, _ = env.loader.get_source(env, file_name)
                ast = env.parse(source, file_name, filename)
            except Exception as exc:  # already compiled once, so unlikely
                problems.append(_to_error(exc, file_name).message)
                continue
            for var in sorted(jinja2.meta.find_undeclared_variables(ast) - allowed):
                line = next(
                    (
                        n.lineno
                        for n in ast.find_all(nodes.Name)
                        if n.name == var and n.ctx == "load"
                    ),
                    None,
                )
                problems.append(
                    TemplateRenderError.at(file_name, line, f"unknown variable {var!r}").message
                )
        return problems
