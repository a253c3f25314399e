"""The benchmark runner's arguments and its list of benchmarks (the benchmarks themselves run
under `make bench`, never in the test suite)."""

from __future__ import annotations

import bench.runner
import bench.suite


def test_runner_arguments_and_bench_names() -> None:
    args = bench.runner.parse_args(["--quick", "--only", "plan", "--only", "replies"])
    assert args.quick and args.only == ["plan", "replies"]
    assert set(bench.runner.ORDER) == set(bench.suite.BENCHES)


def test_peer_environment_is_pinned_and_databases_map_to_django() -> None:
    from bench.peer_cases import db_spec
    from bench.peer_env import REQUIREMENTS, pinned

    versions = pinned(REQUIREMENTS)
    assert versions["django-post-office"] and versions["Django"]
    assert all(v and "*" not in v for v in versions.values())
    assert db_spec("sqlite:////tmp/x/peer.db") == {"engine": "sqlite", "path": "/tmp/x/peer.db"}
    pg = db_spec("postgresql+psycopg://postgres@127.0.0.1:5432/outreach_bench_1")
    assert (pg["name"], pg["user"], pg["host"], pg["port"]) == (
        "outreach_bench_1",
        "postgres",
        "127.0.0.1",
        5432,
    )


def test_peer_worker_runs_in_its_own_environment() -> None:
    """The peer's worker imports neither outreach nor the bench package (it runs in the
    peer's virtual environment), and the runner runs the peer right after dispatch."""
    import ast

    from bench.peer_env import WORKER

    tree = ast.parse(WORKER.read_text(encoding="utf-8"))
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in modules if m.split(".")[0] in {"outreach", "bench"}}
    order = bench.runner.ORDER
    assert order.index("peer") == order.index("dispatch") + 1
