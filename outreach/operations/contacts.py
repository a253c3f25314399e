"""Contact operations: import a contacts CSV (all-or-nothing unless told to skip bad rows),
and search contacts with their enrollments and suppression."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from outreach.contacts import ContactRow, ParsedContacts, parse_contacts_csv
from outreach.db import Engine, Session, session_scope
from outreach.errors import ContactImportError, ErasureKeyError
from outreach.fieldcopy import same_named
from outreach.privacy.keys import current_check
from outreach.repository import contacts as rows
from outreach.repository.campaigns import audience_tags
from outreach.repository.contacts import UpsertResult, upsert_contacts
from outreach.repository.erasure import erased_tokens
from outreach.repository.suppressions import suppressions_of
from outreach.settings import Settings


@dataclass(frozen=True)
class ContactImport:
    """The parsed file (good rows and every problem), what the upsert did, and the tags the
    imported contacts carry that no campaign's audience uses (tag → how many contacts), with
    the tags audiences do use — a misspelt tag quietly takes a contact out of an audience — and
    the lines of rows not imported because their address was erased on request."""

    parsed: ParsedContacts
    result: UpsertResult | None
    unused_tags: dict[str, int] = field(default_factory=dict)
    audience_tags: tuple[str, ...] = ()
    erased_lines: tuple[int, ...] = ()


def unused_tags(rows: Iterable[ContactRow], audience: Collection[str]) -> dict[str, int]:
    """The tags of ``rows`` that are not in ``audience`` (tag → how many rows carry it, in
    first-seen order); empty when ``audience`` is (campaigns for everyone use no tags)."""
    if not audience:
        return {}
    counts: Counter[str] = Counter(tag for row in rows for tag in row.tags if tag not in audience)
    return dict(counts)


def problem_counts(parsed: ParsedContacts) -> tuple[str, str]:
    """("3 problems", "2 rows"): what was wrong with the file, counted both ways (a row may
    have several problems)."""
    return _counted(len(parsed.errors), "problem"), _counted(parsed.bad_rows, "row")


def _counted(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def import_contacts(
    engine: Engine,
    path: Path,
    *,
    now: datetime,
    skip_invalid: bool = False,
    tags: tuple[str, ...] = (),
    progress: Callable[[int], None] | None = None,
    delimiter: str | None = None,
    settings: Settings | None = None,
) -> ContactImport:
    """Import a contacts CSV (fields separated by ``delimiter``; ``None``: detected). All or
    nothing by default: any bad row raises :class:`ContactImportError` counting the problems
    and the rows, and listing every problem, and nothing is written; with ``skip_invalid`` the
    good rows are imported and the bad ones reported.

    A row whose address was erased (``contacts erase``) is never imported: it is left out and
    its line reported. Checking needs the erasure key from ``settings``; without settings, an
    import into a database with erasures on record is refused (:class:`ErasureKeyError`)."""
    parsed = parse_contacts_csv(Path(path), extra_tags=tags, progress=progress, delimiter=delimiter)
    if parsed.errors and not skip_invalid:
        lines = "\n".join(str(e) for e in parsed.errors)
        raise ContactImportError(
            f"{path}: {' in '.join(problem_counts(parsed))}, nothing imported "
            f"(--skip-invalid imports the good rows):\n{lines}"
        )
    with session_scope(engine) as session:
        rows, erased = _without_erased(session, parsed, settings)
        result = upsert_contacts(session, rows, now=now)
        audience = audience_tags(session)
    return ContactImport(
        parsed, result, unused_tags(rows, audience), tuple(sorted(audience)), erased
    )


def _without_erased(
    session: Session, parsed: ParsedContacts, settings: Settings | None
) -> tuple[tuple[ContactRow, ...], tuple[int, ...]]:
    """The rows to import, and the lines of the rows left out as erased."""
    if settings is None:
        if erased_tokens(session):
            raise ErasureKeyError("erasures are on record: an import must be checked against them")
        return parsed.rows, ()
    gone = current_check(session, settings).erased(r.email for r in parsed.rows)
    kept = tuple(r for r in parsed.rows if r.email not in gone)
    return kept, tuple(r.line for r in parsed.rows if r.email in gone)


@dataclass(frozen=True)
class ContactView:
    """A contact as the console lists it: who, its enrollment per campaign, and why it is
    suppressed (None when it is not)."""

    id: int
    email: str
    name: str | None
    organisation: str | None
    country: str | None
    language: str | None
    tags: tuple[str, ...]
    enrollments: tuple[tuple[str, str], ...]  #: (campaign slug, enrollment status)
    suppressed: str | None


def search_contacts(
    session: Session, *, text: str | None = None, limit: int = 200
) -> list[ContactView]:
    """Contacts whose email, name or organisation contains ``text`` (all of them without it),
    by email, at most ``limit``, with their enrollments and suppression."""
    found = rows.search_contacts(session, text=(text or "").strip(), limit=limit)
    ids = [c.id for c in found if c.id is not None]
    enrolled: dict[int, list[tuple[str, str]]] = {}
    for e in rows.enrollments_of(session, contact_ids=ids):
        enrolled.setdefault(e.contact_id, []).append((e.campaign, e.status))
    suppressed = {s.email: s for s in suppressions_of(session, emails=[c.email for c in found])}
    return [
        same_named(
            ContactView,
            c,
            tags=tuple(c.tags),
            enrollments=tuple(enrolled.get(c.id, ())),
            suppressed=(suppressed[c.email].reason if c.email in suppressed else None),
        )
        for c in found
        if c.id is not None
    ]
