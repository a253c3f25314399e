"""`outreach contacts …`: import and list."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, TextColumn

from outreach.cli.context import app_context, clock_option
from outreach.cli.options import JsonOption, NowOption
from outreach.cli.output import console, err_console, print_json, stderr_progress, table
from outreach.fieldcopy import attributes

if TYPE_CHECKING:
    from outreach.operations.contacts import ContactImport

app = typer.Typer(no_args_is_help=True)


@app.command("import")
def import_(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A UTF-8 CSV file with an email column.")],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the good rows, report the bad ones.")
    ] = False,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", help="Add this tag to every imported contact (repeatable)."),
    ] = None,
    delimiter: Annotated[
        str | None,
        typer.Option(
            "--delimiter",
            help="The field separator, e.g. ';' or 'tab' (default: read from the header line).",
            show_default=False,
        ),
    ] = None,
    now: NowOption = None,
) -> None:
    """Import contacts: all-or-nothing unless --skip-invalid; existing contacts are updated.
    Fields separated by ',' or ';' (or tabs), told apart by the header line; tags by ';' or
    ','."""
    from outreach.operations.contacts import import_contacts

    app_ = app_context(ctx)
    engine = app_.engine()
    total = None
    if sys.stderr.isatty():
        with open(path, "rb") as fh:
            total = max(sum(1 for _ in fh) - 1, 0)
    with stderr_progress(
        TextColumn("importing"), BarColumn(), TextColumn("{task.completed} rows")
    ) as bar:
        task = bar.add_task("import", total=total)
        result = import_contacts(
            engine,
            path,
            now=clock_option(now).now(),
            skip_invalid=skip_invalid,
            tags=tuple(tag or ()),
            progress=lambda n: bar.update(task, completed=n),
            delimiter="\t" if delimiter == "tab" else delimiter,
            settings=app_.settings,
        )
    _print_import(path, result)


def _print_import(path: Path, result: ContactImport) -> None:
    """What an import did: each skipped problem, the counts, a warning per tag no campaign's
    audience uses."""
    from outreach.operations.contacts import problem_counts

    for error in result.parsed.errors:
        err_console.print(f"skipped: {error}", markup=False)
    for line in result.erased_lines:
        err_console.print(f"not imported: {path}, line {line}: erased on request", markup=False)
    r = result.result
    assert r is not None
    problems, rows = problem_counts(result.parsed)
    skipped = f", {rows} skipped ({problems})" if result.parsed.errors else ""
    console.print(
        f"{path}: {r.created} created, {r.updated} updated, {r.unchanged} unchanged{skipped}"
        + (f", {len(result.erased_lines)} erased" if result.erased_lines else ""),
        markup=False,
    )
    used = ", ".join(result.audience_tags)
    for name, n in result.unused_tags.items():
        err_console.print(
            f"warning: tag {name!r} ({n} contact{'s' if n != 1 else ''}) is in no campaign's "
            f"audience (audiences use: {used})",
            markup=False,
        )


@app.command("list")
def list_(
    ctx: typer.Context,
    tag: Annotated[str | None, typer.Option("--tag", help="Only contacts with this tag.")] = None,
    json_: JsonOption = False,
) -> None:
    """The contacts, by email."""
    from outreach.contacts import KNOWN_COLUMNS
    from outreach.repository.contacts import list_contacts

    with app_context(ctx).session() as session:
        rows = list_contacts(session, tag=tag)
    if json_:
        print_json([attributes(c, *KNOWN_COLUMNS, "fields") for c in rows])
        return
    columns = ("email", "name", "organisation", "country", "language", "timezone", "tags")
    listed = [
        (
            c.email,
            c.name or "",
            c.organisation or "",
            c.country or "",
            c.language or "",
            c.timezone or "",
            ";".join(c.tags),
        )
        for c in rows
    ]
    console.print(table(columns, listed))
    console.print(f"{len(rows)} contact(s)")
