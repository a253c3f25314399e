"""`outreach demo --web`: the demo's database opened in the console, with a printed sign-in
that works (a real process; stopped with SIGTERM)."""

from __future__ import annotations

import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2

from tests.cli import REPO

_SIGN_IN = re.compile(r"console: (http://\S+)/\s+sign in as (\S+) / (\S+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_sign_in(proc: subprocess.Popen[str], timeout: float) -> re.Match[str]:
    """The console line the demo prints once its database is ready (read by a thread: the
    pipe is line-buffered text)."""
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        found = _SIGN_IN.search(line)
        if found:
            return found
    raise AssertionError("the demo printed no sign-in")


def test_demo_web_opens_the_console_with_a_sign_in(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "outreach",
            "demo",
            "--quiet",
            "--web",
            "--port",
            str(port),
            "--dir",
            str(tmp_path),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base, name, password = wait_for_sign_in(proc, timeout=240).groups()
        assert base == f"http://127.0.0.1:{port}"
        with httpx2.Client(base_url=base, timeout=10) as http:
            for _ in range(50):
                try:
                    page = http.get("/login")
                    break
                except httpx2.TransportError:
                    time.sleep(0.1)
            token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            signed = http.post("/login", data={"csrf": token, "name": name, "password": password})
            assert signed.status_code == 303
            home = http.get("/")
            assert home.status_code == 200 and "ccm-2010" in home.text
            assert "First Meeting of States Parties" in home.text
            assert http.get("/replies").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
