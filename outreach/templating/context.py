"""The template context of one letter: read-only :class:`Record`s built from a campaign, a
contact, the milestones with their countdown on the send day, the send day and the step.

Inputs are duck-typed (a ``CampaignSpec``, a ``Contact`` row, a mapping or a
``SimpleNamespace``), so previews and tests build contexts the way the planner does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from outreach.templating.sandbox import Record

#: Names a template may use besides Jinja's globals: what :func:`build_context` provides, plus
#: ``locale`` (added by the renderer). :meth:`TemplateRenderer.check` reports any other name.
CONTEXT_NAMES = frozenset(
    {"contact", "campaign", "milestones", "today", "step", "locale", "letter"}
)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """``obj[name]`` for a mapping, else ``getattr(obj, name)``; ``default`` when absent."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def as_text(value: Any) -> str:
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
    * ``today``: the date the letter is read on: its send date in the recipient's timezone
      (the campaign's when the contact has none; :func:`outreach.countdown.send_date`).
    * ``step``: ``key`` and ``template`` (a step object, a mapping, or just the key string).
    * ``letter``: ``filename`` (the PDF letter's file name, ``""`` without one), ``signature``
      and ``letterhead`` (the image paths of the campaign's ``[letters]``, relative to the
      campaign file, for ``<img src="…">`` in a letter template; ``""`` when not given).
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
            "email": as_text(_get(contact, "email")),
            "name": as_text(_get(contact, "name")),
            "salutation": as_text(_get(contact, "salutation")),
            "title": as_text(_get(contact, "title")),
            "organisation": as_text(_get(contact, "organisation")),
            "country": as_text(_get(contact, "country")),
            "language": as_text(_get(contact, "language")),
            "timezone": as_text(_get(contact, "timezone")),
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
    if milestones is None:
        milestones = _get(campaign, "milestones")
    return {
        "campaign": _campaign_record(campaign),
        "milestones": _milestone_records(milestones, today, countdown),
        "today": today,
        "step": _step_record(step),
        "letter": letter_record(_get(campaign, "letters")),
    }


def letter_record(letters: Any = None, filename: str = "") -> Record:
    """``letter``: this letter's PDF file name and the campaign's signature and letterhead
    paths (``letters`` a :class:`~outreach.spec.LetterStyle`, a mapping or ``None``)."""
    images = {}
    for key in ("signature", "letterhead"):
        ref = _get(letters, key)
        images[key] = as_text(_get(ref, "path")) if ref is not None else ""
    return Record("letter", {"filename": filename, **images})


def _campaign_record(campaign: Any) -> Record:
    """``campaign``: name, slug, timezone, sender (nested or flat attributes) and vars."""
    sender = _get(campaign, "sender")
    if sender is not None:
        sender_data = {
            "name": as_text(_get(sender, "name")),
            "email": as_text(_get(sender, "email")),
            "reply_to": as_text(_get(sender, "reply_to")),
        }
    else:
        sender_data = {
            "name": as_text(_get(campaign, "sender_name")),
            "email": as_text(_get(campaign, "sender_email")),
            "reply_to": as_text(_get(campaign, "reply_to")),
        }
    return Record(
        "campaign",
        {
            "name": as_text(_get(campaign, "name")),
            "slug": as_text(_get(campaign, "slug")),
            "timezone": as_text(_get(campaign, "timezone")),
            "sender": Record("campaign.sender", sender_data),
            "vars": _freeze("campaign.vars", dict(_get(campaign, "vars") or {})),
        },
    )


def _milestone_records(
    milestones: Any, today: date, countdown: Mapping[str, Mapping[str, Any]] | None
) -> Record:
    """``milestones``: one record per key with its facts and its countdown on ``today``."""
    records: dict[str, Record] = {}
    for key, m in _milestone_items(milestones):
        when = _get(m, "date")
        data: dict[str, Any] = {
            "key": key,
            "title": as_text(_get(m, "title")),
            "date": when,
            "end": _get(m, "end"),
            "location": as_text(_get(m, "location")),
        }
        if countdown is None:
            data.update(_simple_countdown(when, _get(m, "end"), today))
        else:
            data.update(countdown.get(key, {}))
        for name in ("title", "location"):
            data[name] = as_text(data.get(name))
        records[key] = Record(f"milestones.{key}", data)
    return Record("milestones", records)


def _step_record(step: Any) -> Record:
    """``step``: key and template, from a step object, a mapping or just the key."""
    if step is None or isinstance(step, str):
        return Record("step", {"key": as_text(step), "template": ""})
    return Record(
        "step", {"key": as_text(_get(step, "key")), "template": as_text(_get(step, "template"))}
    )
