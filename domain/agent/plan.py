"""The container plan: everything Docker will be asked for one flow run, decided first.

``plan_container`` is pure: the same run and config always give the same plan, and the
plan is refused (``RunRefused``, ``InvalidImageReference``) before anything is created. The
use case calls it before every create, so the image checks run whether the image is pulled
or not. ``redacted`` is the plan as ``dockyard agent plan`` shows it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.domain.agent.command import flow_run_command
from dockyard.domain.agent.config import AgentConfig
from dockyard.domain.agent.environment import CONTAINER_HOST, flow_run_env, is_secret_key, secret_keys
from dockyard.domain.agent.host_config import RunHostConfig, translate_host_config
from dockyard.domain.agent.image_policy import check_image_allowed
from dockyard.domain.agent.images import ImageRef, may_pull, parse_image_reference, pulls_first, select_image
from dockyard.domain.agent.labels import container_labels
from dockyard.domain.agent.model import ContainerPlan, FlowRun
from dockyard.domain.agent.naming import container_name
from dockyard.domain.agent.networks import NetworkPlan, plan_networks
from dockyard.domain.agent.policy import apply_run_policy
from dockyard.domain.agent.run_config import DockerRunConfig, parse_run_config
from dockyard.domain.agent.volumes import Mount, named_volumes
from dockyard.domain.errors import RunRefused

REDACTED = "<redacted>"


@dataclass(frozen=True)
class PlannedRun:
    """What every shape of plan is made of (a container's here, a Swarm service's in
    ``service_plan``): the run's image, settings, mounts, networks, environment and labels,
    checked against the operator's policy and limits."""

    run_config: DockerRunConfig
    image: ImageRef
    request: RunHostConfig  # the run's host_config, translated
    settings: dict[str, Any]  # the Engine HostConfig settings allowed, limits applied; no NetworkMode
    networks: NetworkPlan
    mounts: tuple[Mount, ...]  # the agent's volumes, then the run's binds
    env: dict[str, str]
    labels: dict[str, str]
    command: list[str] | None  # None: the image's own
    timeout: float | None  # seconds the run may take
    ship_logs: bool  # its output becomes run logs (no flow runner inside to send them)


def plan_run(
    run: FlowRun,
    config: AgentConfig,
    *,
    agent_id: str,
    daemon_id: str,
    host_os: str = "linux",
    real_path: Callable[[str], str] | None = None,
    instance: str | None = None,
    lease: str | None = None,
) -> PlannedRun:
    """The decisions both plan shapes share; ``RunRefused`` (or ``InvalidImageReference``)
    before anything is created. See ``plan_container`` for the arguments."""
    run_config = parse_run_config(run.id, run.run_config)
    ref = parse_image_reference(select_image(run.flow.core_version, run.flow.storage, run_config.image))
    check_image_allowed(ref, config.reg_allow_list, config.allow_images)
    request = translate_host_config(run_config.host_config, host_os=host_os)
    networks = plan_networks(config.networks, request.settings.get("NetworkMode"))
    first_network = config.networks[0] if config.networks else None
    settings = apply_run_policy(
        request, config.policy, host_os=host_os, agent_network=first_network, real_path=real_path
    )
    settings.pop("NetworkMode", None)  # the network plan decides it
    mounts = _merge_mounts(config.volumes, request.binds)
    env = flow_run_env(
        config,
        run_config.env,
        flow_run_id=run.id,
        flow_id=run.flow.id,
        image=ref.reference,
        host_network=networks.mode == "host",
    )
    timeout = run_config.timeout if run_config.timeout is not None else config.run_timeout
    ship_logs = run_config.command is not None  # no flow runner inside to send them
    labels = container_labels(
        flow_name=run.flow.name,
        flow_id=run.flow.id,
        flow_run_id=run.id,
        flow_run_name=run.name,
        agent_name=config.name,
        agent_id=agent_id,
        daemon_id=daemon_id,
        timeout=timeout,
        ship_logs=ship_logs,
        instance=instance,
        lease=lease,
    )
    # An empty run-config command means the image's own CMD.
    command = (
        None
        if run_config.command == ()
        else list(flow_run_command(run.flow.core_version, run_config.command))
    )
    return PlannedRun(
        run_config=run_config,
        image=ref,
        request=request,
        settings=settings,
        networks=networks,
        mounts=mounts,
        env=env,
        labels=labels,
        command=command,
        timeout=timeout,
        ship_logs=ship_logs,
    )


def plan_container(
    run: FlowRun,
    config: AgentConfig,
    *,
    agent_id: str,
    daemon_id: str,
    host_os: str = "linux",
    real_path: Callable[[str], str] | None = None,
    instance: str | None = None,
    lease: str | None = None,
) -> ContainerPlan:
    """``real_path``: symbolic links resolved on the daemon's host, when the agent can see
    its file system (see ``apply_run_policy``). ``instance`` and ``lease``: the deploying
    agent process's ids (``ownership``); a dry-run plan has none."""
    planned = plan_run(
        run,
        config,
        agent_id=agent_id,
        daemon_id=daemon_id,
        host_os=host_os,
        real_path=real_path,
        instance=instance,
        lease=lease,
    )
    if planned.run_config.placement is not None:
        raise RunRefused(
            "The run asks for a Swarm `placement`, but this agent runs containers on one Docker daemon "
            "(an agent started with --swarm places runs on a Swarm's nodes)"
        )
    ref, networks = planned.image, planned.networks
    body: dict[str, Any] = {
        "Image": ref.reference,
        # A null Cmd is the image's own CMD to Docker.
        "Cmd": planned.command,
        "Env": [f"{key}={value}" for key, value in planned.env.items()],
        "Labels": planned.labels,
        "HostConfig": _host_config(
            planned.settings, planned.mounts, planned.request, networks, config.docker_interface
        ),
    }
    if planned.run_config.ports:
        body["ExposedPorts"] = {port: {} for port in planned.run_config.ports}
    if networks.endpoints:
        body["NetworkingConfig"] = {"EndpointsConfig": {name: {} for name in networks.endpoints}}
    return ContainerPlan(
        name=container_name(run.name, run.id),
        image=ref.reference,
        pull=may_pull(ref, config.pull_policy),
        create_volumes=named_volumes(planned.mounts),
        connect_networks=networks.connect,
        body=body,
        secret_env=secret_keys(planned.env),
        pull_first=pulls_first(ref, config.pull_policy),
        timeout=planned.timeout,
        ship_logs=planned.ship_logs,
    )


def _merge_mounts(agent: tuple[Mount, ...], run: tuple[Mount, ...]) -> tuple[Mount, ...]:
    taken = {mount.target for mount in agent}
    for mount in run:
        if mount.target in taken:
            raise RunRefused(
                f"The run's binds mount {mount.target}, which the agent already mounts (--volume); "
                "a run cannot replace the agent's volumes"
            )
    return agent + run


def _host_config(
    settings: dict[str, Any],
    mounts: tuple[Mount, ...],
    request: RunHostConfig,
    networks: NetworkPlan,
    docker_interface: bool,
) -> dict[str, Any]:
    host_config = dict(settings)
    if mounts:
        host_config["Binds"] = [mount.bind for mount in mounts]
    if networks.mode is not None:
        host_config["NetworkMode"] = networks.mode
    extra_hosts = extra_host_entries(request.extra_hosts, networks, docker_interface)
    if extra_hosts:
        host_config["ExtraHosts"] = extra_hosts
    return host_config


def extra_host_entries(
    run_hosts: Mapping[str, str], networks: NetworkPlan, docker_interface: bool
) -> list[str]:
    """``host:address`` entries: the agent's ``host.docker.internal`` (unless turned off),
    then the run's own, which may not redefine it."""
    if networks.mode is not None and networks.mode.startswith("container:"):
        if run_hosts:
            raise RunRefused("extra_hosts cannot be combined with a container: network mode")
        return []  # the container shares the other container's /etc/hosts
    hosts = {CONTAINER_HOST: "host-gateway"} if docker_interface else {}
    for host, address in run_hosts.items():
        if host in hosts:
            raise RunRefused(
                f"The run's extra_hosts redefines {host}, which the agent sets; a run cannot change it"
            )
        hosts[host] = address
    return [f"{host}:{address}" for host, address in hosts.items()]


def redacted(plan: ContainerPlan) -> dict[str, Any]:
    """The plan as JSON-ready data with secret env values replaced by ``<redacted>``."""
    body = json.loads(json.dumps(plan.body))
    if "Env" in body:
        body["Env"] = redacted_env(body["Env"], plan.secret_env)
    return {
        "name": plan.name,
        "pull": plan.pull,
        "create_volumes": list(plan.create_volumes),
        "connect_networks": list(plan.connect_networks),
        "container": body,
    }


def redacted_env(items: list[str], secret_env: frozenset[str]) -> list[str]:
    """``KEY=VALUE`` items with the values of secret keys replaced by ``<redacted>``."""
    env = []
    for item in items:
        key, _, value = item.partition("=")
        secret = value and (key in secret_env or is_secret_key(key))
        env.append(f"{key}={REDACTED}" if secret else item)
    return env
