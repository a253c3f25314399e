"""The daemon imports every module its jobs import late before any job runs (jobs start
together on several threads; importing one package from two threads at once can deadlock or
see it half-initialised)."""

from __future__ import annotations

import ast
from pathlib import Path

import outreach.daemon as daemon

SOURCE = Path(daemon.__file__).read_text(encoding="utf-8")


def late_imports() -> set[str]:
    """The outreach modules daemon.py imports inside its functions."""
    found = set()
    for fn in ast.walk(ast.parse(SOURCE)):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("outreach"):
                    found.add(node.module)
    return found


def test_every_late_import_is_imported_before_the_jobs_start() -> None:
    late = late_imports()
    assert "outreach.dispatch.runner" in late  # the reader sees the daemon's late imports
    assert late <= set(daemon.JOB_MODULES), late - set(daemon.JOB_MODULES)


def test_both_ways_of_running_import_them_first() -> None:
    tree = ast.parse(SOURCE)
    for fn in ast.walk(tree):
        if isinstance(fn, ast.AsyncFunctionDef) and fn.name in ("run_once", "run_forever"):
            first_call = next(
                node
                for node in fn.body
                if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
            )
            assert ast.unparse(first_call.value) == "import_job_modules()", fn.name
