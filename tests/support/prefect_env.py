"""The real Prefect 1.4.1 client, in its own virtualenv (scripts/prefect-venv.sh)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.paths import REPO_ROOT, SCRIPTS

PREFECT_VENV = REPO_ROOT / ".venv-prefect"


def prefect_python() -> Path:
    """The Prefect venv's interpreter, creating the venv first if needed."""
    python = PREFECT_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run(["bash", str(SCRIPTS / "prefect-venv.sh")], check=True)
    return python
