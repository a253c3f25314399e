"""The project's documentation cannot rot: the generated references (docs/cli.md from the
Typer app, docs/settings.md from the settings class, the tables of docs/lifecycle.md from
outreach/states.py) are current; every link between the README, the docs and the files that
point into them lands on a file and heading that exist; every command they show exists with
its options; the README stays a short tour that links into docs/."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from outreach.docs.settings_reference import missing_meanings
from outreach.settings import Settings
from tests.cli import REPO, run_cli

DOCS = REPO / "docs"
PAGES = sorted(DOCS.glob("*.md"))
WRITTEN = [p for p in PAGES if p.name not in ("cli.md", "settings.md")]
README = REPO / "README.md"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
#: A mention of a docs page in code, config or comments: docs/operations.md#backups
MENTION = re.compile(r"\bdocs/([\w-]+\.md)(#[\w-]+)?")


def docs_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "outreach.docs", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


def code_lines(page: Path) -> list[str]:
    blocks = re.findall(
        r"```(?:sh|console|bash)?\n(.*?)```", page.read_text(encoding="utf-8"), re.S
    )
    return [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()]


# --- generated references ----------------------------------------------------------------------


def test_the_generated_references_are_current() -> None:
    result = docs_cli("--check")
    assert result.returncode == 0, result.stderr + "\nrun: .venv/bin/python -m outreach.docs"


def test_a_stale_reference_is_named_and_rewritten(tmp_path: Path) -> None:
    shutil.copy(DOCS / "lifecycle.md", tmp_path / "lifecycle.md")
    (tmp_path / "cli.md").write_text("# Command-line reference\n\nold\n", encoding="utf-8")
    stale = docs_cli("--check", str(tmp_path))
    assert stale.returncode == 1
    assert f"{tmp_path / 'cli.md'}: out of date" in stale.stderr
    assert f"{tmp_path / 'settings.md'}: out of date" in stale.stderr
    assert "lifecycle.md" not in stale.stderr
    assert (
        (tmp_path / "cli.md").read_text(encoding="utf-8").endswith("old\n")
    )  # --check writes nothing
    assert docs_cli(str(tmp_path)).returncode == 0
    assert docs_cli("--check", str(tmp_path)).returncode == 0
    assert (tmp_path / "cli.md").read_text(encoding="utf-8") == (DOCS / "cli.md").read_text(
        encoding="utf-8"
    )


def test_every_setting_and_command_is_documented() -> None:
    assert missing_meanings() == []
    settings = (DOCS / "settings.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`OUTREACH_{name.upper()}`" in settings
    cli = (DOCS / "cli.md").read_text(encoding="utf-8")
    for command in ("contacts erase", "contacts export", "campaign archive", "backup", "status"):
        assert f"## `outreach {command}`" in cli
    assert "`--check`" in cli and "`--smtp-host <str>`" in cli


def test_the_lifecycle_tables_come_from_the_states_module() -> None:
    from outreach.states import MessageStatus

    text = (DOCS / "lifecycle.md").read_text(encoding="utf-8")
    for status in MessageStatus:
        assert f"| `{status.value}` |" in text


# --- links -------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.name)
def test_every_link_lands(page: Path) -> None:
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target}"
        if anchor:
            assert anchor in anchors(linked), f"{page.name}: {target}: no such heading"


def test_every_mention_of_a_docs_page_in_the_code_and_config_lands() -> None:
    files = [*REPO.glob("outreach/**/*.py"), *REPO.glob("config/*"), *REPO.glob("tests/**/*.py")]
    files += [REPO / "Dockerfile", REPO / "docker-compose.yml", REPO / ".ci" / "run"]
    seen = 0
    for file in files:
        if not file.is_file():
            continue
        for name, anchor in MENTION.findall(file.read_text(encoding="utf-8")):
            seen += 1
            assert (DOCS / name).is_file(), f"{file.relative_to(REPO)}: docs/{name}"
            if anchor:
                assert anchor[1:] in anchors(DOCS / name), f"{file.relative_to(REPO)}: {anchor}"
    assert seen >= 5


def test_the_index_lists_every_page_and_the_readme_links_into_docs() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for page in PAGES:
        if page.name != "index.md":
            assert f"]({page.name})" in index, page.name
    readme = README.read_text(encoding="utf-8")
    assert "design document" not in readme
    assert "](docs/index.md)" in readme
    assert len(readme.splitlines()) < 220, "the README stays a short tour"


def test_the_units_documentation_is_in_the_repository() -> None:
    unit = (REPO / "config" / "outreach.service").read_text(encoding="utf-8")
    [documentation] = re.findall(r"^Documentation=file:///srv/outreach/(.+)$", unit, re.M)
    assert (REPO / documentation).is_file()


# --- commands ----------------------------------------------------------------------------------


def commands() -> list[str]:
    found = set()
    for page in [README, *WRITTEN]:
        for line in code_lines(page):
            if line.startswith("outreach "):
                found.add(line)
            elif line.startswith("docker compose run --rm outreach "):
                found.add(line.removeprefix("docker compose run --rm "))
    return sorted(found)


def test_the_docs_show_commands() -> None:
    assert len(commands()) >= 30


@pytest.mark.parametrize("command", commands())
def test_every_command_shown_exists_with_its_options(command: str) -> None:
    words = shlex.split(command)[1:]
    path = [w for w in words if not w.startswith(("-", "["))]
    for n in (2, 1):
        result = run_cli(*path[:n], "--help")
        if result.returncode == 0 and "Usage:" in result.stdout:
            break
    else:
        pytest.fail(f"not a command: {command}")
    for option in (w.split("=")[0] for w in words if w.startswith("--")):
        assert option in result.stdout, f"{command}: {option} is not an option"
