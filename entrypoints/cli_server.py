"""``dockyard server``: the embedded, Prefect-Server-compatible backend."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

import click

from dockyard.adapters.graphql_api.serving import ApiServer, listen_hosts
from dockyard.adapters.graphql_api.wsgi import DEFAULT_MAX_BODY
from dockyard.domain.errors import DockyardError
from dockyard.entrypoints.containers import Container

log = logging.getLogger("dockyard.server")


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/dockyard/dockyard.db``, else ``~/.local/share/dockyard/dockyard.db``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dockyard" / "dockyard.db"


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
    """The embedded backend: a Prefect Server 1.x compatible GraphQL API on SQLite.

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
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="DOCKYARD_SERVER_DB",
    help="SQLite database file, created if missing. [default: $XDG_DATA_HOME/dockyard/dockyard.db "
    "or ~/.local/share/dockyard/dockyard.db]",
)
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
    help="Require `Authorization: Bearer <key>` on every GraphQL request (/health stays open) "
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
@click.pass_obj
def start(
    root: Container,
    *,
    hosts: tuple[str, ...],
    port: int,
    db_path: Path | None,
    docker_bridge: bool,
    api_key: str | None,
    api_key_file: Path | None,
    threads: int,
    max_body_size: int,
    log_level: str,
) -> None:
    """Start the API server and serve until interrupted (Ctrl-C or SIGTERM).

    GraphQL is served over HTTP POST at / and /graphql; GET /health answers
    {"status": "ok"}; a browser opening http://HOST:PORT/ gets the dashboard. Everything is
    kept in one SQLite file: stopping and starting again loses nothing. Point Prefect 1
    clients at it with PREFECT__BACKEND=server and PREFECT__SERVER__ENDPOINT=http://HOST:PORT.
    """
    logging.basicConfig(
        level=log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    path = (db_path or default_db_path()).expanduser().resolve()
    settings = {
        "db_path": str(path),
        "api_key": _read_key(api_key, api_key_file),
        "max_body_size": max_body_size,
        "max_listeners": max(1, threads // 2),
    }
    root.config.from_dict({"server": settings})
    container = root.server  # only the server's resources are started
    try:
        container.init_resources()
        container.service().tenancy.ensure_default_tenant()
        addresses = listen_hosts(hosts, docker_bridge=docker_bridge)
        api = ApiServer(container.app(), addresses, port, threads=threads, max_body=max_body_size)
    except DockyardError:  # the CLI says what went wrong
        container.shutdown_resources()
        raise
    release_waiters = container.queue_signal().release_all

    def stop(signum: int, _frame: FrameType | None) -> None:
        # Answer agents' long polls first: waitress waits for busy threads when it stops.
        release_waiters()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    auth = "API key required" if settings["api_key"] else "no API key"
    log.info("dockyard server listening on %s (database %s, %s)", ", ".join(api.urls), path, auth)
    log.info("dashboard at %s/", api.urls[0])
    try:
        api.run()
    finally:
        release_waiters()
        api.close()
        container.shutdown_resources()
        log.info("dockyard server stopped")
