"""The labels on every container dockyard creates.

Prefect's three ``io.prefect.*`` labels keep tools written for Prefect 1 working; dockyard's
``org.dockyard.*`` labels are what supervision and restart recovery read back: who owns a
container, which run it is, and how it must be treated. The API key is never a label.
"""

from __future__ import annotations

FLOW_NAME = "io.prefect.flow-name"
FLOW_ID = "io.prefect.flow-id"
FLOW_RUN_ID = "io.prefect.flow-run-id"

MANAGED = "org.dockyard.managed"  # "true" on everything dockyard creates
AGENT = "org.dockyard.agent"  # the agent's name: ownership
AGENT_ID = "org.dockyard.agent-id"  # the backend's id for that agent
DAEMON_ID = "org.dockyard.daemon-id"  # the daemon the container was created on
FLOW_RUN_NAME = "org.dockyard.flow-run-name"
TIMEOUT = "org.dockyard.timeout"  # seconds, when a run time limit applies
SHIP_LOGS = "org.dockyard.ship-logs"  # "true": the agent ships the output as run logs
