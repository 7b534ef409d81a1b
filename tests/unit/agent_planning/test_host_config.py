"""A run's host_config translated to Engine API keys; unknown keys and wrong types refused."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.domain.agent.host_config import KEYS, translate_host_config
from dockyard.domain.agent.host_values import parse_size
from dockyard.domain.agent.volumes import Mount
from dockyard.domain.errors import RunRefused


def settings(**raw: Any) -> dict[str, Any]:
    return dict(translate_host_config(raw).settings)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1g", 1024**3),
        ("512m", 512 * 1024**2),
        ("1.5GB", int(1.5 * 1024**3)),
        ("100", 100),
        ("2k", 2048),
        (7, 7),
    ],
)
def test_sizes(text: object, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "1x", "-1g", "g", True, 1.5, None, "1 g b"])
def test_bad_sizes(text: object) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_resources() -> None:
    assert settings(
        mem_limit="1g",
        memswap_limit=-1,
        mem_reservation="256m",
        shm_size=67108864,
        nano_cpus=1_500_000_000,
        cpu_shares=512,
        cpuset_cpus="0-1",
        pids_limit=100,
        ulimits=[{"name": "nofile", "soft": 1024, "hard": 2048}, {"Name": "core", "Soft": 0}],
    ) == {
        "Memory": 1024**3,
        "MemorySwap": -1,
        "MemoryReservation": 256 * 1024**2,
        "ShmSize": 67108864,
        "NanoCpus": 1_500_000_000,
        "CpuShares": 512,
        "CpusetCpus": "0-1",
        "PidsLimit": 100,
        "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}, {"Name": "core", "Soft": 0, "Hard": 0}],
    }


def test_gpus_as_docker_py_and_engine_forms() -> None:
    result = settings(
        device_requests=[{"count": -1, "capabilities": [["gpu"]]}, {"Driver": "nvidia", "DeviceIDs": ["0"]}]
    )
    assert result["DeviceRequests"] == [
        {"Driver": "", "Count": -1, "DeviceIDs": [], "Capabilities": [["gpu"]], "Options": {}},
        {"Driver": "nvidia", "Count": 0, "DeviceIDs": ["0"], "Capabilities": [], "Options": {}},
    ]


@pytest.mark.parametrize(
    ("bindings", "expected"),
    [
        ({8080: 80}, {"8080/tcp": [{"HostIp": "", "HostPort": "80"}]}),
        ({"8080": "80"}, {"8080/tcp": [{"HostIp": "", "HostPort": "80"}]}),
        ({"53/udp": 5353}, {"53/udp": [{"HostIp": "", "HostPort": "5353"}]}),
        ({8080: None}, {"8080/tcp": [{"HostIp": "", "HostPort": ""}]}),
        ({8080: ["127.0.0.1", 9000]}, {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "9000"}]}),
        ({8080: ["127.0.0.1"]}, {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}),
        (
            {8080: [9000, 9001]},
            {"8080/tcp": [{"HostIp": "", "HostPort": "9000"}, {"HostIp": "", "HostPort": "9001"}]},
        ),
        (
            {8080: [["::1", 9000], 9001]},
            {"8080/tcp": [{"HostIp": "::1", "HostPort": "9000"}, {"HostIp": "", "HostPort": "9001"}]},
        ),
        (
            {8080: {"HostIp": "127.0.0.1", "HostPort": "9000-9010"}},
            {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "9000-9010"}]},
        ),
    ],
)
def test_port_bindings_in_docker_py_forms(bindings: dict[Any, Any], expected: dict[str, Any]) -> None:
    assert settings(port_bindings=bindings)["PortBindings"] == expected


def test_security_and_namespaces_translate() -> None:
    assert settings(
        privileged=True,
        cap_add=["NET_ADMIN"],
        cap_drop=["ALL"],
        pid_mode="host",
        ipc_mode="private",
        uts_mode="host",
        userns_mode="host",
        network_mode="host",
        security_opt=["no-new-privileges"],
        read_only=True,
        init=True,
        devices=["/dev/fuse", "/dev/sda:/dev/xvda:r"],
        sysctls={"net.core.somaxconn": 1024},
        runtime="runsc",
        group_add=[1000, "audio"],
        tmpfs=["/run:size=64m", "/tmp"],
        log_config={"type": "json-file", "config": {"max-size": "10m"}},
        dns=["10.0.0.1"],
        oom_kill_disable=False,
    ) == {
        "Privileged": True,
        "CapAdd": ["NET_ADMIN"],
        "CapDrop": ["ALL"],
        "PidMode": "host",
        "IpcMode": "private",
        "UTSMode": "host",
        "UsernsMode": "host",
        "NetworkMode": "host",
        "SecurityOpt": ["no-new-privileges"],
        "ReadonlyRootfs": True,
        "Init": True,
        "Devices": [
            {"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"},
            {"PathOnHost": "/dev/sda", "PathInContainer": "/dev/xvda", "CgroupPermissions": "r"},
        ],
        "Sysctls": {"net.core.somaxconn": "1024"},
        "Runtime": "runsc",
        "GroupAdd": ["1000", "audio"],
        "Tmpfs": {"/run": "size=64m", "/tmp": ""},
        "LogConfig": {"Type": "json-file", "Config": {"max-size": "10m"}},
        "Dns": ["10.0.0.1"],
        "OomKillDisable": False,
    }


def test_binds_and_extra_hosts_are_kept_apart_for_merging() -> None:
    result = translate_host_config(
        {
            "binds": {
                "/data": {"bind": "/in", "mode": "ro"},
                "/logs": "/logs",
                "/x": {"bind": "/y", "ro": False},
            },
            "extra_hosts": {"db": "10.0.0.2"},
            "auto_remove": True,
        }
    )
    assert result.settings == {}
    assert result.binds == (
        Mount("/data", "/in", "ro"),
        Mount("/logs", "/logs", "rw"),
        Mount("/x", "/y", "rw"),
    )
    assert result.extra_hosts == {"db": "10.0.0.2"}
    assert translate_host_config({"binds": ["vol:/v", "/a:/b:ro"]}).binds == (
        Mount("vol", "/v", named=True),
        Mount("/a", "/b", "ro"),
    )
    assert translate_host_config({"extra_hosts": ["db:10.0.0.2", "gw:host-gateway"]}).extra_hosts == {
        "db": "10.0.0.2",
        "gw": "host-gateway",
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"volumes_from": ["x"]}, "host_config key `volumes_from` is not supported"),
        ({"restart_policy": {"Name": "always"}}, "`restart_policy`: not supported"),
        ({"mem_limit": "lots"}, "`mem_limit`"),
        ({"privileged": "yes"}, "`privileged`"),
        ({"cap_add": "NET_ADMIN"}, "`cap_add`"),
        ({"cpu_shares": 1.5}, "`cpu_shares`"),
        ({"mem_swappiness": 101}, "`mem_swappiness`"),
        ({"port_bindings": {"http": 80}}, "`port_bindings`"),
        ({"port_bindings": {8080: "abc"}}, "`port_bindings`"),
        ({"port_bindings": {8080: ["300.0.0.1", 80]}}, "`port_bindings`"),
        ({"port_bindings": [8080]}, "`port_bindings`"),
        ({"binds": ["relative:/x:bad"]}, "`binds`"),
        ({"binds": ["./rel:/x"]}, "`binds`.*working directory"),
        ({"binds": ["/a:/x", "/b:/x"]}, "`binds`.*more than once"),
        ({"binds": "/a:/b"}, "`binds`"),
        ({"extra_hosts": {"db": "not-an-ip"}}, "`extra_hosts`"),
        ({"devices": ["dev/fuse"]}, "`devices`"),
        ({"devices": ["/dev/a:/dev/b:rwx"]}, "`devices`"),
        ({"ulimits": [{"name": "nofile"}]}, "`ulimits`"),
        ({"device_requests": [{"gpus": 1}]}, "`device_requests`"),
        ({"tmpfs": {"run": ""}}, "`tmpfs`"),
        ({"log_config": {"driver": "x"}}, "`log_config`"),
        ({"sysctls": {"a": None}}, "`sysctls`"),
    ],
)
def test_unknown_keys_and_wrong_types_are_refused_naming_the_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(RunRefused, match=message):
        translate_host_config(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@given(
    st.dictionaries(
        st.sampled_from([*KEYS, "binds", "extra_hosts", "auto_remove", "restart_policy", "links"]),
        json_values,
        max_size=4,
    )
)
def test_any_host_config_translates_or_is_refused(raw: dict[str, Any]) -> None:
    # Only the documented refusal, never a crash.
    with contextlib.suppress(RunRefused):
        translate_host_config(raw)
