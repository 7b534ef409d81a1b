"""The `dockyard run` commands as a real process, for e2e tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DOCKYARD = Path(sys.executable).parent / "dockyard"
FINAL = ("Success", "Failed", "Cancelled")


def dockyard_run(api: str, *args: str) -> dict[str, Any]:
    """``dockyard run <args> --api <api> --json``, parsed."""
    out = subprocess.run(
        [str(DOCKYARD), "run", *args, "--api", api, "--json"], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def run_logs(api: str, run_id: str) -> str:
    out = subprocess.run([str(DOCKYARD), "run", "logs", run_id, "--api", api], capture_output=True, text=True)
    return out.stdout


def wait_final(api: str, run_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = dockyard_run(api, "show", run_id)
        if run["state"] in FINAL:
            return run
        time.sleep(0.25)
    raise AssertionError(f"run {run_id} did not finish within {timeout}s; last state {run.get('state')}")
