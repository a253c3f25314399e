"""``outreach demo`` explains its numbers: the sample has 42 contacts but 38 enrollments,
because 4 are not in the campaign's audience — the demo says so, and who."""

from __future__ import annotations

from pathlib import Path

from tests.cli import run_cli


def test_the_demo_says_why_42_contacts_give_38_enrollments(tmp_path: Path) -> None:
    result = run_cli("demo", "--dir", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "42 contacts" in out
    assert (
        "38 of the 42 contacts are in the campaign's audience (any of the tags: not-joined); "
        "the other 4 get no letters:" in out
    ), out
    assert "enrolled 38" in out
