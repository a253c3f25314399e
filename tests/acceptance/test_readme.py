"""The README's commands cannot rot: every `outreach …` command it shows exists and takes its
options, and the quick start's make targets exist (CI runs `make test` and `make demo`)."""

from __future__ import annotations

import re
import shlex

import pytest

from tests.cli import REPO, run_cli

README = (REPO / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(?:sh|console|bash)?\n(.*?)```", README, re.S)
COMMANDS = sorted(
    {
        line.split("#", 1)[0].strip()
        for block in BLOCKS
        for line in block.splitlines()
        if line.strip().startswith("outreach ")
    }
)


def test_quick_start_is_exactly_two_make_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    block = re.search(r"```sh\n(.*?)```", quick, re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_readme_shows_commands() -> None:
    assert len(COMMANDS) >= 15


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_exists_with_its_options(command: str) -> None:
    words = shlex.split(command)[1:]
    path = [w for w in words if not w.startswith("-")]
    # the command path is the leading words that are subcommands: try longest first
    for n in (2, 1):
        result = run_cli(*path[:n], "--help")
        if result.returncode == 0 and "Usage:" in result.stdout:
            help_text = result.stdout
            break
    else:
        pytest.fail(f"README command not found: {command}")
    for option in (w.split("=")[0] for w in words if w.startswith("--")):
        assert option in help_text, f"{command}: {option} is not an option"
