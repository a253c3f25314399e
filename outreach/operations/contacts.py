"""Contact operations: import a contacts CSV, all-or-nothing unless told to skip bad rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from outreach.contacts import ParsedContacts, parse_contacts_csv
from outreach.db import Engine, session_scope
from outreach.errors import ContactImportError
from outreach.repository.contacts import UpsertResult, upsert_contacts


@dataclass(frozen=True)
class ContactImport:
    """The parsed file (good rows and every problem) and what the upsert did."""

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
