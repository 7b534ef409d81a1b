"""The background services' options, shared by `dockyard server start` and
`dockyard server services`, and the `services` command itself."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

import click

from dockyard.domain.errors import DockyardError
from dockyard.domain.server.liveness import DEFAULT_RESURRECTIONS, DEFAULT_THRESHOLD
from dockyard.domain.server.services import DEFAULT_SCHEDULER_INTERVAL, ServicesSettings
from dockyard.entrypoints.cli_database import database_location, database_option, migrate_option, shown
from dockyard.entrypoints.containers import Container
from dockyard.entrypoints.logs import LOG_FORMATS, SERVER_PLAIN, configure_logging

log = logging.getLogger("dockyard.server")

F = TypeVar("F", bound=Callable[..., Any])

_SECONDS = click.FloatRange(min=0.1)

_OPTIONS = (
    click.option(
        "--scheduler/--no-scheduler",
        default=True,
        show_default=True,
        envvar="DOCKYARD_SERVER_SCHEDULER",
        help="Create the runs of flows with an active schedule: always their next 10, "
        "never one in the past (Prefect Server's scheduler).",
    ),
    click.option(
        "--scheduler-interval",
        default=DEFAULT_SCHEDULER_INTERVAL,
        show_default=True,
        type=_SECONDS,
        envvar="DOCKYARD_SERVER_SCHEDULER_INTERVAL",
        help="Seconds between scheduler passes. Turning a schedule on schedules at once.",
    ),
    click.option(
        "--zombie-killer/--no-zombie-killer",
        default=True,
        show_default=True,
        envvar="DOCKYARD_SERVER_ZOMBIE_KILLER",
        help="Fail (or retry, if retries are left) Running task runs whose flow run sent no "
        "heartbeat for --zombie-threshold, and Cancelling flow runs likewise.",
    ),
    click.option(
        "--zombie-threshold",
        default=DEFAULT_THRESHOLD,
        show_default=True,
        type=_SECONDS,
        envvar="DOCKYARD_SERVER_ZOMBIE_THRESHOLD",
        help="Seconds without a heartbeat before a run counts as dead. Checked every fifth of it "
        "(1 to 60 s).",
    ),
    click.option(
        "--lazarus/--no-lazarus",
        default=True,
        show_default=True,
        envvar="DOCKYARD_SERVER_LAZARUS",
        help="Put Submitted/Running flow runs with no heartbeat for --lazarus-threshold and no "
        "task run under way back to Scheduled, --lazarus-attempts times, then fail them.",
    ),
    click.option(
        "--lazarus-threshold",
        default=DEFAULT_THRESHOLD,
        show_default=True,
        type=_SECONDS,
        envvar="DOCKYARD_SERVER_LAZARUS_THRESHOLD",
        help="Seconds without a heartbeat before Lazarus reschedules a flow run.",
    ),
    click.option(
        "--lazarus-attempts",
        default=DEFAULT_RESURRECTIONS,
        show_default=True,
        type=click.IntRange(0),
        envvar="DOCKYARD_SERVER_LAZARUS_ATTEMPTS",
        help="How many times Lazarus reschedules a flow run before it fails it.",
    ),
)


def log_format_option(envvar: str) -> Callable[[F], F]:
    return click.option(
        "--log-format",
        default="plain",
        show_default=True,
        envvar=envvar,
        type=click.Choice(LOG_FORMATS, case_sensitive=False),
        help="plain lines, or json: one object per line (timestamp, level, logger, message, and the "
        "record's fields).",
    )


def services_options(command: F) -> F:
    """Add the services' options to a click command (as keyword arguments)."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def services_settings(options: dict[str, Any]) -> ServicesSettings:
    return ServicesSettings(
        scheduler=bool(options["scheduler"]),
        scheduler_interval=float(options["scheduler_interval"]),
        zombie_killer=bool(options["zombie_killer"]),
        zombie_threshold=float(options["zombie_threshold"]),
        lazarus=bool(options["lazarus"]),
        lazarus_threshold=float(options["lazarus_threshold"]),
        lazarus_attempts=int(options["lazarus_attempts"]),
    )


@click.command("services")
@database_option
@migrate_option
@click.option("--once", is_flag=True, help="Run one pass of each service, print what it did, and exit.")
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@log_format_option("DOCKYARD_SERVER_LOG_FORMAT")
@services_options
@click.pass_obj
def services(
    root: Container,
    /,
    *,
    db_path: str | None,
    migrate: bool,
    once: bool,
    log_level: str,
    log_format: str,
    **options: Any,
) -> None:
    """Run the background services on a server's database without serving the API.

    `dockyard server start` runs them itself; this runs them alone (for instance beside API
    servers started with --no-scheduler --no-zombie-killer --no-lazarus), or once with
    --once. Several processes may run them on one database: a run is never created twice.
    """
    configure_logging(
        log_level, log_format.lower(), plain=SERVER_PLAIN, stream=sys.stderr, libraries=log_level
    )
    settings = services_settings(options)
    location = database_location(db_path)
    # No API here: the settings for serving requests only need to be valid.
    root.config.from_dict(
        {
            "server": {
                "db_path": location,
                "migrate": migrate,
                "pool_size": 8,
                "api_key": None,
                "max_body_size": 1,
                "max_listeners": 1,
            }
        }
    )
    container = root.server
    container.services_settings.override(settings)
    try:
        container.init_resources()
        running = container.services()
    except DockyardError:  # the CLI says what went wrong
        container.shutdown_resources()
        raise
    try:
        if once:
            for loop in running.loops:
                click.echo(f"{loop.name}: {loop.run_pass()}")
            return
        stopped = threading.Event()

        def stop(_signum: int, _frame: FrameType | None) -> None:
            stopped.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        running.start()
        intervals = ", ".join(f"{loop.name} every {loop.interval:g}s" for loop in running.loops)
        log.info("dockyard services running on %s: %s", shown(location), intervals or "none")
        while not stopped.wait(1.0):
            pass
        running.stop()
    finally:
        container.shutdown_resources()
