"""Template operations: check every template the loaded campaigns use, the way planning will
use it (``campaign load`` only compiles them: :meth:`TemplateRenderer.check`).

The check compiles every template and PDF letter template, then renders — not only compiles —
every active step's template and each of its language variants (its PDF letter printed, its
files and calendar event attached, as a letter of that step would carry them), with the campaign's real context (milestones counted down to the step's own send
day, vars, sender) and a contact carrying a value for every known and custom column the loaded
contacts have (a made-up one when there are none), through the planner's own path
(:func:`outreach.planner.letters.make_letter`: the same strict sandbox, then composed). So a
misspelt attribute (``contact.nam``), a custom column no contact has or a sandbox violation
fails here, naming file and line, instead of at ``plan``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from outreach.db import Engine, session_scope
from outreach.errors import OutreachError
from outreach.models import Contact
from outreach.planner.letters import renderer_for
from outreach.planner.preview import sample_letter
from outreach.planner.selection import nominal_send
from outreach.repository.campaigns import list_campaigns, load_campaign
from outreach.repository.contacts import ContactProfile, contact_profile
from outreach.settings import Settings
from outreach.spec import CampaignSpec, StepSpec
from outreach.templating import SUFFIX, TemplateRenderer

#: The timestamps of the (never stored) sample contact.
NEVER = datetime.min.replace(tzinfo=UTC)

#: The contact templates are checked with when no contact is loaded yet.
SAMPLE_CONTACT = {
    "email": "someone@example.org",
    "name": "A. N. Other",
    "salutation": "Minister",
    "title": "Minister for Foreign Affairs",
    "organisation": "Ministry of Foreign Affairs",
    "country": "CH",
}


@dataclass(frozen=True)
class TemplateCheck:
    """What ``templates check`` found: how many templates the campaigns use, how many letters
    were rendered to check them, and one line per problem."""

    templates: int
    rendered: int
    problems: list[str]


def check_templates(engine: Engine, *, settings: Settings) -> TemplateCheck:
    """Compile every template the loaded campaigns' active steps use (each language variant
    too), their PDF letter templates included, then render each step's template and variants
    — its letter printed too — as planning would (see the module docstring). Problems are one
    line each, naming the campaign, step, file and line."""
    renderer = renderer_for(Path(settings.templates_dir))
    with session_scope(engine) as session:
        specs = [load_campaign(session, campaign=c).spec for c in list_campaigns(session)]
        profile = contact_profile(session)
    names = sorted({step.template for spec in specs for step in spec.steps})
    letters = sorted({step.letter for spec in specs for step in spec.steps if step.letter})
    problems: list[str] = []
    broken: set[str] = set()
    for name, document in [(n, False) for n in names] + [(n, True) for n in letters]:
        found = renderer.check(name, document=document)
        if found:
            broken.add(name)
        problems.extend(found)
    rendered = 0
    for spec in specs:
        for step in spec.steps:
            if broken.intersection((step.template, step.letter)):
                continue
            for language in step_languages(renderer, step):
                rendered += 1
                problem = _render_problem(renderer, spec, step, profile, language, settings)
                if problem is not None and problem not in problems:
                    problems.append(problem)
    return TemplateCheck(len(names) + len(letters), rendered, problems)


def step_languages(renderer: TemplateRenderer, step: StepSpec) -> list[str | None]:
    """Every language a letter of ``step`` can be written in: the default (``None``) and each
    variant of its template or of its PDF letter's template."""
    languages = variant_languages(renderer, step.template)
    if step.letter:
        languages += variant_languages(renderer, step.letter)
    return list(dict.fromkeys(languages))


def variant_languages(renderer: TemplateRenderer, template: str) -> list[str | None]:
    """The language each file of ``template`` is chosen for: ``None`` for the default file,
    the tag of each variant (``ccm/appeal.fr.j2`` → ``fr``)."""
    base = template.removesuffix(SUFFIX)
    return [
        None if name == f"{base}{SUFFIX}" else name[len(base) + 1 : -len(SUFFIX)]
        for name in renderer.variants(base)
    ]


def sample_contact(profile: ContactProfile, spec: CampaignSpec, language: str | None) -> Contact:
    """A contact (not stored) with a value in every column the loaded contacts use — or, when
    none is loaded, made-up ones — writing in ``language``, in the campaign's audience."""
    known = dict(profile.known) if profile.count else dict(SAMPLE_CONTACT)
    known.pop("language", None)
    return Contact(
        email=known.pop("email", SAMPLE_CONTACT["email"]),
        **known,
        language=language,
        tags=list(spec.audience_tags) or list(profile.tags),
        fields=dict(profile.fields),
        created_at=NEVER,
        updated_at=NEVER,
    )


def _render_problem(
    renderer: TemplateRenderer,
    spec: CampaignSpec,
    step: StepSpec,
    profile: ContactProfile,
    language: str | None,
    settings: Settings,
) -> str | None:
    """Render and compose ``step`` for a sample contact writing ``language``, for the day the
    step nominally leaves; the problem in one line, or None."""
    contact = sample_contact(profile, spec, language)
    scheduled = nominal_send(step, spec, contact.timezone)
    if scheduled is None:
        return f"{spec.slug}/{step.key}: cannot tell when it leaves (its chain of steps is broken)"
    try:
        sample_letter(
            renderer,
            spec,
            step,
            contact,
            scheduled_for=scheduled,
            unique="check",
            settings=settings,
        )
    except OutreachError as exc:
        return f"{spec.slug}/{step.key}: {exc.message}"
    return None
