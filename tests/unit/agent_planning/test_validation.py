"""Start-up validation of an AgentConfig."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.domain.agent.config import AgentConfig, RegistryCredentials, RunPolicy
from dockyard.domain.agent.validation import validate_agent_config
from dockyard.domain.errors import ConfigurationError


def test_a_full_valid_config_passes() -> None:
    validate_agent_config(
        AgentConfig(
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
        ({"volumes": ("/a:/b:bogus",)}, "invalid mode"),
        ({"volumes": ("./rel:/x",)}, "working directory"),
        ({"networks": ("host", "net1")}, "cannot be combined"),
        ({"networks": ("net1", "net1")}, "more than once"),
        ({"networks": ("bad name",)}, "not a valid Docker network name"),
        ({"reg_allow_list": ("bad host.io",)}, "reg_allow_list entry"),
        ({"allow_images": ("a b",)}, "allow_images pattern"),
        ({"api_url": "ftp://x"}, "--api"),
        ({"api_url": "localhost:4200"}, "--api"),
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


def test_windows_daemon_validates_windows_paths() -> None:
    config = AgentConfig(volumes=("C:\\data:/data",), policy=RunPolicy(allow_bind_roots=("D:\\runs",)))
    validate_agent_config(config, host_os="windows")
    with pytest.raises(ConfigurationError):
        validate_agent_config(config, host_os="linux")
