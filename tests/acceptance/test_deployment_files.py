"""Every deployment file works as its comments say: the compose file validates with Docker
Compose (`.ci/run` installs it), its volumes, healthcheck and commands line up with the image
and the CLI, the image runs unprivileged with a writable data folder and an editor, and the
systemd unit verifies with `systemd-analyze` (with its ExecStart pointed at this checkout's
own `outreach`) and outlives the daemon's shutdown grace."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from outreach.settings import Settings, load_settings
from tests.cli import REPO, run_cli

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
UNIT = REPO / "config" / "outreach.service"
EXAMPLE_CONFIG = REPO / "config" / "outreach.example.toml"
GRACE_MARGIN = 10  # seconds a stop needs beyond the grace: release claims, close, exit


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def dockerfile_env() -> dict[str, str]:
    """The image's ENV (the last value of each name)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(dict(re.findall(r"(\w+)=(\S+)", line)))
    return env


def command_exists(words: list[str]) -> None:
    """`outreach WORDS…` is a command taking every option in WORDS (as test_readme checks)."""
    path = [w for w in words if not w.startswith("-")]
    for n in (2, 1):
        result = run_cli(*path[:n], "--help")
        if result.returncode == 0 and "Usage:" in result.stdout:
            break
    else:
        pytest.fail(f"not a command: outreach {' '.join(words)}")
    for option in (w.split("=")[0] for w in words if w.startswith("--")):
        assert option in result.stdout, f"outreach {' '.join(words)}: {option} is not an option"


# --- Docker Compose ----------------------------------------------------------------------------


def compose_command() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def test_compose_file_validates_with_docker_compose() -> None:
    command = compose_command()
    if command is None:
        pytest.skip("Docker Compose is not installed (.ci/run installs docker-compose)")
    result = subprocess.run(
        [*command, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_compose_mounts_what_the_image_reads_and_keeps_data() -> None:
    service = compose()["services"]["outreach"]
    env = dockerfile_env()
    mounts = {m.split(":")[1]: m.split(":")[0] for m in service["volumes"]}
    assert mounts[env["OUTREACH_CAMPAIGNS_DIR"]] == "./config/campaigns"
    assert mounts[env["OUTREACH_TEMPLATES_DIR"]] == "./templates"
    assert mounts["/app/config/contacts"] == "./config/contacts"
    for host in ("./config/campaigns", "./templates", "./config/contacts"):
        assert (REPO / host).is_dir(), host
    data = str(Path(env["OUTREACH_ERASURE_KEY_FILE"]).parent)
    assert mounts[data] in compose()["volumes"], "the data folder is a named volume"
    assert env["OUTREACH_DATABASE_URL"] == f"sqlite:///{data}/outreach.db"


def test_compose_healthcheck_and_stop_grace() -> None:
    service = compose()["services"]["outreach"]
    test = service["healthcheck"]["test"]
    assert test[:2] == ["CMD", "outreach"]
    command_exists(test[2:])
    grace = int(service["environment"]["OUTREACH_SHUTDOWN_GRACE"])
    assert int(service["stop_grace_period"].rstrip("s")) >= grace + GRACE_MARGIN


def test_every_command_in_the_compose_comments_exists() -> None:
    lines = re.findall(r"docker compose run --rm outreach (.+)", COMPOSE.read_text())
    assert len(lines) >= 5
    for line in lines:
        command_exists(shlex.split(line))


# --- the image ---------------------------------------------------------------------------------


def test_the_image_runs_unprivileged_with_a_writable_data_folder_and_an_editor() -> None:
    text = DOCKERFILE.read_text()
    env = dockerfile_env()
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user == ["outreach"]
    data = str(Path(env["OUTREACH_ERASURE_KEY_FILE"]).parent)
    assert re.search(rf"install -d -o outreach -g outreach -m 07\d0 {data}\b", text)
    assert text.index("install -d -o outreach") < text.index("USER outreach")
    assert env["HOME"] == data
    apt = re.search(r"apt-get install[^\n]*", text)
    assert apt is not None and env["EDITOR"] in apt.group(0).split()
    settings = {
        k[len("OUTREACH_") :].lower(): v for k, v in env.items() if k.startswith("OUTREACH_")
    }
    assert set(settings) <= set(Settings.model_fields)
    load_settings(env={}, **settings)


# --- systemd -----------------------------------------------------------------------------------


def unit_values(key: str) -> list[str]:
    return re.findall(rf"^{key}=(.*)$", UNIT.read_text(), re.M)


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    outreach = Path(sys.executable).parent / "outreach"
    assert outreach.exists(), outreach
    [exec_start] = unit_values("ExecStart")
    binary, *args = exec_start.split()
    copy = tmp_path / "outreach.service"
    copy.write_text(UNIT.read_text().replace(binary, str(outreach)))
    result = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True)
    problems = [line for line in (result.stdout + result.stderr).splitlines() if copy.name in line]
    assert result.returncode == 0 and problems == [], result.stdout + result.stderr
    assert args == ["daemon"]


def test_systemd_unit_outlives_the_shutdown_grace() -> None:
    configured = load_settings(EXAMPLE_CONFIG, env={})
    [timeout] = unit_values("TimeoutStopSec")
    assert int(timeout) >= configured.shutdown_grace + GRACE_MARGIN
    assert int(timeout) >= Settings().shutdown_grace + GRACE_MARGIN
    assert unit_values("KillSignal") == ["SIGTERM"]


def test_systemd_install_comment_names_everything_the_unit_needs() -> None:
    text = UNIT.read_text()
    comment = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    [user] = unit_values("User")
    [workdir] = unit_values("WorkingDirectory")
    [exec_start] = unit_values("ExecStart")
    venv = exec_start.split()[0].rsplit("/bin/", 1)[0]
    [config] = [v.split("=", 1)[1] for v in unit_values("Environment") if "OUTREACH_CONFIG" in v]
    [secrets] = unit_values("EnvironmentFile")
    assert f"useradd --system --create-home --home-dir {workdir}" in comment and user in comment
    assert f"python3 -m venv {venv}" in comment and f"{venv}/bin/pip install" in comment
    assert re.search(rf"install -m 06\d0 .*{re.escape(config)}", comment)
    assert re.search(rf"install -m 0600 .*{re.escape(secrets)}", comment)
    assert unit_values("AssertPathExists") == [config]
    assert not secrets.startswith("-"), "the secrets file is required, not optional"
    assert "example.toml" in comment and EXAMPLE_CONFIG.exists()
    assert workdir in unit_values("ReadWritePaths")
    [docs] = unit_values("Documentation")
    assert docs.startswith(f"file://{workdir}/docs/") and "/checkout/docs " in comment
