"""The labels on every container dockyard creates.

Prefect's three ``io.prefect.*`` labels keep tools written for Prefect 1 working; dockyard's
``org.dockyard.*`` labels are what supervision and restart recovery read back: who owns a
container, which run it is, and how it must be treated. The API key is never a label.
"""

from __future__ import annotations

from collections.abc import Mapping

FLOW_NAME = "io.prefect.flow-name"
FLOW_ID = "io.prefect.flow-id"
FLOW_RUN_ID = "io.prefect.flow-run-id"

MANAGED = "org.dockyard.managed"  # "true" on everything dockyard creates
AGENT = "org.dockyard.agent"  # the agent's name: which agent's containers these are
AGENT_ID = "org.dockyard.agent-id"  # the backend's id for that agent
INSTANCE = "org.dockyard.agent-instance"  # the agent process that created it (see ownership)
LEASE = "org.dockyard.agent-lease"  # the host lease that process held for its name and daemon
DAEMON_ID = "org.dockyard.daemon-id"  # the daemon the container was created on
FLOW_RUN_NAME = "org.dockyard.flow-run-name"
TIMEOUT = "org.dockyard.timeout"  # seconds, when a run time limit applies
SHIP_LOGS = "org.dockyard.ship-logs"  # "true": the agent ships the output as run logs


def container_labels(
    *,
    flow_name: str,
    flow_id: str,
    flow_run_id: str,
    flow_run_name: str,
    agent_name: str,
    agent_id: str,
    daemon_id: str,
    timeout: float | None,
    ship_logs: bool,
    instance: str | None = None,
    lease: str | None = None,
) -> dict[str, str]:
    """Every label a flow-run container gets (``TIMEOUT`` only when a timeout applies;
    ``INSTANCE`` and ``LEASE`` when an agent process deploys it, not in a dry-run plan)."""
    labels = {
        FLOW_NAME: flow_name,
        FLOW_ID: flow_id,
        FLOW_RUN_ID: flow_run_id,
        MANAGED: "true",
        AGENT: agent_name,
        AGENT_ID: agent_id,
        DAEMON_ID: daemon_id,
        FLOW_RUN_NAME: flow_run_name,
        SHIP_LOGS: str(ship_logs).lower(),
    }
    if timeout is not None:
        labels[TIMEOUT] = format_seconds(timeout)
    if instance:
        labels[INSTANCE] = instance
    if lease:
        labels[LEASE] = lease
    return labels


def format_seconds(seconds: float) -> str:
    """``30`` for whole seconds, ``2.5`` otherwise; ``float(text)`` reads either back."""
    return str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))


def timeout_of(labels: Mapping[str, str]) -> float | None:
    """The run's time limit a container's labels carry (``format_seconds``), if any."""
    try:
        return float(labels[TIMEOUT])
    except (KeyError, ValueError):
        return None


def ships_logs(labels: Mapping[str, str]) -> bool:
    """Whether the agent ships this container's output as run logs."""
    return labels.get(SHIP_LOGS) == "true"
