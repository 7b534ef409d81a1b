"""The service plan: what a Docker Swarm will be asked for one flow run (swarm mode).

``plan_service`` is pure and makes its decisions with the container plan's
(``plan_run``): the same image checks, environment, labels, mounts, networks, policy and
limits. Then the run becomes one Swarm service whose one task runs the flow run's
container: a replicated service of one replica that is never restarted (``RestartPolicy``
none), placed by the operator's constraints and preferences plus those the run may ask for
(``placement``), and stopped with the agent's ``--cancel-grace``. What Swarm cannot express
refuses the run (``swarm_task``). A run config's ``ports`` only expose ports (nothing is
published without ``port_bindings``, which Swarm has not), so they change nothing here.

Why not Swarm's ``replicated-job`` mode, made for one-off tasks: on Engine 20.10 (API 1.41)
removing a job service leaves the containers of its failed tasks on their nodes for good
(its job orchestrator never marks them for removal), and removing the service is how
dockyard cleans up after a run. A replicated service's tasks, failed or not, are removed
with it on every node.
"""

from __future__ import annotations

import json
from typing import Any

from dockyard.domain.agent.config import AgentConfig
from dockyard.domain.agent.environment import secret_keys
from dockyard.domain.agent.images import pulls_first
from dockyard.domain.agent.model import FlowRun, ServicePlan
from dockyard.domain.agent.naming import service_name
from dockyard.domain.agent.placement import service_placement
from dockyard.domain.agent.plan import extra_host_entries, plan_run, redacted_env
from dockyard.domain.agent.swarm_task import service_mounts, service_networks, task_settings

# One task, run once: a task that ends (or that its node rejects) is never replaced.
MODE = {"Replicated": {"Replicas": 1}}
RESTART_POLICY = {"Condition": "none", "MaxAttempts": 0}


def plan_service(
    run: FlowRun,
    config: AgentConfig,
    *,
    agent_id: str,
    cluster_id: str,
    host_os: str = "linux",
    instance: str | None = None,
    lease: str | None = None,
) -> ServicePlan:
    """``cluster_id``: the Swarm's (a service belongs to the Swarm, not to one daemon).
    Bind sources are checked as written: the node a task lands on is not the agent's host,
    so no symbolic link there can be followed from here."""
    planned = plan_run(
        run,
        config,
        agent_id=agent_id,
        daemon_id=cluster_id,
        host_os=host_os,
        instance=instance,
        lease=lease,
    )
    placement = service_placement(
        config.constraints,
        config.placement_prefs,
        planned.run_config.placement,
        config.policy.allow_placement,
    )
    task = task_settings(planned.settings)
    networks = service_networks(planned.networks)
    hosts = [
        f"{address} {host}"
        for host, _, address in (
            entry.partition(":")
            for entry in extra_host_entries(
                planned.request.extra_hosts, planned.networks, config.docker_interface
            )
        )
    ]
    container: dict[str, Any] = {
        "Image": planned.image.reference,
        "Labels": planned.labels,
        "Env": [f"{key}={value}" for key, value in planned.env.items()],
        "StopGracePeriod": int(config.cancel_grace * 1_000_000_000),
        **task.container,
    }
    if planned.command is not None:  # Args, not Command: the image's entrypoint stays
        container["Args"] = planned.command
    if hosts:
        container["Hosts"] = hosts
    mounts = service_mounts(planned.mounts) + task.tmpfs
    if mounts:
        container["Mounts"] = mounts
    template: dict[str, Any] = {"ContainerSpec": container, "RestartPolicy": dict(RESTART_POLICY)}
    if task.resources():
        template["Resources"] = task.resources()
    if placement.spec():
        template["Placement"] = placement.spec()
    if networks:
        template["Networks"] = [{"Target": name} for name in networks]
    if task.log_driver is not None:
        template["LogDriver"] = task.log_driver
    return ServicePlan(
        name=service_name(run.name, run.id),
        image=planned.image.reference,
        spec={"Labels": planned.labels, "TaskTemplate": template, "Mode": json.loads(json.dumps(MODE))},
        networks=networks,
        resolve_digest=pulls_first(planned.image, config.pull_policy),
        secret_env=secret_keys(planned.env),
        timeout=planned.timeout,
        ship_logs=planned.ship_logs,
    )


def redacted_service(plan: ServicePlan) -> dict[str, Any]:
    """The plan as JSON-ready data with secret env values replaced by ``<redacted>``."""
    spec = json.loads(json.dumps(plan.spec))
    container = spec["TaskTemplate"]["ContainerSpec"]
    if "Env" in container:
        container["Env"] = redacted_env(container["Env"], plan.secret_env)
    return {
        "name": plan.name,
        "resolve_digest": plan.resolve_digest,
        "networks": list(plan.networks),
        "service": spec,
    }
