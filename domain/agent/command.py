"""What a flow-run container runs.

A run config's ``command`` wins. Otherwise the command follows the flow's Prefect core
version: ``prefect execute flow-run`` from 0.13.0 on, ``prefect execute cloud-flow`` before.
A flow with no (or an unreadable) core version gets ``flow-run``: it also gets the
``prefecthq/prefect:latest`` image, a 1.x image where ``cloud-flow`` no longer exists
(Prefect paired that image with the legacy command, which could not work).
"""

from __future__ import annotations

import re

FLOW_RUN_COMMAND = ("prefect", "execute", "flow-run")
LEGACY_COMMAND = ("prefect", "execute", "cloud-flow")
_VERSION = re.compile(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def flow_run_command(core_version: str | None, run_command: tuple[str, ...] | None = None) -> tuple[str, ...]:
    if run_command:
        return run_command
    match = _VERSION.match((core_version or "").strip())
    if match is None:
        return FLOW_RUN_COMMAND
    version = tuple(int(part or 0) for part in match.groups())
    return LEGACY_COMMAND if version < (0, 13, 0) else FLOW_RUN_COMMAND
