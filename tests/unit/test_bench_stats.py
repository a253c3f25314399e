"""The benchmark statistics and tables: medians, ratios, targets (the benchmarks themselves run
under `make bench`, never in the test suite)."""

from __future__ import annotations

import json

import pytest

from bench.stats import (
    Figure,
    Row,
    Target,
    fmt_figure,
    fmt_ratio,
    ratio,
    results_table,
    summarise,
    targets_table,
)


def test_summarise_takes_median_min_max() -> None:
    fig = summarise([3.0, 1.0, 2.0, 10.0])
    assert (fig.median, fig.min, fig.max, fig.runs) == (2.5, 1.0, 10.0, 4)
    assert fig.as_dict()["unit"] == "msg/s"
    with pytest.raises(ValueError):
        summarise([])


def test_ratio_uses_medians_and_refuses_missing_values() -> None:
    assert ratio(Figure(50, 40, 60, 3), Figure(200, 100, 300, 3)) == 0.25
    assert ratio(30.0, 60.0) == 0.5
    assert ratio(None, 10.0) is None
    assert ratio(Figure(5, 5, 5, 1), 0) is None


def test_targets_report_met_and_not_met() -> None:
    assert Target("rate", 1000, 1200).verdict == "met"
    assert Target("rate", 1000, 999).verdict == "NOT met"
    assert Target("rss", 1.2, 1.1, at_most=True).verdict == "met"
    assert Target("rss", 1.2, 1.3, at_most=True).verdict == "NOT met"
    assert Target("rate", 1000, None).verdict == "not measured"
    assert "NOT met" in targets_table([Target("rate", 1000, 999)])


def test_table_shows_figure_ceiling_ratio_and_unavailable_rows() -> None:
    rows = [
        Row("dispatch", "sqlite", Figure(600, 500, 700, 3), Figure(1200, 1100, 1300, 3), "raw"),
        Row("replies", "-", status="not available yet: ImportError: no intake"),
    ]
    table = results_table(rows)
    assert "600 (500-700)" in table
    assert "1,200 (1,100-1,300) raw" in table
    assert "50 %" in table
    assert "not available yet: ImportError" in table
    doc = json.loads(json.dumps([r.as_dict() for r in rows]))
    assert doc[0]["ratio"] == 0.5 and doc[1]["figure"] is None
    assert fmt_figure(Figure(7.5, 7.5, 7.5, 1)) == "7.5"
    assert fmt_ratio(None) == "-"
