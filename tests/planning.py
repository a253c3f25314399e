"""Helpers for tests that load the sample campaign and contacts into a database."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from outreach.operations.campaigns import load_campaigns
from outreach.operations.contacts import import_contacts
from outreach.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CAMPAIGN = REPO / "config" / "campaigns" / "ccm-2010.toml"
SAMPLE_CONTACTS = REPO / "config" / "contacts" / "ccm-2010-sample.csv"


def sample_settings(db_url: str, **overrides) -> Settings:
    values = {
        "database_url": db_url,
        "templates_dir": REPO / "templates",
        "campaigns_dir": REPO / "config" / "campaigns",
        **overrides,
    }
    return load_settings(env={}, **values)


def load_sample(
    engine: Engine, settings: Settings, now: datetime, campaign: Path = SAMPLE_CAMPAIGN
) -> None:
    load_campaigns(engine, campaign, settings=settings, now=now, actor="test")
    import_contacts(engine, SAMPLE_CONTACTS, now=now)
