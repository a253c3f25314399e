"""The benchmark statistics and tables: medians, ratios, targets (the benchmarks themselves run
under `make bench`, never in the test suite)."""

from __future__ import annotations

import json

import pytest

from bench.stats import (
    Figure,
    Row,
    Target,
    fmt_comparison,
    fmt_figure,
    fmt_ratio,
    fmt_times,
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
    assert "1,200 (1,100-1,300) (ceiling: raw)" in table
    assert "50 % of ceiling" in table
    assert "not available yet: ImportError" in table
    doc = json.loads(json.dumps([r.as_dict() for r in rows]))
    assert doc[0]["ratio"] == 0.5 and doc[1]["figure"] is None
    assert fmt_figure(Figure(7.5, 7.5, 7.5, 1)) == "7.5"
    assert fmt_ratio(None) == "-"


def test_ratios_read_as_their_comparison() -> None:
    assert fmt_comparison("ceiling", 0.48) == "48 % of ceiling"
    assert fmt_comparison("ceiling", 1.12) == "112 % of ceiling: NOT an upper bound"
    assert fmt_comparison("baseline", 5.256) == "5.26× baseline"
    assert fmt_comparison("peer", 2.349) == "2.35× peer"
    assert fmt_comparison("peer", None) == "-"
    assert fmt_times(3.0) == "3.00×"
    with pytest.raises(ValueError):
        Row("plan", "x", comparison="roof")


def test_a_figure_over_its_ceiling_is_flagged_and_baselines_are_speed_ups() -> None:
    over = Row("plan", "sqlite", Figure(1124, 1100, 1200, 3), 214.0, "stdlib")
    base = Row("plan", "sqlite", Figure(1124, 1100, 1200, 3), 214.0, "naive", comparison="baseline")
    peer = Row("dispatch vs peer", "sqlite", Figure(660, 660, 660, 1), Figure(220, 220, 220, 1))
    peer = Row(
        peer.bench, peer.name, peer.figure, peer.ceiling, "django-post-office", comparison="peer"
    )
    assert over.over_ceiling and not base.over_ceiling and not peer.over_ceiling
    table = results_table([over, base, peer])
    assert "525 % of ceiling: NOT an upper bound" in table
    assert "5.25× baseline" in table and "214 (baseline: naive)" in table
    assert "3.00× peer" in table and "220 (peer: django-post-office)" in table
    doc = base.as_dict()
    assert doc["comparison"] == "baseline" and doc["ratio_text"] == "5.25× baseline"
    assert not doc["over_ceiling"] and over.as_dict()["over_ceiling"]


def test_peer_target_is_met_or_not_never_asserted() -> None:
    from bench.peer_cases import TIMES_PEER

    assert Target("dispatch / peer", TIMES_PEER, ratio(660.0, 220.0)).verdict == "met"
    assert Target("dispatch / peer", TIMES_PEER, ratio(517.0, 220.0)).verdict == "NOT met"
    assert Target("dispatch / peer", TIMES_PEER, ratio(None, 220.0)).verdict == "not measured"
