"""Campaign files: parse and fully validate ``config/campaigns/*.toml`` (DESIGN.md §Campaign file).

The values it builds live in :mod:`outreach.spec`. Pure apart from :func:`load_campaign_path`, which reads files (and the template check, which
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
import re
import tomllib
import zoneinfo
from datetime import date, datetime, time
from pathlib import Path
from types import MappingProxyType
from typing import Any

from email_validator import EmailNotValidError, validate_email

from outreach.errors import CampaignFileError
from outreach.headersafe import header_problem
from outreach.spec import (
    END_OF_DAY,
    WEEKDAYS,
    AfterWhen,
    CampaignSpec,
    DateWhen,
    MilestoneSpec,
    MilestoneWhen,
    SenderSpec,
    SendingWindow,
    StepSpec,
    When,
    canonical_timezone,
)

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
#: Milestone and step keys: same alphabet as slugs (they end up in URLs, headers and tables).
KEY_RE = SLUG_RE
#: A template name: ``/``-separated segments of letters, digits, ``_ - .``; no ``..``, no
#: leading dot or slash, no extension (``.j2`` is added).
TEMPLATE_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$")
TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


# --------------------------------------------------------------------------------------------
# Parsing helpers


class _Parser:
    """Holds the source name so every error names the file."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, what: str) -> CampaignFileError:
        return CampaignFileError(
            f"{self.source}: {key}: {what}" if key else f"{self.source}: {what}"
        )

    @staticmethod
    def join(where: str, key: str) -> str:
        return f"{where}.{key}" if where else key

    def table(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a table, not {_kind(value)}")
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
            raise self.fail(where, f"must be a string, not {_kind(value)}")
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
            raise self.fail(where, f"must be an integer, not {_kind(value)}")
        return value

    def boolean(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"must be true or false, not {_kind(value)}")
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
            raise self.fail(where, f"must be a list of strings, not {_kind(value)}")
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
            raise self.fail(where, f'must be a time like "09:00", not {_kind(value)}')
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
        raise self.fail(where, f"must be a date like 2010-08-01, not {_kind(value)}")

    def email(self, value: Any, where: str) -> str:
        text = self.header_text(value, where)
        try:
            result = validate_email(text, check_deliverability=False)
        except EmailNotValidError as exc:
            raise self.fail(where, f"{text!r} is not a valid email address: {exc}") from None
        return result.normalized


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime):
        return "a date-time"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, time):
        return "a time"
    return type(value).__name__


# --------------------------------------------------------------------------------------------
# The file


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
}


_ERROR_AT = re.compile(r"\(at line (\d+), column (\d+)\)")
_SHORT_TIME = re.compile(r"(?<![\d:])(?:\d{4}-\d{2}-\d{2}[T ])?\d{2}:\d{2}(?![:\d])")


def _toml_loads(text: str) -> dict[str, Any]:
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


def parse_campaign(text: str, *, source: str, templates_dir: Path | None = None) -> CampaignSpec:
    """Parse and validate one campaign file's text; ``source`` names it in every error.

    When ``templates_dir`` is given, every step's ``templates_dir/<template>.j2`` must exist.
    Raises :class:`CampaignFileError` (one line: file, key, problem) on the first problem.
    """
    p = _Parser(source)
    try:
        doc = _toml_loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise p.fail("", f"TOML syntax error: {exc}") from None

    p.keys(doc, "", allowed=TOP_KEYS, required={"slug", "name", "timezone", "sender", "steps"})

    slug = p.string(doc["slug"], "slug")
    if not SLUG_RE.match(slug):
        raise p.fail(
            "slug",
            f"{slug!r} is not a valid slug (lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit)",
        )
    name = p.header_text(doc["name"], "name")
    written_tz = p.string(doc["timezone"], "timezone")
    tz = canonical_timezone(written_tz)
    if tz is None:
        raise p.fail("timezone", f"unknown IANA timezone {written_tz!r} (e.g. 'Europe/Zurich')")

    require_approval = p.boolean(doc.get("require_approval", True), "require_approval")
    approvals_required = p.integer(doc.get("approvals_required", 1), "approvals_required")
    if approvals_required not in (1, 2):
        raise p.fail("approvals_required", f"must be 1 or 2, not {approvals_required}")
    lookahead_days = p.integer(doc.get("lookahead_days", 3), "lookahead_days")
    if lookahead_days < 0:
        raise p.fail("lookahead_days", f"must be 0 or more, not {lookahead_days}")

    sender = _parse_sender(p, doc["sender"])
    sending = _parse_sending(p, doc.get("sending", {}))

    audience_tags: tuple[str, ...] = ()
    if "audience" in doc:
        audience = p.table(doc["audience"], "audience")
        p.keys(audience, "audience", allowed={"tags"})
        audience_tags = p.tags(audience.get("tags", []), "audience.tags")

    variables = p.table(doc.get("vars", {}), "vars")

    milestones = _parse_milestones(p, doc.get("milestones", []))
    steps = _parse_steps(p, doc["steps"], milestones, sending, tz, templates_dir)

    return CampaignSpec(
        slug=slug,
        name=name,
        timezone=tz,
        require_approval=require_approval,
        approvals_required=approvals_required,
        lookahead_days=lookahead_days,
        sender=sender,
        sending=sending,
        audience_tags=audience_tags,
        vars=MappingProxyType(dict(variables)),
        milestones=milestones,
        steps=steps,
        source_path=source,
        source_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def _parse_sender(p: _Parser, value: Any) -> SenderSpec:
    sender = p.table(value, "sender")
    p.keys(sender, "sender", allowed={"name", "email", "reply_to"}, required={"name", "email"})
    name = p.header_text(sender["name"], "sender.name")
    email = p.email(sender["email"], "sender.email")
    reply_to = p.email(sender["reply_to"], "sender.reply_to") if "reply_to" in sender else None
    return SenderSpec(name=name, email=email, reply_to=reply_to)


def _parse_sending(p: _Parser, value: Any) -> SendingWindow:
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


def _parse_milestones(p: _Parser, value: Any) -> tuple[MilestoneSpec, ...]:
    if not isinstance(value, list):
        raise p.fail("milestones", "must be an array of tables ([[milestones]])")
    out: list[MilestoneSpec] = []
    seen: set[str] = set()
    for i, raw in enumerate(value):
        where = f"milestones[{i}]"
        item = p.table(raw, where)
        p.keys(
            item,
            where,
            allowed={"key", "title", "date", "end", "location"},
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
        out.append(MilestoneSpec(key=key, title=title, date=start, end=end, location=location))
    return tuple(out)


WHEN_FORMS = (
    "{ milestone, days_before | days_after, at? }, { after = STEP, days } "
    "or { date = 2010-05-10T09:00 }"
)


def _parse_when(
    p: _Parser,
    value: Any,
    where: str,
    milestones: tuple[MilestoneSpec, ...],
    sending: SendingWindow,
    tz: str,
) -> When:
    when = p.table(value, where)
    present = set(when)
    if "milestone" in present:
        p.keys(when, where, allowed={"milestone", "days_before", "days_after", "at"})
        name = p.string(when["milestone"], f"{where}.milestone")
        known = [m.key for m in milestones]
        if name not in known:
            raise p.fail(
                f"{where}.milestone",
                f"no milestone {name!r} (known: {', '.join(known) or 'none'})",
            )
        if "days_before" in when and "days_after" in when:
            raise p.fail(f"{where}.days_after", "give days_before or days_after, not both")
        if "days_before" in when:
            days = p.integer(when["days_before"], f"{where}.days_before")
            if days < 0:
                raise p.fail(
                    f"{where}.days_before", f"must be 0 or more (use days_after), not {days}"
                )
            days_before = days
        elif "days_after" in when:
            days = p.integer(when["days_after"], f"{where}.days_after")
            if days < 0:
                raise p.fail(
                    f"{where}.days_after", f"must be 0 or more (use days_before), not {days}"
                )
            days_before = -days
        else:
            raise p.fail(f"{where}.days_before", "required key is missing (or days_after)")
        at = p.clock_time(when["at"], f"{where}.at") if "at" in when else None
        return MilestoneWhen(milestone=name, days_before=days_before, at=at)
    if "after" in present:
        p.keys(when, where, allowed={"after", "days"}, required={"days"})
        after = p.string(when["after"], f"{where}.after")
        days = p.integer(when["days"], f"{where}.days")
        if days < 0:
            raise p.fail(f"{where}.days", f"must be 0 or more, not {days}")
        return AfterWhen(after=after, days=days)  # existence and cycles checked by the caller
    if "date" in present:
        p.keys(when, where, allowed={"date"})
        raw = when["date"]
        if isinstance(raw, datetime):
            if raw.tzinfo is not None:
                raw = raw.astimezone(zoneinfo.ZoneInfo(tz)).replace(tzinfo=None)
            return DateWhen(at=raw)
        if isinstance(raw, date):
            return DateWhen(at=datetime.combine(raw, sending.start))
        if isinstance(raw, str):
            try:
                parsed = datetime.fromisoformat(raw.strip())
            except ValueError:
                raise p.fail(
                    f"{where}.date", f"{raw!r} is not a date-time like 2010-05-10T09:00"
                ) from None
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(zoneinfo.ZoneInfo(tz)).replace(tzinfo=None)
            return DateWhen(at=parsed)
        raise p.fail(
            f"{where}.date", f"must be a date-time like 2010-05-10T09:00, not {_kind(raw)}"
        )
    raise p.fail(
        where,
        f"matches no form (keys: {', '.join(sorted(present)) or 'none'}); use {WHEN_FORMS}",
    )


def _parse_steps(
    p: _Parser,
    value: Any,
    milestones: tuple[MilestoneSpec, ...],
    sending: SendingWindow,
    tz: str,
    templates_dir: Path | None,
) -> tuple[StepSpec, ...]:
    if not isinstance(value, list):
        raise p.fail("steps", "must be an array of tables ([[steps]])")
    if not value:
        raise p.fail("steps", "a campaign needs at least one step")
    out: list[StepSpec] = []
    index: dict[str, int] = {}
    for i, raw in enumerate(value):
        where = f"steps[{i}]"
        item = p.table(raw, where)
        p.keys(
            item,
            where,
            allowed={"key", "template", "when", "audience"},
            required={"key", "template", "when"},
        )
        key = p.key_name(item["key"], f"{where}.key")
        if key in index:
            raise p.fail(f"{where}.key", f"duplicate step key {key!r}")
        index[key] = i
        template = p.string(item["template"], f"{where}.template")
        if not TEMPLATE_RE.match(template) or ".." in template:
            raise p.fail(
                f"{where}.template",
                f"{template!r} is not a template name like 'ccm/appeal' (no '..', no extension)",
            )
        if templates_dir is not None and not (templates_dir / f"{template}.j2").is_file():
            raise p.fail(
                f"{where}.template",
                f"template {template!r} not found ({templates_dir / (template + '.j2')} is missing)",
            )
        when = _parse_when(p, item["when"], f"{where}.when", milestones, sending, tz)
        audience_tags = None
        if "audience" in item:
            audience = p.table(item["audience"], f"{where}.audience")
            p.keys(audience, f"{where}.audience", allowed={"tags"}, required={"tags"})
            audience_tags = p.tags(audience["tags"], f"{where}.audience.tags")
        out.append(
            StepSpec(key=key, template=template, when=when, audience_tags=audience_tags, position=i)
        )

    # `after` references: they must exist and must not form a cycle (a self-reference included).
    for step in out:
        if isinstance(step.when, AfterWhen) and step.when.after not in index:
            raise p.fail(
                f"steps[{step.position}].when.after",
                f"no step {step.when.after!r} (known: {', '.join(index)})",
            )
    for step in out:
        chain = [step.key]
        current = step
        while isinstance(current.when, AfterWhen):
            current = out[index[current.when.after]]
            chain.append(current.key)
            if current.key == step.key:
                what = (
                    "a step cannot follow itself"
                    if len(chain) == 2
                    else f"cycle of after-steps: {' -> '.join(chain)}"
                )
                raise p.fail(f"steps[{step.position}].when.after", what)
            if len(chain) > len(out) + 1:
                break  # a cycle further up the chain; reported when its own step is checked
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Loading and ordering


def load_campaign_path(path: Path, *, templates_dir: Path | None = None) -> list[CampaignSpec]:
    """Read one campaign file, or every ``*.toml`` in a directory (sorted by name).

    Every file is validated before anything is returned, so callers can load all-or-nothing;
    the first bad file raises :class:`CampaignFileError`. Two files with the same slug, an empty
    directory and a missing path are refused too.
    """
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
    seen: dict[str, str] = {}
    for file in files:
        source = str(file)
        try:
            text = file.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CampaignFileError(
                f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
        except OSError as exc:
            raise CampaignFileError(f"{source}: cannot be read ({exc.strerror})") from None
        spec = parse_campaign(text, source=source, templates_dir=templates_dir)
        if spec.slug in seen:
            raise CampaignFileError(
                f"{source}: slug: {spec.slug!r} is already used by {seen[spec.slug]}"
            )
        seen[spec.slug] = source
        specs.append(spec)
    return specs
