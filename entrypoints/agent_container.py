"""The agent's providers in the composition root.

Gateways (the Docker client, the HTTP session) are Resources, so ``shutdown_resources()``
closes them; adapters are Singletons; the Agent use case is built from them. An embedding
program overrides any of them, e.g. ``container.agent.runtime.override(my_runtime)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import docker
import requests
from dependency_injector import containers, providers

from dockyard.adapters.agent_api import AgentApiServer
from dockyard.adapters.docker_client import TlsSettings, build_docker_client
from dockyard.adapters.docker_runtime import DockerContainerRuntime
from dockyard.adapters.error_counting import counting_backend_errors, counting_daemon_errors
from dockyard.adapters.file_leases import FileLeases
from dockyard.adapters.graphql_backend import GraphQLBackend
from dockyard.adapters.graphql_transport import GraphQLTransport
from dockyard.adapters.host_paths import daemon_shares_this_file_system, real_host_path
from dockyard.adapters.prometheus import PrometheusAgentMetrics, exposition
from dockyard.adapters.stdout_output import LoggedFlowOutput, StdoutFlowOutput
from dockyard.adapters.swarm_runtime import SwarmServiceRuntime
from dockyard.adapters.system_clock import SystemClock
from dockyard.domain.agent.agent import Agent
from dockyard.domain.agent.config import AgentConfig
from dockyard.domain.agent.redaction import RedactingBackend, RedactingOutput, Redactor
from dockyard.domain.errors import ConfigurationError
from dockyard.entrypoints.setting_values import parse_agent_address


def _tls_settings(config: AgentConfig) -> TlsSettings | None:
    """The agent's --tls-* options, or None when none is given (then, without --base-url,
    DOCKER_TLS_VERIFY and DOCKER_CERT_PATH decide, as for the Docker CLI)."""
    given = (config.tls_ca, config.tls_cert, config.tls_key, config.tls_verify)
    if all(value is None for value in given):
        return None
    return TlsSettings(
        ca_cert=config.tls_ca,
        client_cert=config.tls_cert,
        client_key=config.tls_key,
        verify=config.tls_verify,
    )


def _docker_client(config: AgentConfig) -> Iterator[docker.DockerClient]:
    client = build_docker_client(config.base_url, config.docker_client_timeout, tls=_tls_settings(config))
    try:
        yield client
    finally:
        client.close()


def _http_session(config: AgentConfig) -> Iterator[requests.Session]:
    session = requests.Session()
    # The environment's proxy and CA settings, read once: with trust_env on, requests
    # reads them again on every request, and the agent makes many.
    session.proxies.update(requests.utils.get_environ_proxies(config.api))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False
    try:
        yield session
    finally:
        session.close()


def _runtime(
    config: AgentConfig, client: docker.DockerClient
) -> DockerContainerRuntime | SwarmServiceRuntime:
    """Each run a container of the daemon's, or with ``--swarm`` a service of its Swarm's."""
    return SwarmServiceRuntime(client) if config.swarm else DockerContainerRuntime(client)


def _leases(config: AgentConfig) -> FileLeases:
    if config.lock_dir is None:
        raise ConfigurationError("there is no home directory for the agent's lock file: set --lock-dir")
    return FileLeases(config.lock_dir)


def _redactor(config: AgentConfig) -> Redactor:
    return Redactor([config.key])


def _api_server(config: AgentConfig, agent: Agent, metrics: PrometheusAgentMetrics) -> AgentApiServer | None:
    """``/api/health``, ``/api/poke`` and ``/metrics`` at ``--agent-address``; None without one."""
    if not config.agent_address:
        return None
    host, port = parse_agent_address(config.agent_address)
    return AgentApiServer(
        host,
        port,
        health=agent.health_report,
        poke=agent.poke,
        metrics=lambda accept: exposition(metrics.registry, accept),
    )


def _flow_output(config: AgentConfig) -> StdoutFlowOutput | LoggedFlowOutput:
    """Flow-run output lines as the agent's log lines are: JSON with ``--log-format json``."""
    return LoggedFlowOutput() if config.log_format == "json" else StdoutFlowOutput()


def _real_path(config: AgentConfig) -> Callable[[str], str] | None:
    """Bind sources are checked with their symbolic links followed where the daemon shares
    this machine's file system (a local daemon)."""
    return real_host_path if daemon_shares_this_file_system(config.base_url) else None


class AgentContainer(containers.DeclarativeContainer):
    config = providers.Dependency(instance_of=AgentConfig)

    # Gateways
    docker_client = providers.Resource(_docker_client, config=config)
    http_session = providers.Resource(_http_session, config=config)

    # Adapters
    clock = providers.Singleton(SystemClock)
    leases = providers.Singleton(_leases, config=config)
    # The agent's metrics, in a registry of this container's own (``/metrics``).
    metrics = providers.Singleton(PrometheusAgentMetrics, agent_name=config.provided.name)
    docker_runtime = providers.Singleton(_runtime, config=config, client=docker_client)
    runtime = providers.Singleton(
        counting_daemon_errors, runtime=docker_runtime, count=metrics.provided.daemon_error
    )
    transport = providers.Singleton(
        GraphQLTransport,
        session=http_session,
        url=config.provided.api,
        api_key=config.provided.key,
    )
    graphql_backend = providers.Singleton(
        GraphQLBackend, transport=transport, tenant_id=config.provided.tenant_id
    )
    counted_backend = providers.Singleton(
        counting_backend_errors, backend=graphql_backend, count=metrics.provided.backend_error
    )
    # The agent's API key is taken out of every run log, state and output line it passes on.
    redactor = providers.Singleton(_redactor, config=config)
    backend = providers.Singleton(RedactingBackend, backend=counted_backend, redactor=redactor)
    output = providers.Singleton(
        RedactingOutput, output=providers.Singleton(_flow_output, config=config), redactor=redactor
    )

    # Use cases
    real_path = providers.Callable(_real_path, config=config)
    agent = providers.Singleton(
        Agent,
        config=config,
        backend=backend,
        runtime=runtime,
        clock=clock,
        leases=leases,
        real_path=real_path,
        output=output,
        metrics=metrics,
    )

    # Driving adapters
    api_server = providers.Singleton(_api_server, config=config, agent=agent, metrics=metrics)
