"""AgentConfigs for domain tests, with volume specs, registry entries and image patterns
written as an operator writes them (and read as the settings read them)."""

from __future__ import annotations

from typing import Any

from dockyard.domain.agent.config import AgentConfig
from dockyard.domain.agent.image_policy import parse_image_pattern, parse_registry_entry
from dockyard.domain.agent.volumes import parse_volume_specs


def agent_config(*, host_os: str = "linux", **values: Any) -> AgentConfig:
    if "volumes" in values:
        values["volumes"] = parse_volume_specs(
            values["volumes"],
            host_os=host_os,
            working_dir=values.get("working_dir"),
            home_dir=values.get("home_dir"),
        )
    if "reg_allow_list" in values:
        values["reg_allow_list"] = tuple(parse_registry_entry(entry) for entry in values["reg_allow_list"])
    if "allow_images" in values:
        values["allow_images"] = tuple(parse_image_pattern(pattern) for pattern in values["allow_images"])
    return AgentConfig(**values)
