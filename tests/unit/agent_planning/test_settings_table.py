"""The table of agent settings, the command-line options, the variables, the config file and
AgentConfig cannot drift apart: every setting (and every other spelling of one) reaches the
same AgentConfig as a flag, a DOCKYARD_AGENT_ variable, a Prefect variable, a TOML key and a
library keyword, and nothing outside the table is an option or a field."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import click
import pytest

from dockyard.domain.agent.config import AgentConfig, RunPolicy
from dockyard.entrypoints.agent_settings import (
    ALIASES,
    BY_NAME,
    CONFIG_OPTION,
    DERIVED,
    SETTINGS,
    agent_options,
)
from dockyard.entrypoints.settings import resolve_agent_config
from support.agent_cli import given_by

# A value for every setting and spelling, as text: a new row needs one here, and then this
# test proves it reaches AgentConfig by every route.
SAMPLES: dict[str, str] = {
    "api": "http://backend.example:4300",
    "key": "KEY-0123456789",
    "tenant_id": "3a2c9d2e-0000-4000-8000-000000000001",
    "agent_config_id": "config-1",
    "name": "probe",
    "labels": "a",
    "label": "b",
    "env_vars": "A=1",
    "env": "B=2",
    "max_polls": "3",
    "agent_address": "127.0.0.1:8080",
    "send_flow_run_logs": "false",
    "no_cloud_logs": "true",
    "log_level": "DEBUG",
    "log_format": "json",
    "logging_level": "WARNING",
    "base_url": "tcp://127.0.0.1:2376",
    "tls_ca": "/certs/ca.pem",
    "tls_cert": "/certs/cert.pem",
    "tls_key": "/certs/key.pem",
    "tls_verify": "true",
    "pull_policy": "always",
    "no_pull": "true",
    "show_flow_logs": "true",
    "volumes": "/srv/x:/x:ro",
    "volume": "/srv/y:/y",
    "networks": "net1",
    "network": "net0",
    "docker_interface": "false",
    "no_docker_interface": "true",
    "docker_client_timeout": "30",
    "reg_allow_list": "myorg",
    "allow_images": "myorg/*",
    "allow_image": "other/*",
    "allow_privileged": "true",
    "allow_cap_add": "NET_ADMIN",
    "allow_host_namespaces": "true",
    "allow_devices": "/dev/fuse",
    "allow_device": "/dev/null",
    "allow_security_opt": "true",
    "allow_sysctls": "true",
    "allow_public_ports": "true",
    "allow_bind_roots": "/srv",
    "allow_bind_root": "/opt",
    "allow_named_volumes": "true",
    "allow_runtimes": "runsc",
    "allow_runtime": "kata",
    "allow_networks": "net2",
    "allow_network": "net3",
    "allow_gpus": "true",
    "max_memory": "1g",
    "max_cpus": "1.5",
    "max_shm_size": "64m",
    "max_pids": "100",
    "swarm": "true",
    "constraints": "node.labels.role==flows",
    "constraint": "node.role!=manager",
    "placement_prefs": "spread=node.labels.zone",
    "placement_pref": "spread=node.labels.rack",
    "allow_placement": "node.labels.zone==*",
    "placement_timeout": "60",
    "limit": "2",
    "run_timeout": "90",
    "cancel_grace": "5",
    "keep_containers": "true",
    "lock_dir": "/var/lib/probe-locks",
    "registry_auth_file": "<a file>",
    "registry_auth": json.dumps({"localhost:5000": {"username": "u", "password": "p4ssw0rd"}}),
}
SPELLINGS = {*BY_NAME, *ALIASES}


@pytest.fixture
def samples(tmp_path: Path) -> dict[str, str]:
    auth_file = tmp_path / "auth.json"
    auth_file.write_text(json.dumps({"registry.example": {"username": "f", "password": "file-pass"}}))
    return {**SAMPLES, "registry_auth_file": str(auth_file)}


def _params() -> list[click.Parameter]:
    probe = agent_options(lambda **_: None)
    return list(probe.__click_params__)  # type: ignore[attr-defined]


def _flag_of(name: str) -> click.Option | None:
    for param in _params():
        if param.name == name and isinstance(param, click.Option):
            return param
    return None


def _from_command_line(name: str, value: str) -> AgentConfig:
    option = _flag_of(name)
    assert option is not None
    flag = next(opt for opt in option.opts if opt.startswith("--"))
    args = [flag] if option.is_flag else [flag, value]
    return resolve_agent_config(given_by(*args), environ={})


def test_every_setting_and_spelling_has_a_sample() -> None:
    assert set(SAMPLES) == SPELLINGS


def test_every_option_is_in_the_table_and_every_setting_has_an_option_or_a_reason() -> None:
    named = {str(param.name) for param in _params()} - {CONFIG_OPTION}
    assert named <= SPELLINGS, f"options outside the table: {sorted(named - SPELLINGS)}"
    for setting in SETTINGS:
        has_flag = bool(setting.flags) or any(alias.flags for alias in setting.aliases)
        assert has_flag != bool(setting.no_flag), setting.name
        assert (setting.name in named) == bool(setting.flags), setting.name
        for alias in setting.aliases:
            assert (alias.name in named) == bool(alias.flags), alias.name


def test_agent_config_has_a_field_for_every_setting_and_nothing_else() -> None:
    inputs = {name for sources in DERIVED.values() for name in sources}
    config_fields = {f.name for f in fields(AgentConfig)} - {"policy"}
    policy_fields = {f.name for f in fields(RunPolicy)}
    assert {s.name for s in SETTINGS if s.policy} == policy_fields
    assert {s.name for s in SETTINGS if not s.policy} - inputs | set(DERIVED) == config_fields
    assert inputs <= set(BY_NAME) and not inputs & config_fields


@pytest.mark.parametrize("name", sorted(SPELLINGS))
def test_every_route_reaches_the_same_agent_config(
    name: str, samples: dict[str, str], tmp_path: Path
) -> None:
    value = samples[name]
    default = resolve_agent_config({}, environ={})
    from_env = resolve_agent_config({}, environ={f"DOCKYARD_AGENT_{name.upper()}": value})
    assert from_env != default, f"DOCKYARD_AGENT_{name.upper()} changed nothing"
    toml = tmp_path / "agent.toml"
    toml.write_text(f"{name} = {json.dumps(value)}\n")
    assert resolve_agent_config({}, environ={}, config_file=str(toml)) == from_env
    assert resolve_agent_config({name: value}, environ={}) == from_env
    if _flag_of(name) is not None:
        assert _from_command_line(name, value) == from_env
    prefect = BY_NAME[name].prefect_env if name in BY_NAME else ALIASES[name][1].prefect_env
    if prefect is not None:
        assert resolve_agent_config({}, environ={prefect: value}) == from_env


def test_a_keyword_at_its_default_is_not_given() -> None:
    environ = {"DOCKYARD_AGENT_DOCKER_INTERFACE": "false", "DOCKYARD_AGENT_SEND_FLOW_RUN_LOGS": "false"}
    keywords: dict[str, Any] = {"docker_interface": True, "no_cloud_logs": False, "no_pull": False}
    config = resolve_agent_config(keywords, environ=environ)
    assert config.docker_interface is False and config.send_flow_run_logs is False
