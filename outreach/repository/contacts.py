"""Contact rows: batched upserts from parsed CSV rows, and listing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from outreach.contacts import ContactRow
from outreach.models import Contact


@dataclass(frozen=True)
class UpsertResult:
    created: int
    updated: int
    unchanged: int


_CONTACT_FIELDS = ("name", "salutation", "title", "organisation", "country", "language", "timezone")


def upsert_contacts(
    session: Session, rows: Sequence[ContactRow], *, now: datetime, batch: int = 1000
) -> UpsertResult:
    """Insert new contacts and update existing ones (matched by normalised email), in batches.
    Tags given in the file replace the contact's tags; custom fields are merged."""
    created = updated = unchanged = 0
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        emails = [r.email for r in chunk]
        existing = {
            c.email: c for c in session.exec(select(Contact).where(Contact.email.in_(emails)))
        }
        new_rows = []
        for r in chunk:
            c = existing.get(r.email)
            if c is None:
                new_rows.append(
                    {
                        "email": r.email,
                        **{f: getattr(r, f) for f in _CONTACT_FIELDS},
                        "tags": list(r.tags),
                        "fields": dict(r.fields),
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                continue
            changed = False
            for f in _CONTACT_FIELDS:
                if getattr(r, f) is not None and getattr(c, f) != getattr(r, f):
                    setattr(c, f, getattr(r, f))
                    changed = True
            if list(r.tags) and list(c.tags) != list(r.tags):
                c.tags = list(r.tags)
                changed = True
            merged = {**c.fields, **r.fields}
            if merged != c.fields:
                c.fields = merged
                changed = True
            if changed:
                c.updated_at = now
                updated += 1
            else:
                unchanged += 1
        if new_rows:
            session.execute(sa.insert(Contact), new_rows)
            created += len(new_rows)
        session.flush()
    return UpsertResult(created, updated, unchanged)


def list_contacts(session: Session, *, tag: str | None = None) -> list[Contact]:
    contacts = list(session.exec(select(Contact).order_by(Contact.email)))
    if tag is not None:
        wanted = tag.lower()
        contacts = [c for c in contacts if any(t.lower() == wanted for t in c.tags)]
    return contacts


@dataclass(frozen=True)
class ContactProfile:
    """What the loaded contacts carry, for checking templates against: how many there are, a
    value some contact has in each known column (name, salutation, …), a value for each custom
    field any contact has, and every tag used."""

    count: int
    known: dict[str, str]
    fields: dict[str, Any]
    tags: tuple[str, ...]


def contact_profile(session: Session, *, page: int = 1000) -> ContactProfile:
    """The :class:`ContactProfile` of every contact (read ``page`` rows at a time)."""
    columns = [getattr(Contact, name) for name in _CONTACT_FIELDS]
    query = sa.select(*columns, Contact.tags, Contact.fields).execution_options(yield_per=page)
    count = 0
    known: dict[str, str] = {}
    fields: dict[str, Any] = {}
    tags: dict[str, None] = {}
    for row in session.execute(query):
        count += 1
        for name in _CONTACT_FIELDS:
            value = getattr(row, name)
            if value and name not in known:
                known[name] = value
        for key, value in (row.fields or {}).items():
            if key not in fields or (value not in (None, "") and fields[key] in (None, "")):
                fields[key] = value
        tags.update(dict.fromkeys(row.tags or ()))
    return ContactProfile(count, known, fields, tuple(tags))
