"""Run the `outreach` command as a user would: in-process (fast, the same `main()` entry point
with its own argv, environment and captured stdout/stderr) or as a real subprocess."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parent.parent


def cli_env(db_url: str | None, env: dict[str, str] | None) -> dict[str, str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    full_env["OUTREACH_TEMPLATES_DIR"] = str(REPO / "templates")
    full_env["OUTREACH_CAMPAIGNS_DIR"] = str(REPO / "config" / "campaigns")
    if db_url:
        full_env["OUTREACH_DATABASE_URL"] = db_url
    full_env.update(env or {})
    return full_env


def run_cli(
    *args: str,
    db_url: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`outreach ARGS…` in this process through :func:`outreach.cli.main`."""
    from outreach.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    old_cwd = Path.cwd()
    with (
        mock.patch.dict(os.environ, cli_env(db_url, env), clear=True),
        mock.patch.object(sys, "argv", ["outreach", *args]),
        mock.patch.object(sys, "stdin", io.StringIO(input or "")),
        redirect_stdout(out),
        redirect_stderr(err),
    ):
        try:
            os.chdir(cwd or REPO)
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            os.chdir(old_cwd)
    return subprocess.CompletedProcess(["outreach", *args], code, out.getvalue(), err.getvalue())


def run_cli_process(
    *args: str,
    db_url: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    input: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`outreach ARGS…` as a real subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "outreach", *args],
        capture_output=True,
        text=True,
        env=cli_env(db_url, env),
        cwd=cwd or REPO,
        input=input,
        timeout=timeout,
    )
