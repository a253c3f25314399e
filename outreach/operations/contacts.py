"""Contact operations: import a contacts CSV, all-or-nothing unless told to skip bad rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from outreach.contacts import ContactRow, ParsedContacts, parse_contacts_csv
from outreach.db import Engine, Session, session_scope
from outreach.errors import ContactImportError, ErasureKeyError
from outreach.privacy.keys import current_check
from outreach.repository.contacts import UpsertResult, upsert_contacts
from outreach.repository.erasure import erased_tokens
from outreach.settings import Settings


@dataclass(frozen=True)
class ContactImport:
    """The parsed file (good rows and every problem), what the upsert did, and the lines of
    rows not imported because their address was erased on request."""

    parsed: ParsedContacts
    result: UpsertResult | None
    erased_lines: tuple[int, ...] = ()


def import_contacts(
    engine: Engine,
    path: Path,
    *,
    now: datetime,
    skip_invalid: bool = False,
    tags: tuple[str, ...] = (),
    progress: Callable[[int], None] | None = None,
    settings: Settings | None = None,
) -> ContactImport:
    """Import a contacts CSV. All-or-nothing by default: any bad row raises
    :class:`ContactImportError` listing every bad row and nothing is written; with
    ``skip_invalid`` the good rows are imported and the bad ones reported.

    A row whose address was erased (``contacts erase``) is never imported: it is left out and
    its line reported. Checking needs the erasure key from ``settings``; without settings, an
    import into a database with erasures on record is refused (:class:`ErasureKeyError`)."""
    parsed = parse_contacts_csv(Path(path), extra_tags=tags, progress=progress)
    if parsed.errors and not skip_invalid:
        lines = "\n".join(str(e) for e in parsed.errors)
        raise ContactImportError(
            f"{path}: {len(parsed.errors)} bad row(s), nothing imported "
            f"(--skip-invalid imports the good rows):\n{lines}"
        )
    with session_scope(engine) as session:
        rows, erased = _without_erased(session, parsed, settings)
        result = upsert_contacts(session, rows, now=now)
    return ContactImport(parsed, result, erased)


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
