"""Launching a run as a Docker Swarm service (swarm mode): the ``Deployer``'s launcher.

The plan is the pure planner's (``plan_service``), made before every create, so the image
and policy checks run for every run. Then what only the Swarm can tell is checked: each
network the run joins must be swarm-scoped (a local bridge exists on one node only). With
pull policy ``always`` the image's tag is resolved at its registry first and the service
pinned to that digest, so every node runs the same image; otherwise the service names the
image as the run gives it. Either way the node a task lands on pulls the image itself (with
the registry login the service carries) and runs its own copy when the pull fails: Swarm
decides that, not the agent. A Swarm creates a service's task at once, so there is nothing
to start.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from dockyard.domain.agent.config import AgentConfig
from dockyard.domain.agent.deploy import Launched
from dockyard.domain.agent.image_policy import credentials_for
from dockyard.domain.agent.model import FlowRun, ServicePlan
from dockyard.domain.agent.naming import name_candidates
from dockyard.domain.agent.ownership import AgentIdentity
from dockyard.domain.agent.service_plan import plan_service
from dockyard.domain.errors import ContainerNameConflict, RunRefused
from dockyard.ports.service_runtime import ServiceRuntime

log = logging.getLogger("dockyard.agent")

SWARM_SCOPE = "swarm"


class ServiceLauncher:
    def __init__(self, *, config: AgentConfig, identity: AgentIdentity, runtime: ServiceRuntime) -> None:
        self._config = config
        self._identity = identity
        self._runtime = runtime

    def launch(self, run: FlowRun) -> Launched:
        identity = self._identity
        plan = plan_service(
            run,
            self._config,
            agent_id=identity.agent_id,
            cluster_id=identity.daemon.id,
            host_os=identity.daemon.os_type,
            instance=identity.owner.instance,
            lease=identity.owner.lease,
        )
        self._check_networks(plan)
        credentials = credentials_for(plan.image, self._config.registry_credentials)
        if plan.resolve_digest:
            log.info("Resolving image %s at its registry for flow run %s", plan.image, run.id)
            plan = _pinned(plan, self._runtime.resolve_image(plan.image, credentials))
        last: ContainerNameConflict | None = None
        for name in name_candidates(plan.name):
            try:
                service_id = self._runtime.create_service(name, plan.spec, credentials)
            except ContainerNameConflict as exc:
                last = exc
                continue
            return Launched(service_id, timeout=plan.timeout, ship_logs=plan.ship_logs, kind="Service")
        raise ContainerNameConflict(f"no free service name for {plan.name!r}: {last}")

    def _check_networks(self, plan: ServicePlan) -> None:
        for name in plan.networks:
            scope = self._runtime.network_scope(name)
            if scope is None:
                raise RunRefused(f"The network {name!r} does not exist on the Swarm's manager")
            if scope != SWARM_SCOPE:
                raise RunRefused(
                    f"The network {name!r} is a {scope} network, which exists on one node only: in "
                    "swarm mode a run's networks must be swarm-scoped (docker network create --driver "
                    f"overlay --attachable {name})"
                )


def _pinned(plan: ServicePlan, image: str) -> ServicePlan:
    template = dict(plan.spec["TaskTemplate"])
    template["ContainerSpec"] = {**template["ContainerSpec"], "Image": image}
    return replace(plan, image=image, spec={**plan.spec, "TaskTemplate": template})
