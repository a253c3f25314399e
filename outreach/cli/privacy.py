"""`outreach contacts erase|export`: a person's data erased or exported; every contact as CSV."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from outreach.cli.context import acting, app_context
from outreach.cli.options import NowOption
from outreach.cli.output import console, err_console, print_json
from outreach.errors import PrivacyError


def erase(
    ctx: typer.Context,
    emails: Annotated[
        list[str], typer.Argument(metavar="EMAIL…", help="The addresses of the people to erase.")
    ],
    reason: Annotated[
        str,
        typer.Option(
            "--reason", help="Why (the request and its date); recorded without the address."
        ),
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    now: NowOption = None,
) -> None:
    """Erase these people's data everywhere, keeping a keyed hash of each address (never
    written to again) and the funnel's counts; the right to erasure, GDPR article 17."""
    from outreach.privacy.erase import erase_people

    app_ = app_context(ctx)
    if not yes:
        what = f"erase everything held about {len(emails)} person(s), for good"
        if not sys.stdin.isatty():
            raise PrivacyError(f"this would {what}; add --yes to confirm")
        if not typer.confirm(f"{what}?", default=False):
            raise typer.Exit(1)
    report = erase_people(
        app_.engine(),
        emails,
        reason=reason,
        **acting(app_, now),
        settings=app_.settings,
    )
    if report.key_created is not None:
        err_console.print(
            f"created the erasure key {report.key_created} (mode 0600): back it up apart from "
            "the database, and give every host the same key (docs/personal-data.md)",
            markup=False,
        )
    c = report.counts
    console.print(
        f"erased {c.addresses} address(es): {c.contacts} contact(s), {c.letters} letter(s) "
        f"emptied ({c.cancelled} unsent cancelled), {c.inbound} received message(s) reduced, "
        f"{c.events} event(s) rewritten",
        markup=False,
    )
    if report.compacted is False:
        err_console.print(
            "the database file was rebuilt but its write-ahead log is still in use; it is "
            "cleared at the next checkpoint (stop the daemon and run the erasure again to force it)",
            markup=False,
        )


def export(
    ctx: typer.Context,
    email: Annotated[
        str | None,
        typer.Argument(metavar="[EMAIL]", help="Everything held about this person, as JSON."),
    ] = None,
    csv_: Annotated[
        bool, typer.Option("--csv", help="Every contact as CSV (safe to open in a spreadsheet).")
    ] = False,
    tag: Annotated[str | None, typer.Option("--tag", help="With --csv: only this tag.")] = None,
) -> None:
    """Everything held about one person as JSON (the right of access, GDPR article 15), or
    every contact as CSV."""
    from outreach.privacy.export import contacts_table, personal_data
    from outreach.repository.contacts import list_contacts
    from outreach.spreadsheet import write_csv

    app_ = app_context(ctx)
    if (email is None) == (not csv_):
        raise PrivacyError("give an address (one person, as JSON) or --csv (every contact)")
    with app_.session() as session:
        if email is not None:
            print_json(personal_data(session, email=email, settings=app_.settings))
            return
        columns, rows = contacts_table(list_contacts(session, tag=tag))
    write_csv(sys.stdout, columns, rows)


def register(app: typer.Typer) -> None:
    """Add ``erase`` and ``export`` to the ``contacts`` commands."""
    app.command("erase")(erase)
    app.command("export")(export)
