"""PostgreSQL for the tests: the private cluster ``scripts/ensure-postgres.sh`` keeps (it
installs, initialises and starts it when needed), and databases made and dropped by the
fixtures in tests/conftest.py.

    url = create_database(cluster_url(), "dy_example")   # postgresql://postgres@/dy_example?host=...
    ...
    drop_database(cluster_url(), "dy_example")
"""

from __future__ import annotations

import functools
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from dockyard.domain.server.catalog import TABLES

REPO = Path(__file__).resolve().parents[2]


@functools.cache
def cluster_url() -> str:
    """The URL of the cluster's maintenance database (starting the cluster if needed)."""
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "ensure-postgres.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/ensure-postgres.sh failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def database_url(cluster: str, name: str) -> str:
    return urlunsplit(urlsplit(cluster)._replace(path=f"/{name}"))


def new_name(prefix: str = "dy") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def create_database(cluster: str, name: str) -> str:
    with psycopg.connect(cluster, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    return database_url(cluster, name)


def drop_database(cluster: str, name: str) -> None:
    with psycopg.connect(cluster, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_tables(url: str) -> None:
    """Every catalog table emptied (identities restarted): a migrated database made new."""
    with psycopg.connect(url, autocommit=True) as connection:
        present = {
            str(row[0])
            for row in connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            ).fetchall()
        }
        names = [name for name in TABLES if name in present]
        if names:
            connection.execute(f"TRUNCATE {', '.join(names)} RESTART IDENTITY")
