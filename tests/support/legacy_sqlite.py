# ruff: noqa: E501  (the statements as SQLite keeps them, one per line)
"""The SQLite schemas of dockyard's releases before schema versions, as their own code made
them (their ``migrate()`` run on an empty database, ``sqlite_master`` read back): the
databases users have, which a newer server must upgrade in place.

``FIRST_RELEASE`` is commit c4a82e0's; ``LAST_UNVERSIONED`` is the release just before
schema versions (it added ``flow_run.auto_scheduled``, ``task_run.run_count`` and an
index). Both set ``PRAGMA user_version = 1``.
"""

from __future__ import annotations

FIRST_RELEASE: list[str] = [
    "CREATE TABLE tenant (id TEXT PRIMARY KEY NOT NULL, name TEXT, slug TEXT, settings TEXT, created TEXT, updated TEXT, UNIQUE (slug))",
    "CREATE TABLE project (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, name TEXT, description TEXT, created TEXT, updated TEXT, UNIQUE (tenant_id, name))",
    "CREATE TABLE flow_group (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, name TEXT, description TEXT, labels TEXT, settings TEXT, run_config TEXT, default_parameters TEXT, schedule TEXT, idempotency_key TEXT, created TEXT, updated TEXT, UNIQUE (tenant_id, name))",
    "CREATE TABLE flow (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, project_id TEXT, flow_group_id TEXT, version_group_id TEXT, version INTEGER, name TEXT, description TEXT, core_version TEXT, storage TEXT, run_config TEXT, environment TEXT, parameters TEXT, settings TEXT, serialized_flow TEXT, schedule TEXT, is_schedule_active INTEGER, archived INTEGER, created TEXT, updated TEXT)",
    "CREATE TABLE task (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, flow_id TEXT, name TEXT, slug TEXT, description TEXT, type TEXT, tags TEXT, cache_key TEXT, max_retries INTEGER, retry_delay TEXT, trigger TEXT, mapped INTEGER, auto_generated INTEGER, created TEXT, updated TEXT, UNIQUE (flow_id, slug))",
    "CREATE TABLE edge (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, flow_id TEXT, upstream_task_id TEXT, downstream_task_id TEXT, key TEXT, mapped INTEGER, flattened INTEGER, created TEXT, updated TEXT)",
    "CREATE TABLE flow_run (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, flow_id TEXT, agent_id TEXT, name TEXT, labels TEXT, parameters TEXT, context TEXT, run_config TEXT, idempotency_key TEXT, scheduled_start_time TEXT, times_resurrected INTEGER, version INTEGER, state TEXT, serialized_state TEXT, state_message TEXT, state_start_time TEXT, state_timestamp TEXT, start_time TEXT, end_time TEXT, heartbeat TEXT, created TEXT, updated TEXT, UNIQUE (flow_id, idempotency_key))",
    "CREATE TABLE task_run (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, flow_run_id TEXT, task_id TEXT, map_index INTEGER, name TEXT, cache_key TEXT, version INTEGER, state TEXT, serialized_state TEXT, state_message TEXT, state_start_time TEXT, state_timestamp TEXT, start_time TEXT, end_time TEXT, heartbeat TEXT, created TEXT, updated TEXT, UNIQUE (flow_run_id, task_id, map_index))",
    "CREATE TABLE flow_run_state (flow_run_id TEXT, id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, version INTEGER, state TEXT, message TEXT, serialized_state TEXT, start_time TEXT, timestamp TEXT, created TEXT)",
    "CREATE TABLE task_run_state (task_run_id TEXT, id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, version INTEGER, state TEXT, message TEXT, serialized_state TEXT, start_time TEXT, timestamp TEXT, created TEXT)",
    "CREATE TABLE log (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, flow_run_id TEXT, task_run_id TEXT, timestamp TEXT, name TEXT, level TEXT, message TEXT, info TEXT, created TEXT)",
    "CREATE TABLE agent (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, agent_config_id TEXT, name TEXT, type TEXT, core_version TEXT, labels TEXT, last_queried TEXT, created TEXT, updated TEXT)",
    "CREATE TABLE agent_config (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, name TEXT, settings TEXT, created TEXT, updated TEXT)",
    "CREATE TABLE task_run_artifact (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, task_run_id TEXT, kind TEXT, data TEXT, created TEXT, updated TEXT)",
    "CREATE INDEX ix_flow_run_queue ON flow_run (state, state_start_time)",
    "CREATE INDEX ix_flow_run_start ON flow_run (state_start_time)",
    "CREATE INDEX ix_flow_run_flow ON flow_run (flow_id)",
    "CREATE INDEX ix_flow_run_agent ON flow_run (agent_id)",
    "CREATE INDEX ix_task_run_queue ON task_run (state, state_start_time)",
    "CREATE INDEX ix_task_run_task ON task_run (task_id)",
    "CREATE INDEX ix_flow_run_state_run ON flow_run_state (flow_run_id)",
    "CREATE INDEX ix_task_run_state_run ON task_run_state (task_run_id)",
    "CREATE INDEX ix_log_flow_run ON log (flow_run_id, timestamp)",
    "CREATE INDEX ix_log_task_run ON log (task_run_id)",
    "CREATE INDEX ix_flow_project_name ON flow (project_id, name)",
    "CREATE INDEX ix_flow_group ON flow (flow_group_id)",
    "CREATE INDEX ix_flow_version_group ON flow (version_group_id)",
    "CREATE INDEX ix_edge_flow ON edge (flow_id)",
    "CREATE INDEX ix_agent_tenant_name ON agent (tenant_id, name)",
    "CREATE INDEX ix_artifact_task_run ON task_run_artifact (task_run_id)",
]

LAST_UNVERSIONED: list[str] = [
    "CREATE TABLE tenant (id TEXT PRIMARY KEY NOT NULL, name TEXT, slug TEXT, settings TEXT, created TEXT, updated TEXT, UNIQUE (slug))",
    "CREATE TABLE project (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, name TEXT, description TEXT, created TEXT, updated TEXT, UNIQUE (tenant_id, name))",
    "CREATE TABLE flow_group (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, name TEXT, description TEXT, labels TEXT, settings TEXT, run_config TEXT, default_parameters TEXT, schedule TEXT, idempotency_key TEXT, created TEXT, updated TEXT, UNIQUE (tenant_id, name))",
    "CREATE TABLE flow (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, project_id TEXT, flow_group_id TEXT, version_group_id TEXT, version INTEGER, name TEXT, description TEXT, core_version TEXT, storage TEXT, run_config TEXT, environment TEXT, parameters TEXT, settings TEXT, serialized_flow TEXT, schedule TEXT, is_schedule_active INTEGER, archived INTEGER, created TEXT, updated TEXT)",
    "CREATE TABLE task (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, flow_id TEXT, name TEXT, slug TEXT, description TEXT, type TEXT, tags TEXT, cache_key TEXT, max_retries INTEGER, retry_delay TEXT, trigger TEXT, mapped INTEGER, auto_generated INTEGER, created TEXT, updated TEXT, UNIQUE (flow_id, slug))",
    "CREATE TABLE edge (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, flow_id TEXT, upstream_task_id TEXT, downstream_task_id TEXT, key TEXT, mapped INTEGER, flattened INTEGER, created TEXT, updated TEXT)",
    "CREATE TABLE flow_run (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, flow_id TEXT, agent_id TEXT, name TEXT, labels TEXT, parameters TEXT, context TEXT, run_config TEXT, idempotency_key TEXT, scheduled_start_time TEXT, auto_scheduled INTEGER, times_resurrected INTEGER, version INTEGER, state TEXT, serialized_state TEXT, state_message TEXT, state_start_time TEXT, state_timestamp TEXT, start_time TEXT, end_time TEXT, heartbeat TEXT, created TEXT, updated TEXT, UNIQUE (flow_id, idempotency_key))",
    "CREATE TABLE task_run (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, flow_run_id TEXT, task_id TEXT, map_index INTEGER, name TEXT, cache_key TEXT, run_count INTEGER, version INTEGER, state TEXT, serialized_state TEXT, state_message TEXT, state_start_time TEXT, state_timestamp TEXT, start_time TEXT, end_time TEXT, heartbeat TEXT, created TEXT, updated TEXT, UNIQUE (flow_run_id, task_id, map_index))",
    "CREATE TABLE flow_run_state (flow_run_id TEXT, id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, version INTEGER, state TEXT, message TEXT, serialized_state TEXT, start_time TEXT, timestamp TEXT, created TEXT)",
    "CREATE TABLE task_run_state (task_run_id TEXT, id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, version INTEGER, state TEXT, message TEXT, serialized_state TEXT, start_time TEXT, timestamp TEXT, created TEXT)",
    "CREATE TABLE log (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, flow_run_id TEXT, task_run_id TEXT, timestamp TEXT, name TEXT, level TEXT, message TEXT, info TEXT, created TEXT)",
    "CREATE TABLE agent (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, agent_config_id TEXT, name TEXT, type TEXT, core_version TEXT, labels TEXT, last_queried TEXT, created TEXT, updated TEXT)",
    "CREATE TABLE agent_config (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, name TEXT, settings TEXT, created TEXT, updated TEXT)",
    "CREATE TABLE task_run_artifact (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT, task_run_id TEXT, kind TEXT, data TEXT, created TEXT, updated TEXT)",
    "CREATE INDEX ix_flow_run_queue ON flow_run (state, state_start_time)",
    "CREATE INDEX ix_flow_run_start ON flow_run (state_start_time)",
    "CREATE INDEX ix_flow_run_flow ON flow_run (flow_id)",
    "CREATE INDEX ix_flow_run_agent ON flow_run (agent_id)",
    "CREATE INDEX ix_flow_run_auto ON flow_run (auto_scheduled, scheduled_start_time)",
    "CREATE INDEX ix_task_run_queue ON task_run (state, state_start_time)",
    "CREATE INDEX ix_task_run_task ON task_run (task_id)",
    "CREATE INDEX ix_flow_run_state_run ON flow_run_state (flow_run_id)",
    "CREATE INDEX ix_task_run_state_run ON task_run_state (task_run_id)",
    "CREATE INDEX ix_log_flow_run ON log (flow_run_id, timestamp)",
    "CREATE INDEX ix_log_task_run ON log (task_run_id)",
    "CREATE INDEX ix_flow_project_name ON flow (project_id, name)",
    "CREATE INDEX ix_flow_group ON flow (flow_group_id)",
    "CREATE INDEX ix_flow_version_group ON flow (version_group_id)",
    "CREATE INDEX ix_edge_flow ON edge (flow_id)",
    "CREATE INDEX ix_agent_tenant_name ON agent (tenant_id, name)",
    "CREATE INDEX ix_artifact_task_run ON task_run_artifact (task_run_id)",
]
