"""``python -m outreach.docs [--check] [DOCS]``: write the generated parts of the docs folder
(default: the checkout's ``docs/``); with ``--check``, write nothing and exit 1 naming each
file that is out of date."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from outreach.docs import cli_reference, lifecycle_reference, settings_reference

DOCS = Path(__file__).resolve().parents[2] / "docs"


def generated() -> dict[str, Callable[[str], str]]:
    """Each generated file's name → what it should hold, given what it holds now."""
    from outreach.cli import app

    return {
        "cli.md": lambda _old: cli_reference.render(app),
        "settings.md": lambda _old: settings_reference.render(),
        "lifecycle.md": lifecycle_reference.fill,
    }


def stale(docs: Path) -> dict[Path, str]:
    """The files under ``docs`` whose content is not what it should be, with that content."""
    out = {}
    for name, make in generated().items():
        path = docs / name
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        new = make(old)
        if new != old:
            out[path] = new
    return out


def main(argv: list[str]) -> int:
    check = "--check" in argv
    folders = [a for a in argv if not a.startswith("--")]
    docs = Path(folders[0]) if folders else DOCS
    changed = stale(docs)
    for path, text in changed.items():
        if check:
            print(f"{path}: out of date; run python -m outreach.docs", file=sys.stderr)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
