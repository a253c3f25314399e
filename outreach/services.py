"""Operations the CLI, the daemon and the demo share: each one call, one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import select

from outreach.campaigns import load_campaign_path
from outreach.contacts import ParsedContacts, parse_contacts_csv
from outreach.db import session_scope
from outreach.errors import ContactImportError
from outreach.models import Campaign, Step
from outreach.planner import renderer_for, replan
from outreach.repository.campaigns import (
    SaveResult,
    load_campaign,
    save_campaign,
    set_campaign_state,
)
from outreach.repository.contacts import UpsertResult, upsert_contacts
from outreach.settings import Settings


@dataclass(frozen=True)
class CampaignLoad:
    result: SaveResult
    replanned: dict[str, int]


def load_campaigns(
    engine: Engine, path: Path, *, settings: Settings, now: datetime, actor: str
) -> list[CampaignLoad]:
    """Validate every campaign file under ``path`` completely, then save them all in one
    transaction (and re-plan unsent messages a change affects). A bad file raises
    :class:`~outreach.errors.CampaignFileError` and nothing is written."""
    specs = load_campaign_path(Path(path), templates_dir=Path(settings.templates_dir))
    out = []
    with session_scope(engine) as session:
        for spec in specs:
            result = save_campaign(session, spec, now=now, actor=actor)
            replanned = {}
            if result.action == "updated":
                campaign = session.get(Campaign, result.campaign_id)
                assert campaign is not None
                replanned = replan(
                    session,
                    load_campaign(session, campaign=campaign),
                    now=now,
                    settings=settings,
                    actor=actor,
                )
            out.append(CampaignLoad(result, replanned))
    return out


@dataclass(frozen=True)
class ContactImport:
    parsed: ParsedContacts
    result: UpsertResult | None


def import_contacts(
    engine: Engine,
    path: Path,
    *,
    now: datetime,
    skip_invalid: bool = False,
    tags: tuple[str, ...] = (),
    progress: Callable[[int], None] | None = None,
) -> ContactImport:
    """Import a contacts CSV. All-or-nothing by default: any bad row raises
    :class:`ContactImportError` listing every bad row and nothing is written; with
    ``skip_invalid`` the good rows are imported and the bad ones reported."""
    parsed = parse_contacts_csv(Path(path), extra_tags=tags, progress=progress)
    if parsed.errors and not skip_invalid:
        lines = "\n".join(str(e) for e in parsed.errors)
        raise ContactImportError(
            f"{path}: {len(parsed.errors)} bad row(s), nothing imported "
            f"(--skip-invalid imports the good rows):\n{lines}"
        )
    with session_scope(engine) as session:
        result = upsert_contacts(session, parsed.rows, now=now)
    return ContactImport(parsed, result)


def check_templates(engine: Engine, *, settings: Settings) -> tuple[int, list[str]]:
    """Compile every template the loaded campaigns use (each language variant too).
    Returns (templates checked, one line per problem)."""
    renderer = renderer_for(Path(settings.templates_dir))
    with session_scope(engine) as session:
        names = sorted(set(session.exec(select(Step.template).where(Step.active == True))))  # noqa: E712
    errors: list[str] = []
    for name in names:
        errors.extend(renderer.check(name))
    return len(names), errors


def pause_campaign(engine: Engine, *, slug: str, paused: bool, now: datetime, actor: str) -> bool:
    with session_scope(engine) as session:
        return set_campaign_state(
            session, slug=slug, state="paused" if paused else "active", now=now, actor=actor
        )
