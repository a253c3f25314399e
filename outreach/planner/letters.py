"""One letter: rendered for its send day (the countdown it quotes is true the day it leaves)
and composed to its final bytes (DESIGN.md rule 1: what is approved is what is sent).

Everything that renders or composes a letter goes through here: planning, re-planning, the
stale check, a reviewer's edit, previews and the benchmarks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from outreach import unsubscribe_links as links
from outreach.attachments.enclosures import LetterMoment, build_attachments, letter_filename
from outreach.attachments.listing import attachments_in, describe
from outreach.compose import ComposeInput, compose
from outreach.compose.attachments import Attachment
from outreach.countdown import countdown_values, send_date
from outreach.db import Session
from outreach.errors import ComposeError
from outreach.models import Campaign, Contact, Message
from outreach.repository.planning import message_parties
from outreach.settings import Settings
from outreach.spec import CampaignSpec, StepSpec
from outreach.templating import (
    RenderedEmail,
    TemplateRenderer,
    contact_record,
    day_context,
    letter_record,
)
from outreach.tokens import new_token, token_hash

_RENDERERS: dict[Path, TemplateRenderer] = {}


def renderer_for(templates_dir: Path) -> TemplateRenderer:
    """One renderer per templates folder per process (compiled templates are cached)."""
    key = Path(templates_dir).resolve()
    if key not in _RENDERERS:
        _RENDERERS[key] = TemplateRenderer(key)
    return _RENDERERS[key]


# -- rendering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendDay:
    """What every letter of one step sent on one day shares: the template context but the
    contact (read-only values) and the countdown summary stored with each message."""

    day: date
    context: dict[str, Any]
    summary: dict[str, Any]


def send_day_parts(spec: CampaignSpec, step: StepSpec, send_day: date) -> SendDay:
    """The :class:`SendDay` of ``step`` read on ``send_day`` (the recipient's date,
    :func:`~outreach.countdown.send_date`)."""
    countdown = countdown_values(spec.milestones, send_day)
    context = day_context(
        campaign=spec, milestones=spec.milestones, today=send_day, step=step, countdown=countdown
    )
    summary = {
        "today": send_day.isoformat(),
        "milestones": {
            k: {
                "days_until": v["days_until"],
                "weeks_until": v["weeks_until"],
                "is_past": v["is_past"],
            }
            for k, v in countdown.items()
        },
    }
    return SendDay(send_day, context, summary)


def letter_context(
    spec: CampaignSpec, step: StepSpec, contact: Contact, parts: SendDay
) -> dict[str, Any]:
    """The template context of ``step``'s letter to ``contact`` on the day of ``parts``: the
    day's shared context with the contact and the letter's file name."""
    context = dict(parts.context)
    context["contact"] = contact_record(contact)
    if step.letter:
        filename = letter_filename(spec, step, contact, parts.day)
        context["letter"] = letter_record(spec.letters, filename)
    return context


def render_letter(
    renderer: TemplateRenderer,
    spec: CampaignSpec,
    step: StepSpec,
    contact: Contact,
    *,
    send_day: date,
    parts: SendDay | None = None,
) -> tuple[RenderedEmail, dict[str, Any]]:
    """Render ``step`` for ``contact`` as it reads on ``send_day`` (the recipient's date).
    Returns the rendered email and the countdown values it was rendered with. ``parts``: the
    day's shared parts when the caller has them (:func:`send_day_parts` of the same step and
    day), else they are built here."""
    if parts is None or parts.day != send_day:
        parts = send_day_parts(spec, step, send_day)
    context = letter_context(spec, step, contact, parts)
    rendered = renderer.render(step.template, contact.language, context)
    return rendered, parts.summary


def render_attachments(
    renderer: TemplateRenderer,
    spec: CampaignSpec,
    step: StepSpec,
    contact: Contact,
    *,
    scheduled_for: datetime,
    settings: Settings,
    parts: SendDay | None = None,
    send_day: date | None = None,
) -> tuple[Attachment, ...]:
    """What ``step``'s letter to ``contact`` encloses when it leaves at ``scheduled_for``
    (the PDF letter printed for its send day — ``send_day``, by default the recipient's date
    at ``scheduled_for``, :func:`~outreach.countdown.send_date`, as the e-mail's —, static
    files, calendar event); () for a step that encloses nothing. Raises
    :class:`OutreachError` when one cannot be made."""
    if not step.encloses:
        return ()
    send_day = send_day or send_date(scheduled_for, contact.timezone, spec.timezone)
    if parts is None or parts.day != send_day:
        parts = send_day_parts(spec, step, send_day)
    moment = LetterMoment(send_day, scheduled_for, message_id_domain(spec, settings))
    context = letter_context(spec, step, contact, parts)
    return build_attachments(renderer, spec, step, contact.language, context, moment)


def differences(
    message: Message, rendered: RenderedEmail, attachments: tuple[Attachment, ...] | None = None
) -> list[str]:
    """The parts (``subject``, ``text``, ``html``, and with ``attachments`` given, each
    attachment by name) in which a new rendering differs from what ``message`` holds."""
    out = []
    if rendered.subject != message.subject:
        out.append("subject")
    if rendered.text != message.body.text:
        out.append("text")
    if (rendered.html or None) != (message.body.html or None):
        out.append("html")
    if attachments is not None:
        out.extend(attachment_differences(message.body.raw, attachments))
    return out


def attachment_differences(raw: bytes | None, attachments: tuple[Attachment, ...]) -> list[str]:
    """``attachment NAME`` for each attachment that differs between the stored bytes ``raw``
    and ``attachments`` (added, removed or changed)."""
    old = {(i.filename, i.content_type, i.sha256) for i in describe(attachments_in(raw))}
    new = {(i.filename, i.content_type, i.sha256) for i in describe(attachments)}
    names = sorted({name for name, _, _ in old ^ new})
    return [f"attachment {name!r}" for name in names]


# -- composing --------------------------------------------------------------------------------


def message_id_domain(spec_or_campaign: Any, settings: Settings) -> str:
    """The domain of the Message-IDs of a campaign: the configured one, else the sender's."""
    if settings.message_id_domain:
        return settings.message_id_domain
    email = getattr(spec_or_campaign, "sender_email", None) or spec_or_campaign.sender.email
    return email.rsplit("@", 1)[1]


@dataclass(frozen=True)
class _Sender:
    slug: str
    name: str
    email: str
    reply_to: str | None


def _sender(campaign: Campaign | CampaignSpec) -> _Sender:
    if isinstance(campaign, Campaign):
        return _Sender(
            campaign.slug, campaign.sender_name, campaign.sender_email, campaign.reply_to
        )
    sender = campaign.sender
    return _Sender(campaign.slug, sender.name, sender.email, sender.reply_to)


def planned_token(settings: Settings) -> str | None:
    """A new unsubscribe token for a letter being planned, when letters get per-message
    one-click links (an https ``PUBLIC_URL``); else None."""
    return new_token() if links.enabled(settings.public_url) else None


def existing_token(message: Message) -> str | None:
    """The unsubscribe token in ``message``'s bytes when it is the one its row stores."""
    token = links.token_in_raw(message.body.raw)
    if token is not None and message.unsubscribe_token_hash == token_hash(token):
        return token
    return None


def kept_token(message: Message, settings: Settings) -> str | None:
    """The token a message composed again keeps: its own, else a new one (when enabled)."""
    if not links.enabled(settings.public_url):
        return None
    return existing_token(message) or planned_token(settings)


def _unsubscribe_url(settings: Settings, token: str | None) -> str | None:
    """The one-click URL of a letter: its own link, else the static ``UNSUBSCRIBE_URL``."""
    if token is not None and settings.public_url and links.enabled(settings.public_url):
        return links.one_click_url(settings.public_url, token)
    return settings.unsubscribe_url


def compose_letter(
    *,
    campaign: Campaign | CampaignSpec,
    contact: Contact,
    step_key: str,
    subject: str,
    text: str,
    html: str | None,
    scheduled_for: datetime,
    message_id: str,
    settings: Settings,
    attachments: tuple[Attachment, ...] = (),
    unsubscribe_token: str | None = None,
) -> tuple[bytes, str]:
    """The final bytes (and their SHA-256) of one letter, ``attachments`` enclosed. Date is
    its scheduled time; with ``unsubscribe_token`` (and an https ``PUBLIC_URL``) its
    ``List-Unsubscribe`` carries its own one-click link. A letter larger than
    ``settings.max_message_bytes`` is refused (:class:`MessageTooLarge`)."""
    sender = _sender(campaign)
    composed = compose(
        ComposeInput(
            from_name=sender.name,
            from_email=sender.email,
            to_name=contact.name or None,
            to_email=contact.email,
            reply_to=sender.reply_to,
            subject=subject,
            text=text,
            html=html,
            date=scheduled_for,
            message_id=message_id,
            list_unsubscribe_mailto=sender.reply_to or sender.email,
            unsubscribe_url=_unsubscribe_url(settings, unsubscribe_token),
            extra_headers=(("X-Outreach-Campaign", sender.slug), ("X-Outreach-Step", step_key)),
            attachments=attachments,
        )
    )
    if len(composed.raw) > settings.max_message_bytes:
        raise MessageTooLarge(
            f"the letter is {len(composed.raw):,} bytes with its attachments, over "
            f"OUTREACH_MAX_MESSAGE_BYTES ({settings.max_message_bytes:,})"
        )
    return composed.raw, composed.sha256


class MessageTooLarge(ComposeError):
    """The composed letter is larger than OUTREACH_MAX_MESSAGE_BYTES."""


def recompose_message(
    session: Session,
    message: Message,
    *,
    subject: str,
    text: str,
    html: str | None,
    settings: Settings,
) -> tuple[bytes, str]:
    """Compose ``message`` again with new content (a reviewer's edit): same headers,
    Message-ID, Date, unsubscribe link and attachments (the very files the reviewer saw)."""
    parties = message_parties(session, message=message)
    return compose_letter(
        campaign=parties.campaign,
        contact=parties.contact,
        step_key=parties.step.key,
        subject=subject,
        text=text,
        html=html,
        scheduled_for=message.scheduled_for,
        message_id=message.message_id,
        settings=settings,
        attachments=attachments_in(message.body.raw),
        unsubscribe_token=existing_token(message),
    )


def recomposer(
    settings: Settings,
) -> Callable[[Session, Message, str, str, str | None], tuple[bytes, str]]:
    """:func:`recompose_message` with ``settings`` bound: what a reviewer's edit (CLI or
    console) passes to :func:`outreach.review.actions.edit`."""

    def recompose(
        session: Session, message: Message, subject: str, text: str, html: str | None
    ) -> tuple[bytes, str]:
        return recompose_message(
            session, message, subject=subject, text=text, html=html, settings=settings
        )

    return recompose


# -- the letter -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Letter:
    """One letter rendered for its send day and composed to its final bytes."""

    rendered: RenderedEmail
    summary: dict[str, Any]
    send_day: date
    raw: bytes
    sha256: str
    attachments: tuple[Attachment, ...] = ()
    unsubscribe_token: str | None = None

    def columns(self) -> dict[str, Any]:
        """The message columns this letter sets."""
        return {
            "subject": self.rendered.subject,
            "text": self.rendered.text,
            "html": self.rendered.html,
            "template": self.rendered.template,
            "language": self.rendered.language,
            "render_context": self.summary,
            "rendered_for": self.send_day,
            "raw": self.raw,
            "content_hash": self.sha256,
            "render_error": None,
            "unsubscribe_token_hash": (
                token_hash(self.unsubscribe_token) if self.unsubscribe_token else None
            ),
        }


def make_letter(
    renderer: TemplateRenderer,
    spec: CampaignSpec,
    step: StepSpec,
    contact: Contact,
    *,
    scheduled_for: datetime,
    message_id: str,
    settings: Settings,
    days: dict[tuple[str, date], SendDay] | None = None,
    unsubscribe_token: str | None = None,
) -> Letter:
    """Render ``step`` for ``contact`` as it reads on its send day (the recipient's date at
    ``scheduled_for``, :func:`~outreach.countdown.send_date`), with what it encloses printed
    for the same day, and compose it. Raises :class:`OutreachError` (a template failure, or
    content refused in a header). ``days``: a cache of :class:`SendDay` parts by (step key,
    day) kept by the caller across the letters of one campaign. ``unsubscribe_token``: the
    letter's own one-click token (:func:`planned_token`, :func:`kept_token`)."""
    send_day = send_date(scheduled_for, contact.timezone, spec.timezone)
    parts = None
    if days is not None:
        parts = days.get((step.key, send_day))
        if parts is None:
            parts = days[(step.key, send_day)] = send_day_parts(spec, step, send_day)
    rendered, summary = render_letter(renderer, spec, step, contact, send_day=send_day, parts=parts)
    attachments = render_attachments(
        renderer,
        spec,
        step,
        contact,
        scheduled_for=scheduled_for,
        settings=settings,
        parts=parts,
        send_day=send_day,
    )
    return _composed(
        spec,
        step,
        contact,
        Enclosed(rendered, attachments),
        summary,
        send_day,
        scheduled_for=scheduled_for,
        message_id=message_id,
        settings=settings,
        unsubscribe_token=unsubscribe_token,
    )


def kept_letter(
    message: Message,
    spec: CampaignSpec,
    step: StepSpec,
    contact: Contact,
    *,
    scheduled_for: datetime,
    settings: Settings,
) -> Letter:
    """The letter of a reviewer-edited ``message`` composed again for ``scheduled_for``: its
    text (and its attachments) are what a person approved and are kept as they are (only the
    Date moves). Raises :class:`OutreachError` for content refused in a header."""
    kept = RenderedEmail(
        message.subject,
        message.body.text,
        message.body.html,
        message.template or step.template,
        message.language,
    )
    return _composed(
        spec,
        step,
        contact,
        Enclosed(kept, attachments_in(message.body.raw)),
        dict(message.render_context),
        message.rendered_for or send_date(scheduled_for, contact.timezone, spec.timezone),
        scheduled_for=scheduled_for,
        message_id=message.message_id,
        settings=settings,
        unsubscribe_token=kept_token(message, settings),
    )


@dataclass(frozen=True)
class Enclosed:
    """A rendered e-mail with the attachments it carries."""

    rendered: RenderedEmail
    attachments: tuple[Attachment, ...]


def _composed(
    spec: CampaignSpec,
    step: StepSpec,
    contact: Contact,
    enclosed: Enclosed,
    summary: dict[str, Any],
    send_day: date,
    *,
    scheduled_for: datetime,
    message_id: str,
    settings: Settings,
    unsubscribe_token: str | None,
) -> Letter:
    """``enclosed`` composed to its final bytes: the :class:`Letter`."""
    rendered = enclosed.rendered
    raw, sha = compose_letter(
        campaign=spec,
        contact=contact,
        step_key=step.key,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        scheduled_for=scheduled_for,
        message_id=message_id,
        settings=settings,
        attachments=enclosed.attachments,
        unsubscribe_token=unsubscribe_token,
    )
    return Letter(rendered, summary, send_day, raw, sha, enclosed.attachments, unsubscribe_token)
