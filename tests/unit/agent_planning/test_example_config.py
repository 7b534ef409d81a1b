"""The example config file shipped in deploy/: it parses, its keys are the options as
`dockyard agent start --help` writes them, and it resolves to the settings its comments
promise. And a config file's keys may be written with dashes or underscores, not both."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from dockyard.domain.agent.config import PullPolicy
from dockyard.domain.errors import ConfigurationError
from dockyard.entrypoints.cli import cli
from dockyard.entrypoints.settings import resolve_agent_config
from support.paths import REPO_ROOT

EXAMPLE = REPO_ROOT / "deploy" / "agent.example.toml"


def test_the_example_resolves_to_the_settings_it_documents() -> None:
    config = resolve_agent_config({}, environ={}, config_file=str(EXAMPLE))
    assert (config.api, config.name, config.labels, config.log_level) == (
        "http://127.0.0.1:4200",
        "build-host-1",
        ("docker", "prod"),
        "INFO",
    )
    assert config.env_vars == {"TZ": "UTC", "PIP_NO_CACHE_DIR": "1"}
    assert [mount.spec for mount in config.volumes] == ["/srv/data:/data:ro"]
    assert config.networks == ("flows",)
    assert config.pull_policy is PullPolicy.IF_NOT_PRESENT
    assert [scope.entry for scope in config.reg_allow_list] == ["localhost:5000", "myorg"]
    assert (config.limit, config.run_timeout, config.cancel_grace) == (4, 3600.0, 30.0)
    assert (config.policy.max_memory, config.policy.max_cpus) == (2 * 1024**3, 2.0)


def test_every_key_of_the_example_is_an_option_of_agent_start() -> None:
    shown = CliRunner().invoke(cli, ["agent", "start", "--help"], terminal_width=200).output
    options = set(re.findall(r"--([a-z][a-z-]*)", shown))
    keys = set(tomllib.loads(EXAMPLE.read_text()))
    assert keys and keys <= options, keys - options
    assert "log-level" in keys  # written as --help writes it


def test_flags_still_win_over_the_example() -> None:
    config = resolve_agent_config({"limit": 1, "labels": ["gpu"]}, environ={}, config_file=str(EXAMPLE))
    assert (config.limit, config.labels, config.name) == (1, ("gpu",), "build-host-1")


def test_keys_may_have_dashes_or_underscores_but_not_both(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    for text in ('log-level = "DEBUG"\n', 'log_level = "DEBUG"\n', '[agent]\nlog-level = "DEBUG"\n'):
        path.write_text(text)
        assert resolve_agent_config({}, environ={}, config_file=str(path)).log_level == "DEBUG"
    path.write_text('allow-image = ["docker.io/library/*"]\nno-pull = true\nrun-timeout = 60\n')
    config = resolve_agent_config({}, environ={}, config_file=str(path))
    assert [p.text for p in config.allow_images] == ["docker.io/library/*"]
    assert (config.pull_policy, config.run_timeout) == (PullPolicy.NEVER, 60.0)
    path.write_text('log-level = "DEBUG"\nlog_level = "INFO"\n')
    with pytest.raises(ConfigurationError, match="log-level and log_level are one setting"):
        resolve_agent_config({}, environ={}, config_file=str(path))
    path.write_text('log-levle = "DEBUG"\n')
    with pytest.raises(ConfigurationError, match=r"agent\.toml: log-levle"):
        resolve_agent_config({}, environ={}, config_file=str(path))
