"""The bench's CPU accounting (bench/cpu.py): per-message figures, the note, and real /proc
snapshots."""

from __future__ import annotations

import time

from bench.cpu import CpuSnapshot, CpuUse, cpu_note, per_message_us


def test_per_message_figures_split_the_machine_into_own_sink_and_rest() -> None:
    use = CpuUse(wall=2.0, busy=3.0, servers={"smtp-sink": 0.5})
    figures = per_message_us(use, own_seconds=2.0, messages=1000)
    assert figures["own"] == 2000
    assert figures["smtp-sink"] == 500
    assert figures["rest"] == 500  # 3.0 - 2.0 - 0.5 seconds over 1,000 messages
    assert figures["machine"] == 3000
    assert figures["busy_cores"] == 1.5
    assert per_message_us(use, own_seconds=1.0, messages=0) == {}


def test_note_compares_ours_with_the_raw_loop() -> None:
    ours = per_message_us(CpuUse(10.0, 12.0, {"smtp-sink": 1.0}), 8.0, 20_000)
    raw = per_message_us(CpuUse(4.0, 5.0, {"smtp-sink": 1.0}), 3.0, 20_000)
    note = cpu_note("sqlite, 1 process", ours, raw, cores=2)
    assert note.startswith("CPU per message, sqlite, 1 process: outreach 400 µs (raw loop 150)")
    assert "smtp-sink 50 (50)" in note and "rest 150 (50)" in note
    assert "1.20 (1.25) of 2 cores busy" in note
    assert cpu_note("x", {}, raw, cores=2) == "CPU per message, x: not measured"


def test_snapshots_see_this_process_burn_cpu() -> None:
    before = CpuSnapshot.take()
    t0 = time.perf_counter()
    end = time.process_time() + 0.2
    while time.process_time() < end:
        pass
    use = CpuUse.between(before, CpuSnapshot.take(), time.perf_counter() - t0)
    assert 0 <= use.busy <= use.wall * 64
    assert use.busy >= 0.1  # the machine saw at least half of what this loop burnt
    assert set(use.servers) == {"smtp-sink"}
