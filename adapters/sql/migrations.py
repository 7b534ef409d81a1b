"""The schema's versions: each revision a list of operations, applied in order, recorded in
the database, for SQLite and PostgreSQL alike.

A database records the revisions it has had in ``dockyard_schema``. Opening it upgrades it
in place to ``HEAD`` in one transaction, taken exclusively so that two servers starting
together upgrade it once (or, with ``migrate=False``, refuses a database that is behind);
a database from a newer dockyard (a version above ``HEAD``) is always refused: this code
does not know what the newer one changed.

Every operation is idempotent (create if missing, add a column if missing, fill only what
is NULL), which is how a database written before versions existed (no ``dockyard_schema``:
version 0) is adopted: all revisions run, and each adds only what that database lacks.

Revision 1 is frozen here as dockyard's first release created it; later revisions say what
changed. ``tests/unit/server/test_migrations.py`` checks that all of them together give
exactly the catalog's tables, so a column added to the catalog needs a revision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dockyard.domain.errors import DockyardError
from dockyard.domain.server.catalog import Kind

VERSION_TABLE = "dockyard_schema"


@dataclass(frozen=True)
class CreateTable:
    """The table with its ``id`` primary key and unique keys; on a table that exists, the
    columns it lacks are added."""

    table: str
    columns: tuple[tuple[str, Kind], ...]
    unique: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class AddColumn:
    """A new column; ``fill`` (portable SQL, may refer to the row's table) sets it on the
    rows that have it NULL."""

    table: str
    column: str
    kind: Kind
    fill: str | None = None


@dataclass(frozen=True)
class CreateIndex:
    name: str
    table: str
    columns: tuple[str, ...]


Operation = CreateTable | AddColumn | CreateIndex


@dataclass(frozen=True)
class Revision:
    version: int
    summary: str
    operations: tuple[Operation, ...]


def _table(name: str, spec: str, *unique: tuple[str, ...]) -> CreateTable:
    columns = tuple((column, Kind(kind)) for column, kind in (part.split(":") for part in spec.split()))
    return CreateTable(name, columns, tuple(unique))


_STAMPS = "created:time updated:time"
_RUN_STATE = (
    "version:int state:text serialized_state:json state_message:text state_start_time:time "
    "state_timestamp:time start_time:time end_time:time heartbeat:time"
)
_HISTORY = (
    "id:uuid tenant_id:uuid version:int state:text message:text serialized_state:json "
    "start_time:time timestamp:time created:time"
)

# dockyard's first release (as its catalog made them); never edit: add a revision instead.
_FIRST_TABLES = (
    _table("tenant", f"id:uuid name:text slug:text settings:json {_STAMPS}", ("slug",)),
    _table("project", f"id:uuid tenant_id:uuid name:text description:text {_STAMPS}", ("tenant_id", "name")),
    _table(
        "flow_group",
        "id:uuid tenant_id:uuid name:text description:text labels:json settings:json run_config:json "
        f"default_parameters:json schedule:json idempotency_key:text {_STAMPS}",
        ("tenant_id", "name"),
    ),
    _table(
        "flow",
        "id:uuid tenant_id:uuid project_id:uuid flow_group_id:uuid version_group_id:text version:int "
        "name:text description:text core_version:text storage:json run_config:json environment:json "
        "parameters:json settings:json serialized_flow:json schedule:json is_schedule_active:bool "
        f"archived:bool {_STAMPS}",
    ),
    _table(
        "task",
        "id:uuid tenant_id:uuid flow_id:uuid name:text slug:text description:text type:text tags:json "
        "cache_key:text max_retries:int retry_delay:text trigger:text mapped:bool auto_generated:bool "
        f"{_STAMPS}",
        ("flow_id", "slug"),
    ),
    _table(
        "edge",
        "id:uuid tenant_id:uuid flow_id:uuid upstream_task_id:uuid downstream_task_id:uuid key:text "
        f"mapped:bool flattened:bool {_STAMPS}",
    ),
    _table(
        "flow_run",
        "id:uuid tenant_id:uuid flow_id:uuid agent_id:uuid name:text labels:json parameters:json "
        "context:json run_config:json idempotency_key:text scheduled_start_time:time "
        f"times_resurrected:int {_RUN_STATE} {_STAMPS}",
        ("flow_id", "idempotency_key"),
    ),
    _table(
        "task_run",
        "id:uuid tenant_id:uuid flow_run_id:uuid task_id:uuid map_index:int name:text cache_key:text "
        f"{_RUN_STATE} {_STAMPS}",
        ("flow_run_id", "task_id", "map_index"),
    ),
    _table("flow_run_state", f"flow_run_id:uuid {_HISTORY}"),
    _table("task_run_state", f"task_run_id:uuid {_HISTORY}"),
    _table(
        "log",
        "id:uuid tenant_id:uuid flow_run_id:uuid task_run_id:uuid timestamp:time name:text level:text "
        "message:text info:json created:time",
    ),
    _table(
        "agent",
        "id:uuid tenant_id:uuid agent_config_id:uuid name:text type:text core_version:text labels:json "
        f"last_queried:time {_STAMPS}",
    ),
    _table("agent_config", f"id:uuid tenant_id:uuid name:text settings:json {_STAMPS}"),
    _table("task_run_artifact", f"id:uuid tenant_id:uuid task_run_id:uuid kind:text data:json {_STAMPS}"),
)
# The queue filters by state and state_start_time; everything else is looked up by parent.
_FIRST_INDEXES = (
    CreateIndex("flow_run_queue", "flow_run", ("state", "state_start_time")),
    CreateIndex("flow_run_start", "flow_run", ("state_start_time",)),
    CreateIndex("flow_run_flow", "flow_run", ("flow_id",)),
    CreateIndex("flow_run_agent", "flow_run", ("agent_id",)),
    CreateIndex("task_run_queue", "task_run", ("state", "state_start_time")),
    CreateIndex("task_run_task", "task_run", ("task_id",)),
    CreateIndex("flow_run_state_run", "flow_run_state", ("flow_run_id",)),
    CreateIndex("task_run_state_run", "task_run_state", ("task_run_id",)),
    CreateIndex("log_flow_run", "log", ("flow_run_id", "timestamp")),
    CreateIndex("log_task_run", "log", ("task_run_id",)),
    CreateIndex("flow_project_name", "flow", ("project_id", "name")),
    CreateIndex("flow_group", "flow", ("flow_group_id",)),
    CreateIndex("flow_version_group", "flow", ("version_group_id",)),
    CreateIndex("edge_flow", "edge", ("flow_id",)),
    CreateIndex("agent_tenant_name", "agent", ("tenant_id", "name")),
    CreateIndex("artifact_task_run", "task_run_artifact", ("task_run_id",)),
)

# A task run has started Running once per Running state in its history.
_RUNS_SO_FAR = (
    "(SELECT count(*) FROM task_run_state AS s WHERE s.task_run_id = task_run.id AND s.state = 'Running')"
)

REVISIONS: tuple[Revision, ...] = (
    Revision(1, "the tables of dockyard's first release", (*_FIRST_TABLES, *_FIRST_INDEXES)),
    Revision(
        2,
        "the scheduler's runs and task runs' run counts",
        (
            AddColumn("flow_run", "auto_scheduled", Kind.BOOL, fill="FALSE"),
            AddColumn("task_run", "run_count", Kind.INT, fill=_RUNS_SO_FAR),
            # The scheduler's look-up of each flow's runs ahead.
            CreateIndex("flow_run_auto", "flow_run", ("auto_scheduled", "scheduled_start_time")),
        ),
    ),
    Revision(
        3,
        "generated run names checked against the tenant's runs",
        # Name first: led by tenant_id, SQLite (with no statistics) took this index for the
        # queue's `tenant_id = ?` and sorted every run of the tenant.
        (CreateIndex("flow_run_name", "flow_run", ("name", "tenant_id")),),
    ),
)
HEAD = REVISIONS[-1].version


class SchemaMismatch(DockyardError):
    """The database's schema is not the one this dockyard can use (and may not upgrade)."""


class SchemaTooNew(SchemaMismatch):
    pass


class SchemaBehind(SchemaMismatch):
    pass


class SchemaTarget(Protocol):
    """One database, inside a transaction that no other writer or migration can enter."""

    def version(self) -> int:
        """The latest revision recorded; 0 for an empty database or one from before
        versions were recorded."""

    def apply(self, operation: Operation) -> None: ...

    def record(self, revision: Revision) -> None: ...


@dataclass(frozen=True)
class Upgrade:
    """What opening a database did to its schema."""

    before: int
    applied: tuple[Revision, ...]

    @property
    def after(self) -> int:
        return self.applied[-1].version if self.applied else self.before

    def __str__(self) -> str:
        if not self.applied:
            return f"schema version {self.before}, up to date"
        steps = "; ".join(f"{r.version}: {r.summary}" for r in self.applied)
        return f"schema version {self.before} -> {self.after} ({steps})"


def upgrade(target: SchemaTarget, where: str, *, migrate: bool = True, to: int = HEAD) -> Upgrade:
    """Bring ``target`` to revision ``to``; return what was applied. Raise
    ``SchemaTooNew`` for a database ahead of this code, and ``SchemaBehind`` for one behind
    it when ``migrate`` is off."""
    found = target.version()
    if found > HEAD:
        raise SchemaTooNew(
            f"the database {where} has schema version {found}, newer than this dockyard knows "
            f"(version {HEAD}): a newer dockyard upgraded it. Run that version (or later), or restore "
            "a backup taken before the upgrade; this one will not touch it."
        )
    pending = [revision for revision in REVISIONS if found < revision.version <= to]
    if pending and not migrate:
        raise SchemaBehind(
            f"the database {where} has schema version {found}; this dockyard needs version {to}. "
            "Upgrade it with `dockyard server migrate --db ...` (or start without --no-migrate)."
        )
    for revision in pending:
        for operation in revision.operations:
            target.apply(operation)
        target.record(revision)
    return Upgrade(found, tuple(pending))
