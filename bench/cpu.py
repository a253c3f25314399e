"""Where the CPU goes during a timed group of worker processes: the whole machine's busy time
(``/proc/stat``) and the SMTP sink's (``/proc/PID/stat``); the workers report their own CPU
time (``resource.getrusage``) over their timed part. What is left of the machine's — ``rest`` —
is the database server's on PostgreSQL (its backends end with their connections, before a
snapshot could read them, so they are counted as that remainder), plus the bench's own parent
process and the kernel's work for everyone, which the SQLite runs show to be small.

With these, a dispatch row says how many CPU microseconds each message costs in our process,
in the sink and in the rest of the machine, next to the raw loop's, and how many of the cores
were busy: the profile behind "what remains" (docs/performance.md)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

#: process names (``comm``) whose CPU time is counted, by the label shown
SERVERS: Mapping[str, tuple[str, ...]] = {"smtp-sink": ("smtp-sink",)}
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine_busy() -> float:
    """Busy CPU seconds of every core since boot (all but idle and iowait)."""
    try:
        fields = Path("/proc/stat").read_text(encoding="ascii").splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    values = [int(v) for v in fields[:8]]
    return (sum(values) - values[3] - values[4]) / _TICK


def _process_seconds(names: Iterable[str]) -> float:
    """utime + stime of every live process whose ``comm`` is one of ``names``."""
    wanted = set(names)
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        if comm not in wanted:
            continue
        rest = text[text.rindex(")") + 2 :].split()
        total += int(rest[11]) + int(rest[12])  # utime, stime (fields 14 and 15)
    return total / _TICK


@dataclass(frozen=True)
class CpuSnapshot:
    busy: float
    servers: Mapping[str, float]

    @classmethod
    def take(cls) -> CpuSnapshot:
        return cls(_machine_busy(), {k: _process_seconds(v) for k, v in SERVERS.items()})


@dataclass(frozen=True)
class CpuUse:
    """CPU spent between two snapshots: the machine's busy seconds, its cores' worth of time
    (``busy / wall``: how many cores were busy on average), and each server's seconds."""

    wall: float
    busy: float
    servers: Mapping[str, float]

    @classmethod
    def between(cls, before: CpuSnapshot, after: CpuSnapshot, wall: float) -> CpuUse:
        return cls(
            wall,
            after.busy - before.busy,
            {k: after.servers[k] - before.servers[k] for k in after.servers},
        )

    @property
    def busy_cores(self) -> float:
        return self.busy / self.wall if self.wall > 0 else 0.0


def per_message_us(use: CpuUse, own_seconds: float, messages: int) -> dict[str, float]:
    """CPU microseconds per message: our worker processes (``own``), each server, the rest of
    the machine, the machine as a whole, and the cores busy on average."""
    if messages <= 0:
        return {}
    scale = 1e6 / messages
    figures = {"own": own_seconds * scale}
    figures |= {k: v * scale for k, v in use.servers.items()}
    figures["rest"] = (use.busy - own_seconds - sum(use.servers.values())) * scale
    figures["machine"] = use.busy * scale
    figures["busy_cores"] = use.busy_cores
    return figures


def cpu_note(case: str, ours: Mapping[str, float], raw: Mapping[str, float], cores: int) -> str:
    """One line of the run's notes: CPU µs per message of ``case``, ours against the raw
    loop's, per process group, and how busy the machine was."""
    if not ours or not raw:
        return f"CPU per message, {case}: not measured"
    parts = [f"outreach {ours['own']:,.0f} µs (raw loop {raw['own']:,.0f})"]
    for name in (*SERVERS, "rest"):
        parts.append(f"{name} {ours[name]:,.0f} ({raw[name]:,.0f})")
    parts.append(
        f"machine {ours['machine']:,.0f} ({raw['machine']:,.0f}), "
        f"{ours['busy_cores']:.2f} ({raw['busy_cores']:.2f}) of {cores} cores busy"
    )
    return f"CPU per message, {case}: " + ", ".join(parts)
