"""Start-up validation of an AgentConfig."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.domain.agent.config import AgentConfig, RegistryCredentials, RunPolicy
from dockyard.domain.agent.validation import for_daemon, validate_agent_config
from dockyard.domain.errors import ConfigurationError
from support.agent_configs import agent_config


def test_a_full_valid_config_passes() -> None:
    validate_agent_config(
        agent_config(
            labels=("a",),
            env_vars={"A": "1"},
            volumes=("/data:/data:ro", "cache:/cache", "./rel:/rel", "~/x:/x"),
            networks=("net1", "net2"),
            reg_allow_list=("myorg", "localhost:5000"),
            allow_images=("docker.io/library/*",),
            registry_credentials=(RegistryCredentials("localhost:5000", "u", "p"),),
            working_dir="/work",
            home_dir="/home/me",
            limit=2,
            run_timeout=60,
            policy=RunPolicy(
                allow_bind_roots=("/srv",),
                allow_devices=("/dev/fuse",),
                allow_cap_add=("NET_ADMIN", "ALL"),
                max_memory=1,
            ),
        )
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"networks": ("host", "net1")}, "cannot be combined"),
        ({"networks": ("net1", "net1")}, "more than once"),
        ({"networks": ("bad name",)}, "not a valid Docker network name"),
        ({"api": "ftp://x"}, "--api"),
        ({"api": "localhost:4200"}, "--api"),
        ({"env_vars": {"A=B": "x"}}, "--env"),
        ({"env_vars": {"A": "x\x00y"}}, "--env"),
        ({"log_level": "LOUD"}, "--log-level"),
        ({"limit": 0}, "--limit"),
        ({"run_timeout": 0}, "--run-timeout"),
        ({"cancel_grace": -1}, "--cancel-grace"),
        ({"name": " "}, "name"),
        ({"policy": RunPolicy(allow_bind_roots=("srv",))}, "--allow-bind-root"),
        ({"policy": RunPolicy(allow_devices=("dev/fuse",))}, "--allow-device"),
        ({"policy": RunPolicy(allow_cap_add=("NET ADMIN",))}, "--allow-cap-add"),
        ({"policy": RunPolicy(max_cpus=0)}, "--max-cpus"),
        ({"registry_credentials": (RegistryCredentials("", "u", "p"),)}, "registry"),
    ],
)
def test_bad_settings_are_refused_at_start_up(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        validate_agent_config(AgentConfig(**changes))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"volumes": ("/a:/b:bogus",)}, "invalid mode"),
        ({"volumes": ("./rel:/x",)}, "working directory"),
        ({"reg_allow_list": ("bad host.io",)}, "reg_allow_list entry"),
        ({"allow_images": ("a b",)}, "allow_images pattern"),
    ],
)
def test_specs_entries_and_patterns_are_refused_when_read(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        agent_config(**values)


def test_windows_daemon_reads_and_validates_windows_paths() -> None:
    config = agent_config(
        volumes=("C:\\data:/data",), policy=RunPolicy(allow_bind_roots=("D:\\runs",)), host_os="windows"
    )
    validate_agent_config(config, host_os="windows")
    assert for_daemon(config, "windows").volumes == config.volumes
    with pytest.raises(ConfigurationError):
        validate_agent_config(config, host_os="linux")
    with pytest.raises(ConfigurationError):
        for_daemon(config, "linux")


def test_for_a_daemon_on_another_os_volume_specs_are_read_again() -> None:
    config = agent_config(volumes=("/data:/data:ro", "cache:/cache"), working_dir="/work")
    (windows_volume,) = for_daemon(agent_config(volumes=("cache:/cache",)), "windows").volumes
    assert windows_volume.named and windows_volume.source == "cache"
    assert for_daemon(config, "linux") == config
