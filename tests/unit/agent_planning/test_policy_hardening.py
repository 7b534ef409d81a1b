"""What the hostile run-config corpus taught the planner: invisible characters in names,
environments too large to start a process with, namespace and network modes the daemon
would silently misread, log drivers that ship output elsewhere, OOM-kill switches with no
memory cap, and bind sources that are symbolic links out of the allowed roots."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.adapters.host_paths import daemon_shares_this_file_system, real_host_path
from dockyard.domain.agent.config import RunPolicy
from dockyard.domain.agent.host_config import translate_host_config
from dockyard.domain.agent.policy import apply_run_policy
from dockyard.domain.agent.run_config import (
    MAX_ENV_BYTES,
    MAX_ENV_VAR_BYTES,
    MAX_ENV_VARS,
    env_key,
    parse_run_config,
)
from dockyard.domain.errors import RunRefused


def env_of(env: Any) -> dict[str, str]:
    return dict(parse_run_config("fr", {"type": "DockerRun", "env": env}).env)


NOTHING_ALLOWED = RunPolicy()


def apply(raw: dict[str, Any], policy: RunPolicy = NOTHING_ALLOWED, **kw: Any) -> dict[str, Any]:
    return apply_run_policy(translate_host_config(raw), policy, **kw)


# -- env ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["PATH\u200b", "A\u202eB", "A\u200dB", "A B", "A\tB", "A\x00", "\ufeffA"])
def test_env_keys_with_invisible_or_control_characters_are_refused(key: str) -> None:
    with pytest.raises(RunRefused, match="env key"):
        env_of({key: "x"})


@pytest.mark.parametrize("key", ["PATH", "my_var", "Ünïcode_NAME", "a.b-c", "_1"])
def test_ordinary_env_keys_pass(key: str) -> None:
    assert env_of({key: "x"}) == {key: "x"}


def test_a_variable_up_to_the_kernels_limit_passes_and_one_byte_more_is_refused() -> None:
    largest = "x" * (MAX_ENV_VAR_BYTES - len("BIG="))
    assert env_of({"BIG": largest})["BIG"] == largest
    with pytest.raises(RunRefused, match=r"env value of `BIG` is too large"):
        env_of({"BIG": largest + "x"})


def test_a_multi_byte_value_is_measured_in_bytes() -> None:
    with pytest.raises(RunRefused, match="too large"):
        env_of({"E": "\u00e9" * (MAX_ENV_VAR_BYTES // 2)})  # two bytes each in UTF-8


def test_the_count_and_the_total_size_of_a_runs_env_are_bounded() -> None:
    assert len(env_of({f"K{i}": "v" for i in range(MAX_ENV_VARS)})) == MAX_ENV_VARS
    with pytest.raises(RunRefused, match=f"{MAX_ENV_VARS + 1} variables"):
        env_of({f"K{i}": "v" for i in range(MAX_ENV_VARS + 1)})
    each = 100_000
    with pytest.raises(RunRefused, match=f"at most {MAX_ENV_BYTES}"):
        env_of({f"K{i}": "x" * each for i in range(MAX_ENV_BYTES // each + 1)})


@given(st.text(max_size=12))
def test_any_env_key_is_accepted_or_refused_never_a_crash(key: str) -> None:
    with contextlib.suppress(RunRefused):
        assert env_key(key) == key


# -- modes, capabilities, log drivers, devices ------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("pid_mode", "host\u200b"),
        ("pid_mode", "host "),
        ("pid_mode", "private"),
        ("pid_mode", "container:"),
        ("ipc_mode", "bogus"),
        ("uts_mode", "container:x"),
        ("userns_mode", "HOST"),
        ("network_mode", "host\u200b"),
        ("network_mode", "container:\u202ex"),
        ("cap_add", ["SYS\u200bADMIN"]),
        ("cap_drop", ["NET RAW"]),
    ],
)
def test_modes_and_capabilities_the_daemon_would_misread_are_refused(key: str, value: object) -> None:
    with pytest.raises(RunRefused, match=f"host_config `{key}`"):
        translate_host_config({key: value})


@pytest.mark.parametrize(
    ("key", "value", "engine_key"),
    [
        ("ipc_mode", "private", "IpcMode"),
        ("ipc_mode", "shareable", "IpcMode"),
        ("ipc_mode", "none", "IpcMode"),
        ("ipc_mode", "container:db", "IpcMode"),
        ("pid_mode", "container:db-1", "PidMode"),
        ("network_mode", "bridge", "NetworkMode"),
        ("network_mode", "my_net.2", "NetworkMode"),
        ("cap_drop", ["ALL", "cap_net_raw"], "CapDrop"),
    ],
)
def test_valid_modes_and_capabilities_translate(key: str, value: object, engine_key: str) -> None:
    assert translate_host_config({key: value}).settings == {engine_key: value}


@pytest.mark.parametrize("driver", ["syslog", "gelf", "fluentd", "none", "journald"])
def test_log_drivers_that_do_not_keep_the_output_readable_are_refused(driver: str) -> None:
    with pytest.raises(RunRefused, match=f"the '{driver}' log driver is not supported"):
        translate_host_config({"log_config": {"type": driver, "config": {}}})


def test_the_readable_log_drivers_translate() -> None:
    settings = translate_host_config({"log_config": {"type": "local", "config": {"max-size": "1m"}}}).settings
    assert settings == {"LogConfig": {"Type": "local", "Config": {"max-size": "1m"}}}


def test_device_paths_are_checked_and_passed_normalised() -> None:
    allowing = RunPolicy(allow_devices=("/dev/fuse",))
    assert apply({"devices": ["/dev/./fuse:/dev//fuse"]}, allowing)["Devices"] == [
        {"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"}
    ]
    with pytest.raises(RunRefused, match=r"the device /dev/mem,.*--allow-device /dev/mem\)"):
        apply({"devices": ["/dev/fuse/../mem"]}, allowing)


# -- resources -----------------------------------------------------------------------------------


def test_oom_kill_disable_needs_a_memory_limit() -> None:
    with pytest.raises(RunRefused, match="oom_kill_disable without a memory limit"):
        apply({"oom_kill_disable": True})
    assert apply({"oom_kill_disable": True, "mem_limit": "64m"})["OomKillDisable"] is True
    capped = apply({"oom_kill_disable": True}, RunPolicy(max_memory=2**28))
    assert capped["Memory"] == 2**28 and capped["OomKillDisable"] is True


# -- symbolic links in bind sources ---------------------------------------------------------------

LINKS = {"/srv/data/escape": "/", "/srv/data/inner": "/srv/data/sub", "/data": "/mnt/data"}


def fake_real_path(path: str) -> str:
    for link, target in LINKS.items():
        if path == link or path.startswith(link + "/"):
            return target.rstrip("/") + path[len(link) :] or "/"
    return path


@pytest.mark.parametrize("source", ["/srv/data/escape", "/srv/data/escape/etc"])
def test_a_link_out_of_the_allowed_root_is_refused_naming_where_it_leads(source: str) -> None:
    policy = RunPolicy(allow_bind_roots=("/srv/data",))
    assert apply({"binds": [f"{source}:/x"]}, policy) == {}  # as written, it is under the root
    real = fake_real_path(source)
    with pytest.raises(RunRefused, match=f"a bind mount of {source}, which symbolic links lead to {real},"):
        apply({"binds": [f"{source}:/x"]}, policy, real_path=fake_real_path)


def test_links_that_stay_inside_and_a_root_that_is_a_link_pass() -> None:
    policy = RunPolicy(allow_bind_roots=("/srv/data", "/data"))
    # No refusal: the settings come back (binds are merged by the plan, not returned here).
    assert apply({"binds": ["/srv/data/inner:/a", "/data/x:/b"]}, policy, real_path=fake_real_path) == {}


def test_the_real_path_follows_links_on_this_machine(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "escape").symlink_to("/")
    (root / "inner").symlink_to(root / "sub")
    policy = RunPolicy(allow_bind_roots=(str(root),))
    with pytest.raises(
        RunRefused, match=r"lead to /etc, outside the allowed roots.*--allow-bind-root /etc\)"
    ):
        apply({"binds": [f"{root}/escape/etc:/x"]}, policy, real_path=real_host_path)
    assert apply({"binds": [f"{root}/inner/missing:/x"]}, policy, real_path=real_host_path) == {}


@pytest.mark.parametrize(
    ("base_url", "docker_host", "local"),
    [
        (None, None, True),
        ("unix:///var/run/docker.sock", None, True),
        ("tcp://127.0.0.1:2376", None, True),
        ("tcp://localhost:2376", None, True),
        ("https://[::1]:2376", None, True),
        ("tcp://10.0.0.5:2376", None, False),
        ("ssh://me@build-host", None, False),
        (None, "tcp://docker.example:2376", False),
        (None, "unix:///run/user/1000/docker.sock", True),
    ],
)
def test_which_daemons_share_this_file_system(
    base_url: str | None, docker_host: str | None, local: bool
) -> None:
    environ = {"DOCKER_HOST": docker_host} if docker_host else {}
    assert daemon_shares_this_file_system(base_url, environ) is local
