"""Real `outreach send` processes for the acceptance tests: the environment that points one at
a database and a loopback SMTP server, starting one, and running several at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any


def env_for(db_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    env.update(
        {
            "OUTREACH_DATABASE_URL": db_url,
            "OUTREACH_SMTP_HOST": "127.0.0.1",
            "OUTREACH_SMTP_PORT": str(port),
            "OUTREACH_SMTP_TLS": "none",
            "OUTREACH_SMTP_CONCURRENCY": "4",
            "OUTREACH_LEASE_SECONDS": "300",
            **extra,
        }
    )
    return env


def send_process(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "outreach", "send", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def concurrent_sends(env: dict[str, str], now: str, processes: int = 3) -> list[dict[str, Any]]:
    """``processes`` ``outreach send --now NOW --json`` at once; their JSON summaries (each
    must exit 0)."""
    procs = [send_process(env, "--now", now, "--json") for _ in range(processes)]
    summaries = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        summaries.append(json.loads(out))
    return summaries
