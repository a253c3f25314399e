"""SMTP sinks on loopback for the benchmarks: Postfix's ``smtp-sink`` when installed (fast, C),
else (and for sub-second delays, which smtp-sink cannot do) outreach's own SMTP sink
(:mod:`outreach.smtpsink`) run by :mod:`bench.slowsink` in its own process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from outreach.smtpsink.server import free_port

SMTP_SINK_CANDIDATES = ("/usr/sbin/smtp-sink", "/usr/lib/postfix/smtp-sink")
REPO = Path(__file__).resolve().parent.parent


def smtp_sink_path() -> str | None:
    for candidate in SMTP_SINK_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("smtp-sink")


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"SMTP sink exited at start: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.recv(512)  # the greeting
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"SMTP sink did not listen on 127.0.0.1:{port}")


@dataclass
class Sink:
    """A running sink: ``port`` on 127.0.0.1; ``label`` says what it is (for the results)."""

    port: int
    label: str
    proc: subprocess.Popen

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_fast_sink(*, prefer: str = "smtp-sink") -> Sink:
    """The fast sink: smtp-sink (no delays) when installed, else aiosmtpd (noted in the label)."""
    path = smtp_sink_path() if prefer == "smtp-sink" else None
    port = free_port()
    if path is not None:
        cmd = [path]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]
        cmd += ["-m", "1024", f"127.0.0.1:{port}", "1024"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _wait_listening(port, proc)
        return Sink(port, f"postfix smtp-sink ({path} -m 1024)", proc)
    return start_aiosmtpd_sink(0, 0, port=port, why="smtp-sink not installed")


def start_aiosmtpd_sink(
    rcpt_ms: float, data_ms: float, *, port: int | None = None, why: str = ""
) -> Sink:
    """The aiosmtpd sink of :mod:`bench.slowsink` in its own process, waiting ``rcpt_ms`` before
    answering RCPT and ``data_ms`` before answering the end of DATA."""
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.slowsink", str(port), str(rcpt_ms), str(data_ms)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "READY":
        proc.kill()
        raise RuntimeError(
            f"aiosmtpd sink failed to start: {line}{proc.stderr.read() if proc.stderr else ''}"
        )
    label = f"aiosmtpd sink, {rcpt_ms:g} ms at RCPT, {data_ms:g} ms at DATA"
    if why:
        label += f" ({why})"
    return Sink(port, label, proc)
