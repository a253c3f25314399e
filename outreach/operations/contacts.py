"""Contact operations: import a contacts CSV, all-or-nothing unless told to skip bad rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from outreach.contacts import ContactRow, ParsedContacts, parse_contacts_csv
from outreach.db import Engine, session_scope
from outreach.errors import ContactImportError
from outreach.repository.campaigns import audience_tags
from outreach.repository.contacts import UpsertResult, upsert_contacts


@dataclass(frozen=True)
class ContactImport:
    """The parsed file (good rows and every problem), what the upsert did, and the tags the
    imported contacts carry that no campaign's audience uses (tag → how many contacts), with
    the tags audiences do use — a misspelt tag quietly takes a contact out of an audience."""

    parsed: ParsedContacts
    result: UpsertResult | None
    unused_tags: dict[str, int] = field(default_factory=dict)
    audience_tags: tuple[str, ...] = ()


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
) -> ContactImport:
    """Import a contacts CSV (fields separated by ``delimiter``; ``None``: detected). All or
    nothing by default: any bad row raises :class:`ContactImportError` counting the problems
    and the rows, and listing every problem, and nothing is written; with ``skip_invalid`` the
    good rows are imported and the bad ones reported."""
    parsed = parse_contacts_csv(Path(path), extra_tags=tags, progress=progress, delimiter=delimiter)
    if parsed.errors and not skip_invalid:
        lines = "\n".join(str(e) for e in parsed.errors)
        raise ContactImportError(
            f"{path}: {' in '.join(problem_counts(parsed))}, nothing imported "
            f"(--skip-invalid imports the good rows):\n{lines}"
        )
    with session_scope(engine) as session:
        result = upsert_contacts(session, parsed.rows, now=now)
        audience = audience_tags(session)
    return ContactImport(
        parsed, result, unused_tags(parsed.rows, audience), tuple(sorted(audience))
    )
