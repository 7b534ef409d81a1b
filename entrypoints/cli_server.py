"""``dockyard server``: the embedded, Prefect-Server-compatible backend."""

from __future__ import annotations

import dataclasses
import logging
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import click

from dockyard.adapters.graphql_api.limits import OPTION_NAMES, QueryLimits
from dockyard.adapters.graphql_api.serving import ApiServer, listen_hosts
from dockyard.adapters.graphql_api.wsgi import DEFAULT_MAX_BODY
from dockyard.domain.errors import DockyardError
from dockyard.entrypoints.cli_database import database_location, database_option, migrate_option, shown
from dockyard.entrypoints.cli_services import log_format_option, services_options, services_settings
from dockyard.entrypoints.containers import Container
from dockyard.entrypoints.logs import SERVER_PLAIN, configure_logging

log = logging.getLogger("dockyard.server")

# On SIGTERM/SIGINT, requests in flight get this long to finish their work; then a second
# to send their answers. A second signal cuts the work off at once.
SHUTDOWN_GRACE = 2.5
FLUSH_GRACE = 1.0

_LIMIT_HELP: dict[str, tuple[click.ParamType[Any], str]] = {
    "max_tokens": (
        click.IntRange(100),
        "Tokens a query document may have; longer ones are refused unparsed.",
    ),
    "max_depth": (click.IntRange(2), "Levels of nested selections, counted through fragments."),
    "max_fields": (click.IntRange(10), "Fields a document selects once fragments and aliases are expanded."),
    "max_cost": (
        click.IntRange(100),
        "Estimated values a document may resolve: each list field counts its selections once per row "
        "it may return (its limit argument, or 100 without one).",
    ),
    "max_rows_per_field": (
        click.IntRange(1),
        "Rows one list field may return; a longer list is an error asking the client to page.",
    ),
    "max_rows": (click.IntRange(1), "Rows one request may read, all fields together."),
    "max_response_bytes": (click.IntRange(1024), "Bytes of text and JSON values one response may hold."),
    "time_limit": (
        click.FloatRange(0.001),
        "Seconds of work per request; resolvers and SQLite statements are stopped at the limit "
        "(long polls wait outside it).",
    ),
}


def _limit_options(command: Callable[..., Any]) -> Callable[..., Any]:
    defaults = QueryLimits()
    for name in reversed(list(_LIMIT_HELP)):
        kind, text = _LIMIT_HELP[name]
        option = OPTION_NAMES[name]
        command = click.option(
            option,
            name,
            default=getattr(defaults, name),
            show_default=True,
            type=kind,
            envvar="DOCKYARD_SERVER_" + option.removeprefix("--").replace("-", "_").upper(),
            help=text,
        )(command)
    return command


def _read_key(api_key: str | None, api_key_file: Path | None) -> str | None:
    if api_key_file is not None:
        try:
            key = api_key_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise click.ClickException(
                f"cannot read the API key file {api_key_file}: {exc.strerror}"
            ) from exc
        if not key:
            raise click.ClickException(f"the API key file {api_key_file} is empty")
        return key
    return api_key or None


@click.group("server")
def server() -> None:
    """The embedded backend: a Prefect Server 1.x compatible GraphQL API on SQLite or PostgreSQL.

    Prefect 1.4.1 clients (agents, `prefect execute flow-run`, `flow.register()`,
    `prefect register`) and dockyard's own agent and `dockyard run` commands work against it.
    """


@server.command("start")
@click.option(
    "--host",
    "hosts",
    multiple=True,
    default=("127.0.0.1",),
    show_default=True,
    envvar="DOCKYARD_SERVER_HOST",
    help="Address to listen on; repeat to listen on several. 0.0.0.0 means every interface.",
)
@click.option(
    "--port",
    default=4200,
    show_default=True,
    type=click.IntRange(0, 65535),
    envvar="DOCKYARD_SERVER_PORT",
    help="TCP port (the same on every address).",
)
@database_option
@migrate_option
@click.option(
    "--docker-bridge/--no-docker-bridge",
    default=True,
    show_default=True,
    envvar="DOCKYARD_SERVER_DOCKER_BRIDGE",
    help="Also listen on the docker0 bridge address (if present) so flow containers reach the "
    "server as host.docker.internal.",
)
@click.option(
    "--api-key",
    envvar="DOCKYARD_SERVER_API_KEY",
    help="Require `Authorization: Bearer <key>` on every GraphQL request (/health and /metrics stay "
    "open) "
    "and a login with the key on the dashboard.",
)
@click.option(
    "--api-key-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Read the API key from this file (wins over --api-key).",
)
@click.option(
    "--threads",
    default=16,
    show_default=True,
    type=click.IntRange(2, 256),
    help="Worker threads serving requests; agents waiting for queue changes may hold up to half.",
)
@click.option(
    "--max-body-size",
    default=DEFAULT_MAX_BODY,
    show_default=True,
    type=click.IntRange(1024),
    help="Largest request body accepted, in bytes.",
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    envvar="DOCKYARD_SERVER_LOG_LEVEL",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="DEBUG logs one line per request.",
)
@log_format_option("DOCKYARD_SERVER_LOG_FORMAT")
@click.option(
    "--metrics/--no-metrics",
    default=True,
    show_default=True,
    envvar="DOCKYARD_SERVER_METRICS",
    help="Serve Prometheus metrics at GET /metrics, without the API key (like /health).",
)
@_limit_options
@services_options
@click.pass_obj
def start(
    root: Container,
    /,
    *,
    hosts: tuple[str, ...],
    port: int,
    db_path: str | None,
    migrate: bool,
    docker_bridge: bool,
    api_key: str | None,
    api_key_file: Path | None,
    threads: int,
    max_body_size: int,
    log_level: str,
    log_format: str,
    metrics: bool,
    **options: Any,
) -> None:
    """Start the API server and serve until interrupted (Ctrl-C or SIGTERM).

    GraphQL is served over HTTP POST at / and /graphql; GET /health answers
    {"status": "ok"}; GET /metrics serves Prometheus metrics; a browser opening
    http://HOST:PORT/ gets the dashboard. Everything is
    kept in one SQLite file, or in a PostgreSQL database that several servers may share
    (--db postgresql://...): stopping and starting again loses nothing. Point Prefect 1
    clients at it with PREFECT__BACKEND=server and PREFECT__SERVER__ENDPOINT=http://HOST:PORT.

    Limits: no request can take the server down. A document too big (tokens, depth, fields
    or estimated cost, counted through fragments and aliases) is refused before it runs;
    what runs is bounded by rows per list, rows per request, response size and a time limit.
    Each refusal is an error naming the limit, its value and the option that sets it; each
    option can also be set as DOCKYARD_SERVER_<OPTION> (e.g. DOCKYARD_SERVER_MAX_QUERY_COST).
    SIGTERM stops within a few seconds: requests in flight finish (or are cut off) first.

    Prefect Server's services run inside: the scheduler (runs of flows with an active
    schedule), the zombie killer and Lazarus (runs whose heartbeats stopped); see their
    options below.
    """
    configure_logging(
        log_level, log_format.lower(), plain=SERVER_PLAIN, stream=sys.stderr, libraries=log_level
    )
    location = database_location(db_path)
    limits = {name: value for name, value in options.items() if name in OPTION_NAMES}
    services = {name: value for name, value in options.items() if name not in OPTION_NAMES}
    settings = {
        "db_path": location,
        "migrate": migrate,
        "pool_size": threads + 4,  # every worker, the services and a spare
        "api_key": _read_key(api_key, api_key_file),
        "max_body_size": max_body_size,
        "max_listeners": max(1, threads // 2),
        "limits": dataclasses.replace(QueryLimits(), **limits),
        "metrics": metrics,
    }
    root.config.from_dict({"server": settings})
    container = root.server  # only the server's resources are started
    container.services_settings.override(services_settings(services))
    try:
        container.init_resources()
        container.service().tenancy.ensure_default_tenant()
        addresses = listen_hosts(hosts, docker_bridge=docker_bridge)
        api = ApiServer(container.app(), addresses, port, threads=threads, max_body=max_body_size)
    except DockyardError:  # the CLI says what went wrong
        container.shutdown_resources()
        raise
    deadlines, queue_signal = container.deadlines(), container.queue_signal()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        if deadlines.stopping:
            deadlines.cut_off(0.0)  # asked again: no more grace
        api.ask_to_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    auth = "API key required" if settings["api_key"] else "no API key"
    log.info("dockyard server listening on %s (database %s, %s)", ", ".join(api.urls), shown(location), auth)
    background = container.services()
    background.start()
    log.info("dashboard at %s/", api.urls[0])
    try:
        api.run()
    finally:
        began = time.monotonic()
        log.info("stopping: %d request(s) in flight get %.1f s to finish", api.in_flight(), SHUTDOWN_GRACE)
        deadlines.cut_off(SHUTDOWN_GRACE)  # new requests are answered 503 from now on
        queue_signal.release_all()  # agents' long polls answer at once
        background.ask_to_stop()  # the services end their pass under way meanwhile
        served = api.shut_down(SHUTDOWN_GRACE + FLUSH_GRACE)
        if background.stop(FLUSH_GRACE) and served:
            container.shutdown_resources()  # no thread uses the database any more
        else:
            log.warning("the database is left for the process exit to close")
        log.info("dockyard server stopped in %.1f s", time.monotonic() - began)
