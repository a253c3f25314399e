"""The benchmark runner's arguments and its list of benchmarks (the benchmarks themselves run
under `make bench`, never in the test suite)."""

from __future__ import annotations

import bench.runner
import bench.suite


def test_runner_arguments_and_bench_names() -> None:
    args = bench.runner.parse_args(["--quick", "--only", "plan", "--only", "replies"])
    assert args.quick and args.only == ["plan", "replies"]
    assert set(bench.runner.ORDER) == set(bench.suite.BENCHES)
