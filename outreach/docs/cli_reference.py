"""``docs/cli.md``: every command of the ``outreach`` CLI, read from the Typer app — its usage,
its help and each argument and option as ``--help`` shows them."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import typer

INTRO = """\
# Command-line reference

Generated from the commands themselves by `python -m outreach.docs` (a test keeps it current):
what `outreach COMMAND --help` prints, for every command. Conventions every command follows:
exit 0 on success, 1 on a user error (one line on stderr, no traceback), 2 on a usage error;
`--json` prints stable JSON (sorted keys, fields only ever added); `--csv` prints CSV whose cells
a spreadsheet never runs as formulas; `--now ISO-8601` pins the clock for a preview or a test.
The actor recorded for a change is the OS login (`--reviewer` or `OUTREACH_REVIEWER` for
review actions).
"""


def _commands(command: Any, ctx: typer.Context) -> Iterator[tuple[Any, typer.Context]]:
    """Every leaf command under ``command`` with its context, in the order ``--help`` lists
    them."""
    children = getattr(command, "commands", None)
    if children is None:
        yield command, ctx
        return
    for name in command.list_commands(ctx):
        child = children[name]
        yield from _commands(child, typer.Context(child, info_name=name, parent=ctx))


def _options(command: Any, ctx: typer.Context) -> list[str]:
    rows = []
    for param in command.params:
        record = param.get_help_record(ctx)
        if record is None or record[0] == "--help":
            continue
        names, help_text = record
        rows.append(f"| `{_cell(names)}` | {_cell(help_text)} |")
    if not rows:
        return []
    return ["| argument / option | meaning |", "|---|---|", *rows, ""]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _section(command: Any, ctx: typer.Context) -> list[str]:
    usage = " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])
    help_text = inspect.cleandoc(command.help or "")
    return [
        f"## `{ctx.command_path}`",
        "",
        " ".join(help_text.split()),
        "",
        f"    {usage}",
        "",
        *_options(command, ctx),
    ]


def render(app: typer.Typer) -> str:
    """The whole of ``docs/cli.md`` for ``app``."""
    root = typer.main.get_command(app)
    ctx = typer.Context(root, info_name="outreach")
    lines = [INTRO, "## `outreach` itself", "", *_options(root, ctx)]
    for command, command_ctx in _commands(root, ctx):
        lines.extend(_section(command, command_ctx))
    return "\n".join(lines).rstrip("\n") + "\n"
