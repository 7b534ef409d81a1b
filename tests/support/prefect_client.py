"""Running the real Prefect 1.4.1 client against a dockyard server."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from support.prefect_env import PREFECT_VENV, prefect_python

PREFECT_CLI = PREFECT_VENV / "bin" / "prefect"
HOSTNAME_LABEL = socket.gethostname()  # Local storage and the LocalAgent both add it


def prefect_env(api_url: str, home: Path) -> dict[str, str]:
    """Environment that points every Prefect 1.4.1 process at ``api_url``, with its own
    home and user config so nothing from the machine's ~/.prefect leaks in."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "config.toml"
    config.touch()
    keep = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT__")}
    return {
        **keep,
        "PATH": f"{PREFECT_VENV / 'bin'}:{keep.get('PATH', '')}",
        "PREFECT__BACKEND": "server",
        "PREFECT__SERVER__ENDPOINT": api_url,
        "PREFECT__CLOUD__API": api_url,
        "PREFECT__HOME_DIR": str(home),
        "PREFECT__USER_CONFIG_PATH": str(config),
        "PREFECT__LOGGING__LEVEL": "DEBUG",
    }


def run_python(script: str, env: dict[str, str], *args: str, timeout: float = 60) -> str:
    """Run ``script`` with the Prefect venv's python; return stdout, fail with stderr."""
    result = subprocess.run(
        [str(prefect_python()), "-c", script, *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (
        f"prefect script failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


def run_prefect(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    prefect_python()
    return subprocess.run([str(PREFECT_CLI), *args], env=env, capture_output=True, text=True, timeout=timeout)
