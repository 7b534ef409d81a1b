"""The environment a flow-run container gets.

Layers, later ones winning: the API URL and the agent's logging level, then the agent's
``--env``, then the run config's ``env``, then the cloud-logs switch (a run may turn it off
but not on), then the keys Prefect's flow runner needs, which nobody overrides.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from dockyard.domain.agent.config import AgentConfig

BACKEND = "server"
CONTAINER_HOST = "host.docker.internal"
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")
NOT_SECRET = frozenset({"PREFECT__CLOUD__USE_LOCAL_SECRETS"})  # a switch, named after secrets
SEND_FLOW_RUN_LOGS = "PREFECT__CLOUD__SEND_FLOW_RUN_LOGS"
_URL = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?)(?P<host>\[[^\]/]*\]|[^:/?#\[\]]*)(?P<tail>(?::\d*)?(?:[/?#].*)?)",
    re.DOTALL,
)


def url_host(url: str) -> str | None:
    """The host of an absolute URL (brackets of an IPv6 literal removed), or None."""
    match = _URL.fullmatch(url)
    return match.group("host").strip("[]") if match else None


def is_loopback_host(host: str) -> bool:
    """``localhost`` (and its sub-domains), 127.0.0.0/8, ::1, and the unspecified
    addresses 0.0.0.0 / :: (which reach the same machine when connected to)."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def container_api_url(api_url: str, *, host_network: bool) -> str:
    """The agent's API URL as a container reaches it: a loopback host becomes
    ``host.docker.internal`` (scheme, port and path kept) unless the container shares the
    host's network, where loopback already is the host."""
    match = _URL.fullmatch(api_url)
    if host_network or match is None or not is_loopback_host(match.group("host").strip("[]")):
        return api_url
    return f"{match.group('head')}{CONTAINER_HOST}{match.group('tail')}"


def flow_run_env(
    config: AgentConfig,
    run_env: Mapping[str, str],
    *,
    flow_run_id: str,
    flow_id: str,
    image: str,
    host_network: bool,
) -> dict[str, str]:
    env = {
        "PREFECT__CLOUD__API": container_api_url(config.api, host_network=host_network),
        "PREFECT__LOGGING__LEVEL": config.logging_level,
    }
    env.update(config.env_vars)
    env.update(run_env)
    if not config.send_flow_run_logs or SEND_FLOW_RUN_LOGS not in env:
        env[SEND_FLOW_RUN_LOGS] = str(config.send_flow_run_logs).lower()
    key = config.key or ""
    env.update(
        {
            "PREFECT__BACKEND": BACKEND,
            "PREFECT__CLOUD__API_KEY": key,
            "PREFECT__CLOUD__TENANT_ID": (config.tenant_id or "") if key else "",
            "PREFECT__CLOUD__AGENT__LABELS": repr(list(config.labels)),
            "PREFECT__CONTEXT__FLOW_RUN_ID": flow_run_id,
            "PREFECT__CONTEXT__FLOW_ID": flow_id,
            "PREFECT__CONTEXT__IMAGE": image,
            "PREFECT__CLOUD__USE_LOCAL_SECRETS": "false",
            "PREFECT__ENGINE__FLOW_RUNNER__DEFAULT_CLASS": "prefect.engine.cloud.CloudFlowRunner",
            "PREFECT__LOGGING__LOG_TO_CLOUD": str(config.send_flow_run_logs).lower(),
            "PREFECT__CLOUD__AUTH_TOKEN": key,
        }
    )
    return env


def is_secret_key(name: str) -> bool:
    upper = name.upper()
    return upper not in NOT_SECRET and any(word in upper for word in SECRET_WORDS)


def secret_keys(env: Mapping[str, str]) -> frozenset[str]:
    """Keys whose values are hidden wherever an environment is shown."""
    return frozenset(name for name in env if is_secret_key(name))
