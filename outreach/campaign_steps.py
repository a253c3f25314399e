"""A campaign file's ``[[steps]]``: each step's template, audience and ``when`` (one of the
three forms), and the checks across steps (follow-ups name a step that exists, no cycles).

Pure apart from the optional template checks (the file ``templates_dir/<template>.j2`` must
exist, and an injected ``check_template`` (``campaign load`` passes the renderer's) must find
it compiles; a step's letter template likewise) and the files a step attaches, read by
:mod:`outreach.campaign_letters`.
Errors are :class:`~outreach.errors.CampaignFileError` lines naming the file and the key.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from outreach.campaign_fields import FieldReader, kind_of
from outreach.campaign_letters import (
    FileRules,
    file_refs_problem,
    parse_attachments,
    parse_calendar,
)
from outreach.errors import CampaignFileError
from outreach.spec import (
    AfterWhen,
    DateWhen,
    MilestoneSpec,
    MilestoneWhen,
    SendingWindow,
    StepSpec,
    When,
)

#: A template name: ``/``-separated segments of letters, digits, ``_ - .``; no ``..``, no
#: leading dot or slash, no extension (``.j2`` is added).
TEMPLATE_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$")


class TemplateCheck(Protocol):
    """``check_template(name, document=...) -> problems``: what is wrong with a template's
    files (one line each, naming file and line), for a caller that can compile templates
    (``document``: a letter template, rendered whole to print as PDF)."""

    def __call__(self, template: str, *, document: bool = False) -> list[str]: ...


@dataclass(frozen=True)
class StepContext:
    """What parsing a step needs from the rest of the file: its milestones, send window and
    (canonical) timezone, where templates live (None: not checked), how to compile one
    (None: not compiled) and where the files it names are."""

    milestones: tuple[MilestoneSpec, ...]
    sending: SendingWindow
    timezone: str
    templates_dir: Path | None = None
    check_template: TemplateCheck | None = None
    files: FileRules = field(default_factory=lambda: FileRules(None))


WHEN_FORMS = (
    "{ milestone, days_before | days_after, at? }, { after = STEP, days } "
    "or { date = 2010-05-10T09:00 }"
)


def _days_before(p: FieldReader, when: dict[str, Any], where: str) -> int:
    """``days_before = N`` as N, ``days_after = N`` as -N (each >= 0, not both)."""
    if "days_before" in when and "days_after" in when:
        raise p.fail(f"{where}.days_after", "give days_before or days_after, not both")
    for key, sign, other in (("days_before", 1, "days_after"), ("days_after", -1, "days_before")):
        if key in when:
            days = p.integer(when[key], f"{where}.{key}")
            if days < 0:
                raise p.fail(f"{where}.{key}", f"must be 0 or more (use {other}), not {days}")
            return sign * days
    raise p.fail(f"{where}.days_before", "required key is missing (or days_after)")


def _milestone_when(
    p: FieldReader, when: dict[str, Any], where: str, milestones: tuple[MilestoneSpec, ...]
) -> MilestoneWhen:
    p.keys(when, where, allowed={"milestone", "days_before", "days_after", "at"})
    name = p.string(when["milestone"], f"{where}.milestone")
    known = [m.key for m in milestones]
    if name not in known:
        raise p.fail(
            f"{where}.milestone",
            f"no milestone {name!r} (known: {', '.join(known) or 'none'})",
        )
    days_before = _days_before(p, when, where)
    at = p.clock_time(when["at"], f"{where}.at") if "at" in when else None
    return MilestoneWhen(milestone=name, days_before=days_before, at=at)


def _after_when(p: FieldReader, when: dict[str, Any], where: str) -> AfterWhen:
    p.keys(when, where, allowed={"after", "days"}, required={"days"})
    after = p.string(when["after"], f"{where}.after")
    days = p.integer(when["days"], f"{where}.days")
    if days < 0:
        raise p.fail(f"{where}.days", f"must be 0 or more, not {days}")
    return AfterWhen(after=after, days=days)  # existence and cycles: check_follow_ups


def _date_when(
    p: FieldReader, when: dict[str, Any], where: str, sending: SendingWindow, tz: str
) -> DateWhen:
    """A local date-time as is, an offset one converted to ``tz``, a date at the send
    window's start."""
    p.keys(when, where, allowed={"date"})
    raw = when["date"]
    if isinstance(raw, str):
        try:
            raw = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise p.fail(
                f"{where}.date", f"{raw!r} is not a date-time like 2010-05-10T09:00"
            ) from None
    if isinstance(raw, datetime):
        if raw.tzinfo is not None:
            raw = raw.astimezone(zoneinfo.ZoneInfo(tz)).replace(tzinfo=None)
        return DateWhen(at=raw)
    if isinstance(raw, date):
        return DateWhen(at=datetime.combine(raw, sending.start))
    raise p.fail(f"{where}.date", f"must be a date-time like 2010-05-10T09:00, not {kind_of(raw)}")


def parse_when(p: FieldReader, value: Any, where: str, ctx: StepContext) -> When:
    """A step's ``when`` table in one of its three forms (:data:`WHEN_FORMS`)."""
    when = p.table(value, where)
    if "milestone" in when:
        return _milestone_when(p, when, where, ctx.milestones)
    if "after" in when:
        return _after_when(p, when, where)
    if "date" in when:
        return _date_when(p, when, where, ctx.sending, ctx.timezone)
    raise p.fail(
        where,
        f"matches no form (keys: {', '.join(sorted(when)) or 'none'}); use {WHEN_FORMS}",
    )


def _template(p: FieldReader, value: Any, where: str, templates_dir: Path | None) -> str:
    template = p.string(value, where)
    if not TEMPLATE_RE.match(template) or ".." in template:
        raise p.fail(
            where,
            f"{template!r} is not a template name like 'ccm/appeal' (no '..', no extension)",
        )
    if templates_dir is not None and not (templates_dir / f"{template}.j2").is_file():
        raise p.fail(
            where,
            f"template {template!r} not found ({templates_dir / (template + '.j2')} is missing)",
        )
    return template


def _checked_template(
    p: FieldReader, value: Any, where: str, ctx: StepContext, *, document: bool = False
) -> str:
    """A step's template (or, ``document``, its letter template) name: valid, its file present
    when ``ctx.templates_dir`` is given, and compiling when ``ctx.check_template`` is given
    (every problem of its files one line, naming ``where``)."""
    template = _template(p, value, where, ctx.templates_dir)
    if ctx.check_template is not None:
        problems = ctx.check_template(template, document=document)
        if problems:
            raise CampaignFileError("\n".join(p.fail(where, line).message for line in problems))
    return template


def _parse_step(
    p: FieldReader, raw: Any, position: int, earlier: list[StepSpec], ctx: StepContext
) -> StepSpec:
    where = f"steps[{position}]"
    item = p.table(raw, where)
    p.keys(
        item,
        where,
        allowed={"key", "template", "when", "audience", "letter", "attachments", "calendar"},
        required={"key", "template", "when"},
    )
    key = p.key_name(item["key"], f"{where}.key")
    if any(s.key == key for s in earlier):
        raise p.fail(f"{where}.key", f"duplicate step key {key!r}")
    template = _checked_template(p, item["template"], f"{where}.template", ctx)
    when = parse_when(p, item["when"], f"{where}.when", ctx)
    audience_tags = None
    if "audience" in item:
        audience = p.table(item["audience"], f"{where}.audience")
        p.keys(audience, f"{where}.audience", allowed={"tags"}, required={"tags"})
        audience_tags = p.tags(audience["tags"], f"{where}.audience.tags")
    letter = None
    if "letter" in item:
        letter = _checked_template(p, item["letter"], f"{where}.letter", ctx, document=True)
    attachments = ()
    if "attachments" in item:
        attachments = parse_attachments(p, item["attachments"], f"{where}.attachments", ctx.files)
        problem = file_refs_problem(attachments)
        if problem is not None:
            raise p.fail(f"{where}.attachments", problem)
    calendar = None
    if "calendar" in item:
        calendar = parse_calendar(p, item["calendar"], f"{where}.calendar", ctx.milestones)
    return StepSpec(
        key=key,
        template=template,
        when=when,
        audience_tags=audience_tags,
        position=position,
        letter=letter,
        attachments=attachments,
        calendar=calendar,
    )


def check_follow_ups(p: FieldReader, steps: tuple[StepSpec, ...]) -> None:
    """Every ``after`` names a step of the file, and no step follows itself, directly or
    through a cycle of follow-ups."""
    index = {step.key: i for i, step in enumerate(steps)}
    for step in steps:
        if isinstance(step.when, AfterWhen) and step.when.after not in index:
            raise p.fail(
                f"steps[{step.position}].when.after",
                f"no step {step.when.after!r} (known: {', '.join(index)})",
            )
    for step in steps:
        chain = [step.key]
        current = step
        while isinstance(current.when, AfterWhen):
            current = steps[index[current.when.after]]
            chain.append(current.key)
            if current.key == step.key:
                what = (
                    "a step cannot follow itself"
                    if len(chain) == 2
                    else f"cycle of after-steps: {' -> '.join(chain)}"
                )
                raise p.fail(f"steps[{step.position}].when.after", what)
            if len(chain) > len(steps) + 1:
                break  # a cycle further up the chain; reported when its own step is checked


def parse_steps(p: FieldReader, value: Any, ctx: StepContext) -> tuple[StepSpec, ...] | None:
    """The ``[[steps]]`` array: at least one step, unique keys, follow-ups checked. Each step is
    read on its own: a bad one's problem is kept in ``p.problems`` and ``None`` is returned once
    every step was read; follow-ups are checked when all are good."""
    if not isinstance(value, list):
        raise p.fail("steps", "must be an array of tables ([[steps]])")
    if not value:
        raise p.fail("steps", "a campaign needs at least one step")
    steps: list[StepSpec] = []
    bad = 0
    for i, raw in enumerate(value):
        step = p.attempt(lambda i=i, raw=raw: _parse_step(p, raw, i, steps, ctx))
        if step is None:
            bad += 1
        else:
            steps.append(step)
    if bad:
        return None  # the bad steps' problems are kept in p.problems
    check_follow_ups(p, tuple(steps))
    return tuple(steps)
