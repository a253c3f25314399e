"""The peer's own virtual environment: ``bench/.peer-venv`` (git-ignored), made by the bench
with the pinned packages of ``bench/peer-requirements.txt`` and re-made when that file
changes. Outreach's environment never sees Django."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
VENV = BENCH_DIR / ".peer-venv"
REQUIREMENTS = BENCH_DIR / "peer-requirements.txt"
WORKER = BENCH_DIR / "peer_worker.py"


class PeerUnavailable(Exception):
    """The peer could not be installed (no network, no registry): the message says why."""


def requirements_digest(path: Path = REQUIREMENTS) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pinned(path: Path = REQUIREMENTS) -> dict[str, str]:
    """``name -> version`` of every ``name==version`` line of the requirements file."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            out[name.strip()] = version.strip()
    return out


def peer_python(log: Callable[[str], None] = print, venv: Path = VENV) -> Path:
    """The peer environment's interpreter, installing it first when it is missing or its
    requirements changed. Raises :class:`PeerUnavailable` when it cannot be installed."""
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    digest = requirements_digest()
    if python.exists() and stamp.exists() and stamp.read_text(encoding="ascii") == digest:
        return python
    if venv.exists():
        shutil.rmtree(venv)
    log(f"  peer: installing {REQUIREMENTS.name} into {venv}")
    steps = (
        [sys.executable, "-m", "venv", str(venv)],
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--retries",
            "1",
            "--timeout",
            "30",
            "-r",
            str(REQUIREMENTS),
        ],
    )
    for cmd in steps:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            shutil.rmtree(venv, ignore_errors=True)
            raise PeerUnavailable(f"{cmd[2]}: {exc}") from None
        if done.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            errors = [ln for ln in done.stderr.splitlines() if ln.startswith("ERROR")]
            raise PeerUnavailable(
                f"{cmd[2]} failed: {' | '.join(errors[-2:]) or done.stderr[-300:]}"
            )
    stamp.write_text(digest, encoding="ascii")
    return python
