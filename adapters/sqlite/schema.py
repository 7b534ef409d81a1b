"""Tables and indexes, created from the domain catalog.

Each table gets a TEXT primary key ``id`` and its unique keys. A database written by an
older dockyard gains any newer columns on open (additive migrations), so upgrading never
needs a manual step.
"""

from __future__ import annotations

import sqlite3

from dockyard.domain.server.catalog import TABLES, Kind, Table

SCHEMA_VERSION = 1

_SQL_TYPES = {Kind.INT: "INTEGER", Kind.BOOL: "INTEGER"}

# The queue filters by state and state_start_time; everything else is looked up by parent.
INDEXES = {
    "flow_run_queue": ("flow_run", ("state", "state_start_time")),
    "flow_run_start": ("flow_run", ("state_start_time",)),
    "flow_run_flow": ("flow_run", ("flow_id",)),
    "flow_run_agent": ("flow_run", ("agent_id",)),
    # A generated run name is checked against the tenant's runs before it is given.
    "flow_run_name": ("flow_run", ("tenant_id", "name")),
    # The scheduler's look-up of each flow's runs ahead.
    "flow_run_auto": ("flow_run", ("auto_scheduled", "scheduled_start_time")),
    "task_run_queue": ("task_run", ("state", "state_start_time")),
    "task_run_task": ("task_run", ("task_id",)),
    "flow_run_state_run": ("flow_run_state", ("flow_run_id",)),
    "task_run_state_run": ("task_run_state", ("task_run_id",)),
    "log_flow_run": ("log", ("flow_run_id", "timestamp")),
    "log_task_run": ("log", ("task_run_id",)),
    "flow_project_name": ("flow", ("project_id", "name")),
    "flow_group": ("flow", ("flow_group_id",)),
    "flow_version_group": ("flow", ("version_group_id",)),
    "edge_flow": ("edge", ("flow_id",)),
    "agent_tenant_name": ("agent", ("tenant_id", "name")),
    "artifact_task_run": ("task_run_artifact", ("task_run_id",)),
}


def _column(name: str, kind: Kind) -> str:
    if name == "id":
        return "id TEXT PRIMARY KEY NOT NULL"
    return f"{name} {_SQL_TYPES.get(kind, 'TEXT')}"


def _create_table(table: Table) -> str:
    parts = [_column(name, kind) for name, kind in table.columns.items()]
    parts += [f"UNIQUE ({', '.join(key)})" for key in table.unique]
    return f"CREATE TABLE IF NOT EXISTS {table.name} ({', '.join(parts)})"


def migrate(connection: sqlite3.Connection) -> None:
    """Bring the database to the catalog's shape (idempotent; one transaction)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        for table in TABLES.values():
            connection.execute(_create_table(table))
            present = {row[1] for row in connection.execute(f"PRAGMA table_info({table.name})")}
            for name, kind in table.columns.items():
                if name not in present:
                    connection.execute(f"ALTER TABLE {table.name} ADD COLUMN {_column(name, kind)}")
        for index, (table_name, columns) in INDEXES.items():
            connection.execute(
                f"CREATE INDEX IF NOT EXISTS ix_{index} ON {table_name} ({', '.join(columns)})"
            )
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
