"""Campaign files: parse and fully validate ``config/campaigns/*.toml`` (DESIGN.md §Campaign file).

The values it builds live in :mod:`outreach.spec`; field reading is in
:mod:`outreach.campaign_fields`, the steps and their ``when`` in :mod:`outreach.campaign_steps`.
Pure apart from :func:`load_campaign_path`, which reads files (and the template check, which
looks for ``templates_dir/<template>.j2``). Every problem raises :class:`CampaignFileError` with
one line ``<file>: <key>: <what is wrong>``, e.g.
``config/campaigns/x.toml: steps[2].when.milestone: no milestone 'first_mspp' (known: ...)``.
List indexes in keys are 0-based, as in ``steps[0]`` for the first ``[[steps]]`` table.

Decisions worth knowing:

* ``MilestoneWhen.days_before`` carries both forms: ``days_after = N`` is stored as
  ``days_before = -N``; both keys together are refused, and each must be >= 0.
* ``{ date = ... }`` accepts a TOML local datetime (campaign-local), a TOML date (at the send
  window's start) or an offset datetime (converted to campaign-local).
* Times are ``"HH:MM"``/``"HH:MM:SS"`` strings or TOML local times. Bare times and date-times
  may leave out seconds (TOML 1.1, as DESIGN.md writes them) although Python 3.11's tomllib
  reads TOML 1.0. ``[sending] end`` may be ``"24:00"`` (stored as :data:`END_OF_DAY`, i.e.
  ``time.max``: the window runs to midnight).
* ``[sender] name`` and ``email`` are required; ``email``/``reply_to`` are normalised by
  email-validator (no DNS).
* ``[audience] tags`` empty or missing means every contact; a step's ``audience`` narrows it.
* ``timezone`` is stored canonical: the alias ``Europe/Geneva`` (not an IANA name) becomes
  ``Europe/Zurich``; see :func:`canonical_timezone`.
* ``vars`` is a read-only mapping (``MappingProxyType``); use ``dict(spec.vars)`` to serialise.
"""

from __future__ import annotations

import hashlib
import tomllib
from datetime import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

from outreach.campaign_fields import SLUG_RE, FieldReader, toml_loads
from outreach.campaign_letters import DEFAULT_MAX_FILE_BYTES, FileRules, parse_letters
from outreach.campaign_steps import StepContext, TemplateCheck, parse_steps
from outreach.errors import CampaignFileError
from outreach.spec import (
    END_OF_DAY,
    WEEKDAYS,
    CampaignSpec,
    LetterStyle,
    MilestoneSpec,
    SenderSpec,
    SendingWindow,
    canonical_timezone,
)

TOP_KEYS = {
    "slug",
    "name",
    "timezone",
    "require_approval",
    "approvals_required",
    "lookahead_days",
    "sender",
    "sending",
    "audience",
    "vars",
    "milestones",
    "steps",
    "letters",
}


def parse_campaign(
    text: str,
    *,
    source: str,
    templates_dir: Path | None = None,
    check_template: TemplateCheck | None = None,
    folder: Path | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> CampaignSpec:
    """Parse and validate one campaign file's text; ``source`` names it in every error.

    With ``templates_dir``, every step's ``<template>.j2`` (and its letter's) must exist; with
    ``check_template``, compile. Files the campaign names are read from ``folder`` (default:
    the folder of ``source``), each at most ``max_file_bytes``. Raises
    :class:`CampaignFileError` naming every problem, one line each (file, key, problem): each
    part of the file is read on its own, the steps once what they refer to (milestones,
    window, timezone) is good, so one problem is never reported as several."""
    p = FieldReader(source)
    try:
        doc = toml_loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise p.fail("", f"TOML syntax error: {exc}") from None
    p.unknown_keys(doc, "", allowed=TOP_KEYS)
    slug = p.attempt(lambda: _parse_slug(p, p.required(doc, "", "slug")))
    name = p.attempt(lambda: p.header_text(p.required(doc, "", "name"), "name"))
    tz = p.attempt(lambda: _parse_timezone(p, p.required(doc, "", "timezone")))
    review = p.attempt(lambda: _parse_review(p, doc))
    sender = p.attempt(lambda: _parse_sender(p, p.required(doc, "", "sender")))
    sending = p.attempt(lambda: _parse_sending(p, doc.get("sending", {})))
    audience = p.attempt(lambda: _parse_audience(p, doc["audience"]) if "audience" in doc else ())
    variables = p.attempt(lambda: p.table(doc.get("vars", {}), "vars"))
    milestones = p.attempt(lambda: _parse_milestones(p, doc.get("milestones", [])))
    rules = FileRules(Path(source).parent if folder is None else folder, max_file_bytes)
    letters = p.attempt(lambda: _parse_letter_style(p, doc, rules))
    steps = None
    raw_steps = p.attempt(lambda: p.required(doc, "", "steps"))
    if raw_steps is not None and milestones is not None and sending is not None and tz:
        ctx = StepContext(milestones, sending, tz, templates_dir, check_template, rules)
        steps = p.attempt(lambda: parse_steps(p, raw_steps, ctx))
    p.raise_problems()
    assert slug and name and tz and review and sender and sending and audience is not None
    assert variables is not None and milestones is not None and steps and letters is not None
    return CampaignSpec(
        slug=slug,
        name=name,
        timezone=tz,
        require_approval=review[0],
        approvals_required=review[1],
        lookahead_days=review[2],
        sender=sender,
        sending=sending,
        audience_tags=audience,
        vars=MappingProxyType(dict(variables)),
        milestones=milestones,
        steps=steps,
        source_path=source,
        source_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        letters=letters,
    )


def _parse_letter_style(p: FieldReader, doc: dict[str, Any], rules: FileRules) -> LetterStyle:
    """The ``[letters]`` table, or the default style when there is none."""
    return parse_letters(p, doc["letters"], rules) if "letters" in doc else LetterStyle()


def _parse_slug(p: FieldReader, value: Any) -> str:
    slug = p.string(value, "slug")
    if not SLUG_RE.match(slug):
        raise p.fail(
            "slug",
            f"{slug!r} is not a valid slug (lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit)",
        )
    return slug


def _parse_timezone(p: FieldReader, value: Any, where: str = "timezone") -> str:
    written = p.string(value, where)
    tz = canonical_timezone(written)
    if tz is None:
        raise p.fail(where, f"unknown IANA timezone {written!r} (e.g. 'Europe/Zurich')")
    return tz


def _parse_review(p: FieldReader, doc: dict[str, Any]) -> tuple[bool, int, int]:
    """(require_approval, approvals_required, lookahead_days), with their defaults."""
    require_approval = p.boolean(doc.get("require_approval", True), "require_approval")
    approvals_required = p.integer(doc.get("approvals_required", 1), "approvals_required")
    if approvals_required not in (1, 2):
        raise p.fail("approvals_required", f"must be 1 or 2, not {approvals_required}")
    lookahead_days = p.integer(doc.get("lookahead_days", 3), "lookahead_days")
    if lookahead_days < 0:
        raise p.fail("lookahead_days", f"must be 0 or more, not {lookahead_days}")
    return require_approval, approvals_required, lookahead_days


def _parse_audience(p: FieldReader, value: Any) -> tuple[str, ...]:
    audience = p.table(value, "audience")
    p.keys(audience, "audience", allowed={"tags"})
    return p.tags(audience.get("tags", []), "audience.tags")


def _parse_sender(p: FieldReader, value: Any) -> SenderSpec:
    sender = p.table(value, "sender")
    p.keys(sender, "sender", allowed={"name", "email", "reply_to"}, required={"name", "email"})
    name = p.header_text(sender["name"], "sender.name")
    email = p.email(sender["email"], "sender.email")
    reply_to = p.email(sender["reply_to"], "sender.reply_to") if "reply_to" in sender else None
    return SenderSpec(name=name, email=email, reply_to=reply_to)


def _parse_sending(p: FieldReader, value: Any) -> SendingWindow:
    sending = p.table(value, "sending")
    p.keys(sending, "sending", allowed={"days", "start", "end", "daily_limit"})
    default = SendingWindow()
    days = default.days
    if "days" in sending:
        raw = sending["days"]
        if not isinstance(raw, list) or not raw:
            raise p.fail("sending.days", 'must be a non-empty list like ["mon", "tue"]')
        chosen: set[int] = set()
        for i, item in enumerate(raw):
            day = p.string(item, f"sending.days[{i}]").strip().lower()
            if day not in WEEKDAYS:
                raise p.fail(
                    f"sending.days[{i}]",
                    f"unknown weekday {item!r} (use {', '.join(WEEKDAYS)})",
                )
            chosen.add(WEEKDAYS[day])
        days = frozenset(chosen)
    start = p.clock_time(sending["start"], "sending.start") if "start" in sending else default.start
    end = (
        p.clock_time(sending["end"], "sending.end", allow_24=True)
        if "end" in sending
        else default.end
    )
    if start >= end:
        raise p.fail(
            "sending.end",
            f"the window must end after it starts ({start:%H:%M} >= {_fmt_end(end)})",
        )
    daily_limit = None
    if "daily_limit" in sending:
        daily_limit = p.integer(sending["daily_limit"], "sending.daily_limit")
        if daily_limit < 1:
            raise p.fail("sending.daily_limit", f"must be 1 or more, not {daily_limit}")
    return SendingWindow(days=days, start=start, end=end, daily_limit=daily_limit)


def _fmt_end(end: time) -> str:
    return "24:00" if end == END_OF_DAY else f"{end:%H:%M}"


def _parse_milestones(p: FieldReader, value: Any) -> tuple[MilestoneSpec, ...] | None:
    """The ``[[milestones]]``, each read on its own: ``None`` when any is bad (its problem
    kept in ``p.problems``)."""
    if not isinstance(value, list):
        raise p.fail("milestones", "must be an array of tables ([[milestones]])")
    out: list[MilestoneSpec] = []
    seen: set[str] = set()
    for i, raw in enumerate(value):
        milestone = p.attempt(
            lambda i=i, raw=raw: _parse_milestone(p, raw, f"milestones[{i}]", seen)
        )
        if milestone is not None:
            out.append(milestone)
    return tuple(out) if len(out) == len(value) else None


def _parse_milestone(p: FieldReader, raw: Any, where: str, seen: set[str]) -> MilestoneSpec:
    """One ``[[milestones]]`` table (its key added to ``seen``, which refuses duplicates)."""
    item = p.table(raw, where)
    p.keys(
        item,
        where,
        allowed={"key", "title", "date", "end", "location", "time", "end_time", "timezone"},
        required={"key", "title", "date"},
    )
    key = p.key_name(item["key"], f"{where}.key")
    if key in seen:
        raise p.fail(f"{where}.key", f"duplicate milestone key {key!r}")
    seen.add(key)
    title = p.header_text(item["title"], f"{where}.title")
    start = p.calendar_date(item["date"], f"{where}.date")
    end = p.calendar_date(item["end"], f"{where}.end") if "end" in item else None
    if end is not None and end < start:
        raise p.fail(f"{where}.end", f"{end.isoformat()} is before date {start.isoformat()}")
    location = p.string(item["location"], f"{where}.location") if "location" in item else None
    return MilestoneSpec(
        key=key,
        title=title,
        date=start,
        end=end,
        location=location,
        **_milestone_times(p, item, where),
    )


def _milestone_times(p: FieldReader, item: dict[str, Any], where: str) -> dict[str, Any]:
    """A timed milestone's ``time``, ``end_time`` and ``timezone`` (each optional; the last two
    only with ``time``)."""
    if "time" not in item:
        for key in ("end_time", "timezone"):
            if key in item:
                raise p.fail(f"{where}.{key}", "only goes with time (a timed milestone)")
        return {}
    start = p.clock_time(item["time"], f"{where}.time")
    end = p.clock_time(item["end_time"], f"{where}.end_time") if "end_time" in item else None
    if end is not None and "end" not in item and end <= start:
        raise p.fail(f"{where}.end_time", f"{end:%H:%M} is not after time {start:%H:%M}")
    zone = None
    if "timezone" in item:
        zone = _parse_timezone(p, item["timezone"], f"{where}.timezone")
    return {"time": start, "end_time": end, "timezone": zone}


# --------------------------------------------------------------------------------------------
# Loading


def load_campaign_path(
    path: Path,
    *,
    templates_dir: Path | None = None,
    check_template: TemplateCheck | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> list[CampaignSpec]:
    """Read one campaign file, or every ``*.toml`` in a directory (sorted by name).

    Every file is validated before anything is returned, so callers can load all-or-nothing:
    any problem raises one :class:`CampaignFileError` naming every problem of every file
    (:func:`problems_message`). Two files with the same slug, an empty directory and a missing
    path are refused too. The files a campaign names are read from its file's folder and may
    weigh ``max_file_bytes`` each.
    """
    specs, problems = read_campaign_files(
        path,
        templates_dir=templates_dir,
        check_template=check_template,
        max_file_bytes=max_file_bytes,
    )
    if problems:
        raise CampaignFileError(problems_message(problems))
    return specs


def problems_message(problems: list[str]) -> str:
    """The error for ``problems`` (one line each, starting with their file): the line itself
    when there is one, else a count line followed by every problem."""
    if len(problems) == 1:
        return problems[0]
    files = {line.split(": ", 1)[0] for line in problems}
    return (
        f"{len(problems)} problems in {len(files)} campaign file(s); nothing was loaded:\n"
        + "\n".join(problems)
    )


def read_campaign_files(
    path: Path,
    *,
    templates_dir: Path | None = None,
    check_template: TemplateCheck | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> tuple[list[CampaignSpec], list[str]]:
    """Every campaign file at ``path`` (a file, or the ``*.toml`` of a directory) read and
    validated: the good ones, and every problem of every other one (one line each)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.glob("*.toml") if p.is_file())
        if not files:
            raise CampaignFileError(f"{path}: no *.toml campaign files in this directory")
    elif path.is_file():
        files = [path]
    else:
        raise CampaignFileError(f"{path}: no such file or directory")
    specs: list[CampaignSpec] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    for file in files:
        try:
            spec = parse_campaign(
                _read_text(file),
                source=str(file),
                templates_dir=templates_dir,
                check_template=check_template,
                folder=file.parent,
                max_file_bytes=max_file_bytes,
            )
        except CampaignFileError as exc:
            problems.extend(exc.message.splitlines())
            continue
        if spec.slug in seen:
            problems.append(f"{file}: slug: {spec.slug!r} is already used by {seen[spec.slug]}")
            continue
        seen[spec.slug] = str(file)
        specs.append(spec)
    return specs, problems


def _read_text(file: Path) -> str:
    """The UTF-8 text of ``file``; :class:`CampaignFileError` naming it otherwise."""
    try:
        return file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CampaignFileError(
            f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise CampaignFileError(f"{file}: cannot be read ({exc.strerror})") from None
