"""The shape of the code, kept by tests (read from the source with ast, nothing imported):
SQL only in the repository layer, modules and functions of a readable size, unit tests free of
I/O, and docs/code-map.md naming every module under outreach/."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "outreach"
#: The repository layer: the only modules that may import sqlalchemy or sqlmodel.
REPOSITORY_LAYER = ("repository/", "lifecycle.py", "db.py", "models.py", "migrations/")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 100
LONG_FUNCTION_LINES = 60
MAX_LONG_FUNCTIONS = 8


def package_modules() -> list[str]:
    """Every module under outreach/ as a path relative to it (``dispatch/engine.py``)."""
    return sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py"))


def parse(relative: str) -> ast.Module:
    return ast.parse((PACKAGE / relative).read_text(encoding="utf-8"))


def imported_modules(tree: ast.Module) -> set[str]:
    """The modules a tree imports (``from x import y`` gives ``x`` and ``x.y``)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def functions(tree: ast.Module) -> list[tuple[str, int]]:
    """(name, length in lines) of every function and method in a tree."""
    return [
        (node.name, node.end_lineno - node.lineno + 1)  # type: ignore[operator]
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


OUTSIDE_MIGRATIONS = [m for m in package_modules() if not m.startswith("migrations/")]


@pytest.mark.parametrize(
    "module", [m for m in package_modules() if not m.startswith(REPOSITORY_LAYER)]
)
def test_only_the_repository_layer_imports_sqlalchemy(module: str) -> None:
    """Stages, services and the CLI get ``Session``/``Engine`` from outreach.db and run their
    queries through outreach/repository/ (and state changes through outreach/lifecycle.py)."""
    found = sorted(
        name
        for name in imported_modules(parse(module))
        if name.split(".")[0] in ("sqlalchemy", "sqlmodel")
    )
    assert found == [], f"outreach/{module} imports {', '.join(found)}"


def test_no_module_over_500_lines() -> None:
    sizes = {
        m: len((PACKAGE / m).read_text(encoding="utf-8").splitlines()) for m in OUTSIDE_MIGRATIONS
    }
    assert {m: n for m, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_no_function_over_100_lines_and_few_over_60() -> None:
    lengths = {f"{m}:{name}": n for m in OUTSIDE_MIGRATIONS for name, n in functions(parse(m))}
    assert {f: n for f, n in lengths.items() if n > MAX_FUNCTION_LINES} == {}
    long = {f: n for f, n in lengths.items() if n > LONG_FUNCTION_LINES}
    assert len(long) <= MAX_LONG_FUNCTIONS, long


# --- unit tests stay unit tests ------------------------------------------------------------

UNIT = Path(__file__).resolve().parent
#: What a unit test may not import: databases, servers, processes, sockets, and the test kits
#: that bring them.
IO_IMPORTS = (
    "subprocess",
    "socket",
    "sqlalchemy",
    "sqlmodel",
    "aiosmtplib",
    "aiosmtpd",
    "imapclient",
    "outreach.db",
    "outreach.repository",
    "outreach.lifecycle",
    "outreach.smtpsink",
    "outreach.daemon",
    "outreach.demo",
    "outreach.cli",
    "outreach.operations",
    "tests.cli",
    "tests.dovecot",
    "tests.factories",
    "tests.planning",
    "tests.integration",
    "tests.acceptance",
)
#: Fixtures that hand a test a database or a folder to write in.
IO_FIXTURES = frozenset({"db", "empty_db", "sqlite_db", "pg_db", "tmp_path", "tmp_path_factory"})
FILE_WRITES = frozenset({"write_text", "write_bytes", "mkdir", "unlink", "touch", "rmdir"})


@pytest.mark.parametrize("name", sorted(p.name for p in UNIT.glob("test_*.py")))
def test_unit_tests_do_no_io(name: str) -> None:
    """tests/unit: no database, no sockets, no subprocesses, no files written (a test may read
    its own input from tests/fixtures); anything else goes to tests/integration."""
    tree = ast.parse((UNIT / name).read_text(encoding="utf-8"))
    bad_imports = sorted(
        m
        for m in imported_modules(tree)
        if any(m == io or m.startswith(io + ".") for io in IO_IMPORTS)
    )
    assert bad_imports == [], f"{name} imports {', '.join(bad_imports)}"
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            used = {a.arg for a in node.args.args} & IO_FIXTURES
            assert not used, f"{name}:{node.lineno} {node.name} uses {', '.join(sorted(used))}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in FILE_WRITES, f"{name}:{node.lineno} {node.func.attr}()"


def test_no_test_module_is_a_helper() -> None:
    """Helpers live in kits (``tests/factories.py``, ``tests/integration/dispatch_kit.py`` …);
    nothing imports a ``test_*`` module."""
    imports = {
        f"{path.relative_to(REPO)}: {name}"
        for path in (REPO / "tests").rglob("*.py")
        for name in imported_modules(ast.parse(path.read_text(encoding="utf-8")))
        if name.startswith("tests.") and any(p.startswith("test_") for p in name.split("."))
    }
    assert sorted(imports) == []


# --- the map of the code ---------------------------------------------------------------------

CODE_MAP = REPO / "docs" / "code-map.md"
#: A module named in the map: ``outreach/dispatch/engine.py`` (or ``migrations/versions/*``).
MAP_ENTRY = re.compile(r"`outreach/([\w/*.]+\.py)`")


def mapped_modules() -> set[str]:
    return set(MAP_ENTRY.findall(CODE_MAP.read_text(encoding="utf-8")))


def test_code_map_names_every_module() -> None:
    mapped = mapped_modules()
    missing = [
        m
        for m in package_modules()
        if m not in mapped
        and not (m.startswith("migrations/versions/") and "migrations/versions/*.py" in mapped)
    ]
    assert missing == [], f"docs/code-map.md does not name: {', '.join(missing)}"


def test_code_map_names_no_module_that_is_gone() -> None:
    existing = set(package_modules()) | {"migrations/versions/*.py"}
    assert sorted(mapped_modules() - existing) == []
