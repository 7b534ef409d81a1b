"""The server's database on the command line: ``--db`` (a SQLite file or a PostgreSQL
URL), ``--migrate/--no-migrate``, and ``dockyard server migrate``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from dockyard.adapters.sql.location import is_postgres_url, redacted
from dockyard.entrypoints.server_container import connect_store

F = TypeVar("F", bound=Callable[..., Any])

DB_HELP = (
    "The database: a SQLite file, created if missing (its directory must exist), or a "
    "PostgreSQL URL, postgresql://USER:PASSWORD@HOST:PORT/DATABASE (the database must exist; "
    "several servers may share it). "
    "[default: $XDG_DATA_HOME/dockyard/dockyard.db or ~/.local/share/dockyard/dockyard.db]"
)


def database_option(command: F) -> F:
    """``--db`` (also ``DOCKYARD_SERVER_DB``), passed as ``db_path``."""
    return click.option("--db", "db_path", envvar="DOCKYARD_SERVER_DB", metavar="FILE|URL", help=DB_HELP)(
        command
    )


def migrate_option(command: F) -> F:
    return click.option(
        "--migrate/--no-migrate",
        default=True,
        show_default=True,
        envvar="DOCKYARD_SERVER_MIGRATE",
        help="Upgrade the database's schema in place if an older dockyard made it. With "
        "--no-migrate such a database is refused (upgrade it with `dockyard server migrate`). "
        "A database of a newer dockyard is always refused.",
    )(command)


def database_location(given: str | None) -> str:
    """A PostgreSQL URL as given, else the SQLite file's full path (see ``database_path``)."""
    if given is not None and is_postgres_url(given):
        return given
    return str(database_path(Path(given) if given else None))


def database_path(given: Path | None) -> Path:
    """The database file to use. A path given must be in an existing directory (nothing is
    created around it); the default's directory is created."""
    if given is not None:
        path = given.expanduser().resolve()
        if not path.parent.is_dir():
            raise click.ClickException(
                f"the directory of the database {path} does not exist: create {path.parent} first "
                "(or leave --db out to use the default location)"
            )
        return path
    path = default_db_path().expanduser().resolve()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"cannot create {path.parent} for the database: {exc.strerror}") from exc
    return path


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/dockyard/dockyard.db``, else ``~/.local/share/dockyard/dockyard.db``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dockyard" / "dockyard.db"


def shown(location: str) -> str:
    """The database as logs and messages name it: never a password."""
    return redacted(location) if is_postgres_url(location) else location


@click.command("migrate")
@database_option
@click.option(
    "--check", is_flag=True, help="Change nothing: exit 1 (saying why) if the database needs an upgrade."
)
def migrate(*, db_path: str | None, check: bool) -> None:
    """Upgrade the server's database to this dockyard's schema, keeping every row.

    `dockyard server start` does it too when it opens an older database (unless started
    with --no-migrate); this does it alone, e.g. before starting several servers with
    --no-migrate. A database made by a newer dockyard is refused, never changed.
    """
    location = database_location(db_path)
    store = connect_store(location, migrate=not check, pool_size=1)
    store.close()
    click.echo(f"{shown(location)}: {store.schema}")
