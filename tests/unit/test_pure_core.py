"""The pure core stays pure: countdowns, due dates, retry decisions, classification and the
state table import no database, network or scheduler code and never read the clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "outreach"
PURE = [
    "states.py",
    "countdown.py",
    "retry.py",
    "headersafe.py",
    "campaigns.py",
    "campaign_fields.py",
    "campaign_steps.py",
    "campaign_letters.py",
    "attachments/sniff.py",
    "attachments/filenames.py",
    "attachments/calendar.py",
    "attachments/listing.py",
    "contacts.py",
    "contact_fields.py",
    "spec.py",
    "htmltext.py",
    "review/rules.py",
    "review/editfile.py",
    "replies/body.py",
    "replies/charset.py",
    "planner/selection.py",
    "dispatch/policy.py",
    "dispatch/checks.py",
    "dispatch/values.py",
    "replies/classify.py",
    "replies/dsn.py",
    "replies/effects.py",
    "replies/guards.py",
    "replies/headers.py",
    "replies/limits.py",
    "replies/lookup.py",
    "replies/parse.py",
    "replies/plain.py",
    "replies/prepare.py",
    "replies/report.py",
    "replies/snippet.py",
    "identity.py",
    "fieldcopy.py",
    "tokens.py",
    "unsubscribe_links.py",
    "accounts/policy.py",
    "compose/encoding.py",
    "compose/message.py",
    "compose/readback.py",
    "templating/languages.py",
    "planner/report.py",
    "replies/evidence.py",
    "replies/result.py",
    "replies/bounce_text.py",
    "replies/bounce_markers.py",
    "replies/bounce_verdict.py",
    "replies/ses.py",
    "replies/boundary.py",
    "replies/undo.py",
    "planner/uncancel.py",
    "health.py",
    "spreadsheet.py",
    "privacy/tokens.py",
    "privacy/redact.py",
]
FORBIDDEN_IMPORTS = (
    "sqlalchemy",
    "sqlmodel",
    "aiosmtplib",
    "imapclient",
    "apscheduler",
    "socket",
    "outreach.db",
    "outreach.models",
    "outreach.repository",
    "outreach.lifecycle",
)
CLOCK_READS = ("now", "utcnow", "today", "time", "monotonic")


@pytest.mark.parametrize("name", PURE)
def test_pure_module_has_no_io_imports_or_clock_reads(name: str) -> None:
    tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mods = [node.module or ""]
        else:
            mods = []
        for mod in mods:
            assert not mod.startswith(FORBIDDEN_IMPORTS), f"{name} imports {mod}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if (
                owner_name in ("datetime", "date", "time", "_time")
                and node.func.attr in CLOCK_READS
            ):
                pytest.fail(
                    f"{name}:{node.lineno} reads the clock ({owner_name}.{node.func.attr}())"
                )
