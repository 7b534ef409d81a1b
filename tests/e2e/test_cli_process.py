"""The installed `dockyard` console script, run as a real process."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

DOCKYARD = Path(sys.executable).parent / "dockyard"


def test_version_and_help_from_the_console_script() -> None:
    out = subprocess.run([str(DOCKYARD), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"dockyard, version {version('dockyard')}"

    helped = subprocess.run([str(DOCKYARD), "--help"], capture_output=True, text=True, check=True)
    assert "Usage: dockyard" in helped.stdout
    assert "Prefect" in helped.stdout


def test_unknown_command_is_a_usage_error() -> None:
    out = subprocess.run([str(DOCKYARD), "no-such-command"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "No such command" in out.stderr
