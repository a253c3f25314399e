"""What one letter encloses, built when it is rendered: the PDF letter printed from the step's
``letter`` template (same context, same language variant as the e-mail), the step's static
files, and its milestone as a calendar event — as :class:`~outreach.compose.attachments.
Attachment` values for :func:`outreach.compose.compose`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from outreach.attachments.calendar import (
    CALENDAR_PARAMS,
    CALENDAR_TYPE,
    EventFacts,
    calendar_filename,
    milestone_calendar,
)
from outreach.attachments.filenames import CONTACT_FIELDS, fill_pattern, safe_filename
from outreach.attachments.files import read_file
from outreach.attachments.pdf import PrintJob, render_pdf
from outreach.compose.attachments import Attachment
from outreach.spec import CampaignSpec, FileRef, StepSpec
from outreach.templating import TemplateRenderer


@dataclass(frozen=True)
class LetterMoment:
    """When a letter leaves: its send day (campaign timezone: the PDF's date) and its
    scheduled time (the calendar event's DTSTAMP), and the domain of event UIDs."""

    send_day: date
    scheduled_for: datetime
    uid_domain: str


def letter_filename(spec: CampaignSpec, step: StepSpec, contact: Any, day: date) -> str:
    """The PDF letter's file name: the campaign's pattern filled in for ``contact``, safe."""
    values: dict[str, Any] = {"campaign": spec.slug, "step": step.key, "date": day.isoformat()}
    for name in CONTACT_FIELDS:
        values[f"contact.{name}"] = getattr(contact, name, None)
    for column, value in dict(getattr(contact, "fields", None) or {}).items():
        values[f"contact.fields.{column}"] = value
    return fill_pattern(spec.letters.filename, values, extension="pdf")


def build_attachments(
    renderer: TemplateRenderer,
    spec: CampaignSpec,
    step: StepSpec,
    language: str | None,
    context: Mapping[str, Any],
    moment: LetterMoment,
) -> tuple[Attachment, ...]:
    """The attachments of one letter of ``step``, in order: the PDF letter, the static files,
    the calendar event. ``context`` is the letter's template context (its ``letter.filename``
    already set). Raises :class:`~outreach.errors.TemplateError` or
    :class:`~outreach.errors.AttachmentError`."""
    out: list[Attachment] = []
    if step.letter:
        document = renderer.render_document(step.letter, language, context)
        folder = Path(spec.letters.folder or ".")
        job = PrintJob(
            html=document.html,
            template=document.template,
            folder=folder,
            roots=(folder, Path(renderer.templates_dir)),
            created=moment.send_day,
        )
        out.append(Attachment(context["letter"]["filename"], "application/pdf", render_pdf(job)))
    out.extend(static_attachment(ref) for ref in step.attachments)
    if step.calendar:
        facts = EventFacts(spec.slug, spec.timezone, moment.uid_domain, moment.scheduled_for)
        ics = milestone_calendar(spec.milestone(step.calendar), facts)
        name = calendar_filename(step.calendar, spec.slug)
        out.append(Attachment(name, CALENDAR_TYPE, ics, CALENDAR_PARAMS))
    return tuple(out)


def static_attachment(ref: FileRef) -> Attachment:
    """A static file as an attachment: named as on disk (made safe), typed from its bytes."""
    params = (("charset", "utf-8"),) if ref.content_type.startswith("text/") else ()
    name = safe_filename(Path(ref.location).name)
    return Attachment(name, ref.content_type, read_file(ref), params)
