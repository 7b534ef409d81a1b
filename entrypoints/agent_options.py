"""The agent's command-line options, shared by every ``dockyard agent`` command.

Option names are Prefect 1's where it had them (``-a/--api``, ``-l/--label``, ``--volume``,
...) plus dockyard's own. Click only parses them: ``agent_overrides`` hands the options
actually given on the command line to ``resolve_agent_config``, which merges them over the
environment and the config file, so a default here never hides a setting from there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from click.core import ParameterSource

F = TypeVar("F", bound=Callable[..., Any])

CONFIG_OPTION = "config_file"


def _env_pairs(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    pairs = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", ctx=ctx, param=param)
        pairs[key] = value
    return pairs


_OPTIONS = [
    click.option("-a", "--api", help="The backend's GraphQL API URL [default: http://127.0.0.1:4200]."),
    click.option("-k", "--key", help="API key for the backend (prefer PREFECT__CLOUD__API_KEY)."),
    click.option("--tenant-id", help="Tenant to serve (a UUID)."),
    click.option("--agent-config-id", help="Backend agent configuration to register with."),
    click.option("-n", "--name", help="Agent name [default: agent]."),
    click.option("-l", "--label", "labels", multiple=True, help="Serve runs with this label (repeatable)."),
    click.option(
        "-e",
        "--env",
        "env_vars",
        multiple=True,
        callback=_env_pairs,
        metavar="KEY=VALUE",
        help="Environment variable for every flow run (repeatable).",
    ),
    click.option("--max-polls", type=click.IntRange(min=0), help="Stop after this many polls."),
    click.option("--agent-address", help="Serve /api/health and /api/poke at [http://]HOST:PORT."),
    click.option("--no-cloud-logs", is_flag=True, help="Flow runs do not send their logs to the backend."),
    click.option(
        "--log-level",
        type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], case_sensitive=False),
        help="The agent's log level [default: INFO].",
    ),
    click.option("-b", "--base-url", help="Docker daemon URL [default: DOCKER_HOST or the local socket]."),
    click.option(
        "--tls-ca", metavar="PATH", help="CA certificate the tcp:// daemon's certificate is checked against."
    ),
    click.option("--tls-cert", metavar="PATH", help="Client certificate for the daemon (with --tls-key)."),
    click.option("--tls-key", metavar="PATH", help="The client certificate's private key."),
    click.option(
        "--tls-verify/--no-tls-verify",
        default=None,
        help="Check the daemon's certificate [default: when --tls-ca is given]. Without --base-url, "
        "DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH apply (--tls-* options win).",
    ),
    click.option("--no-pull", is_flag=True, help="Never pull images (same as --pull-policy never)."),
    click.option("-f", "--show-flow-logs", is_flag=True, help="Print flow-run container output."),
    click.option(
        "--volume", "volumes", multiple=True, help="Mount SRC:DST[:MODE] in every run (repeatable)."
    ),
    click.option("--network", "networks", multiple=True, help="Docker network for every run (repeatable)."),
    click.option("--no-docker-interface", is_flag=True, help="Do not add host.docker.internal:host-gateway."),
    click.option(
        "--docker-client-timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds [default: 60]."
    ),
    click.option(
        "--reg-allow-list", multiple=True, help="Allowed registry or Docker Hub namespace (repeatable)."
    ),
    click.option(
        "--pull-policy",
        type=click.Choice(["always", "if-not-present", "never"]),
        help="[default: always for :latest or untagged, else if-not-present]",
    ),
    click.option(
        "--allow-image", "allow_images", multiple=True, help="Allowed image pattern, * and ** (repeatable)."
    ),
    click.option("--allow-privileged", is_flag=True, help="Runs may ask for privileged mode."),
    click.option(
        "--allow-cap-add", multiple=True, metavar="CAP", help="Capability runs may add, or ALL (repeatable)."
    ),
    click.option("--allow-host-namespaces", is_flag=True, help="Runs may use host or container: namespaces."),
    click.option(
        "--allow-device", "allow_devices", multiple=True, metavar="PATH", help="Device runs may use."
    ),
    click.option("--allow-security-opt", is_flag=True, help="Runs may set security options."),
    click.option("--allow-sysctls", is_flag=True, help="Runs may set sysctls."),
    click.option(
        "--allow-public-ports",
        is_flag=True,
        help="Runs may publish ports on every interface; without it only on 127.0.0.1/::1.",
    ),
    click.option(
        "--allow-bind-root", "allow_bind_roots", multiple=True, metavar="PATH", help="Host dir runs may bind."
    ),
    click.option("--allow-named-volumes", is_flag=True, help="Runs may mount named volumes."),
    click.option(
        "--allow-runtime", "allow_runtimes", multiple=True, metavar="NAME", help="Runtime runs may use."
    ),
    click.option(
        "--allow-network", "allow_networks", multiple=True, metavar="NAME", help="Network runs may join."
    ),
    click.option("--allow-gpus", is_flag=True, help="Runs may request GPUs (device_requests)."),
    click.option("--max-memory", metavar="SIZE", help="Memory limit cap (e.g. 2g), also the default limit."),
    click.option(
        "--max-cpus", type=click.FloatRange(min=0, min_open=True), help="CPU cap, also the default."
    ),
    click.option("--max-shm-size", metavar="SIZE", help="Largest /dev/shm a run may ask for."),
    click.option("--max-pids", type=click.IntRange(min=1), help="Process cap, also the default."),
    click.option("--limit", type=click.IntRange(min=1), help="Flow-run containers running at once."),
    click.option(
        "--run-timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds a run may take."
    ),
    click.option(
        "--cancel-grace", type=click.FloatRange(min=0), help="Seconds from SIGTERM to SIGKILL [default: 30]."
    ),
    click.option(
        "--keep-containers", is_flag=True, help="Keep finished containers instead of removing them."
    ),
    click.option(
        "--lock-dir",
        type=click.Path(file_okay=False),
        help="Where the agent keeps its lock file (one per agent name and Docker daemon: a second "
        "live agent with the same name is refused) [default: $XDG_STATE_HOME/dockyard/agents or "
        "~/.local/state/dockyard/agents].",
    ),
    click.option(
        "--registry-auth-file",
        type=click.Path(dir_okay=False),
        help="JSON or TOML file of registry: {username, password}.",
    ),
    click.option(
        "--config",
        CONFIG_OPTION,
        type=click.Path(dir_okay=False),
        help="TOML config file [env: DOCKYARD_AGENT_CONFIG].",
    ),
]


def agent_options(command: F) -> F:
    """Add every agent option to a click command."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def _option_names() -> frozenset[str]:
    probe = agent_options(lambda: None)
    return frozenset(str(param.name) for param in probe.__click_params__)  # type: ignore[attr-defined]


OPTION_NAMES = _option_names()


def agent_overrides(ctx: click.Context) -> dict[str, object]:
    """The agent options given on the command line, by ``DockerAgent``'s keyword names."""
    given: dict[str, object] = {}
    for name in OPTION_NAMES - {CONFIG_OPTION}:
        if ctx.get_parameter_source(name) is not ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[name]
        if name == "no_docker_interface":
            given["docker_interface"] = not value
        else:
            given[name] = list(value) if isinstance(value, tuple) else value
    return given


def config_file_option(ctx: click.Context) -> str | None:
    value = ctx.params.get(CONFIG_OPTION)
    return str(value) if value else None
