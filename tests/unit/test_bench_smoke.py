"""The benchmark harness imports and its pure helpers work (the benchmarks themselves run under
`make bench`, never in the test suite)."""

from __future__ import annotations

import json
import mailbox

import pytest

import bench.runner
import bench.suite
from bench import data
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


def test_runner_arguments_and_bench_names() -> None:
    args = bench.runner.parse_args(["--quick", "--only", "plan", "--only", "replies"])
    assert args.quick and args.only == ["plan", "replies"]
    assert set(bench.runner.ORDER) == set(bench.suite.BENCHES)


def test_generated_inputs_are_well_formed(tmp_path) -> None:
    csv_path = data.write_contacts(tmp_path / "c.csv", 5)
    assert len(csv_path.read_text(encoding="utf-8").splitlines()) == 6
    sent = [
        ("<m1@bench.example.org>", "a@x.example.org"),
        ("<m2@bench.example.org>", "b@x.example.org"),
    ]
    mix = data.write_replies_mbox(tmp_path / "r.mbox", sent, 40)
    assert sum(mix.values()) == 40 and all(mix.values())
    box = mailbox.mbox(str(tmp_path / "r.mbox"), create=False)
    messages = list(box)
    box.close()
    assert len(messages) == 40
    assert all(
        m["In-Reply-To"] in {s[0] for s in sent} or "delivery-status" in m["Content-Type"]
        for m in messages
    )


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


def test_byte_joined_message_parses_back_to_what_was_given() -> None:
    from datetime import UTC, datetime
    from email import policy
    from email.parser import BytesParser

    from bench.rawmail import join_message

    raw = join_message(
        from_name="Bench Coalition",
        from_email="outreach@bench.example.org",
        to_name="Amina Okafor",
        to_email="delegate1@mission1.example.org",
        reply_to="outreach@bench.example.org",
        subject="100 days to go: Summit — a letter",
        date=datetime(2010, 4, 20, 7, 0, tzinfo=UTC),
        message_id="<bench1@bench.example.org>",
        text="Dear Ambassador,\nÀ bientôt.\n",
        html="<p>Dear Ambassador,</p>\n",
        extra_headers=(("X-Outreach-Step", "invitation"),),
    )
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    m = BytesParser(policy=policy.default).parsebytes(raw)
    assert m["Subject"] == "100 days to go: Summit — a letter"
    assert m["To"].addresses[0].addr_spec == "delegate1@mission1.example.org"
    assert m.get_body(("plain",)).get_content().replace("\r\n", "\n") == (
        "Dear Ambassador,\nÀ bientôt.\n"
    )
    assert "Dear Ambassador" in m.get_body(("html",)).get_content()


@pytest.mark.parametrize("shares", [1, 2, 3, 7])
def test_mbox_shares_split_every_message_once(tmp_path, shares: int) -> None:
    from email.parser import BytesHeaderParser

    from bench.rawmail import header_row, mbox_share

    sent = [(f"<m{i}@bench.example.org>", f"d{i}@x.example.org") for i in range(5)]
    data.write_replies_mbox(tmp_path / "r.mbox", sent, 30)
    blob = (tmp_path / "r.mbox").read_bytes()
    messages = [m for i in range(shares) for m in mbox_share(blob, i, shares)]
    assert len(messages) == 30 and not any(m.startswith(b"From ") for m in messages)
    parser = BytesHeaderParser()
    rows = [header_row(m, parser) for m in messages]
    assert len({r["sha256"] for r in rows}) == 30
    assert all(r["in_reply_to"] in {s[0] for s in sent} or r["content_type"] for r in rows)


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
