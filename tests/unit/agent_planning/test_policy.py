"""The operator's gate over what runs ask for."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.domain.agent.config import RunPolicy
from dockyard.domain.agent.host_config import translate_host_config
from dockyard.domain.agent.policy import apply_run_policy
from dockyard.domain.errors import RunRefused

DEFAULT = RunPolicy()


def apply(raw: dict[str, Any], policy: RunPolicy = DEFAULT, host_os: str = "linux") -> dict[str, Any]:
    return apply_run_policy(translate_host_config(raw, host_os=host_os), policy, host_os=host_os)


@pytest.mark.parametrize(
    ("raw", "flag", "allowing"),
    [
        ({"privileged": True}, "--allow-privileged", RunPolicy(allow_privileged=True)),
        ({"cap_add": ["NET_ADMIN"]}, "--allow-cap-add NET_ADMIN", RunPolicy(allow_cap_add=("net_admin",))),
        ({"cap_add": ["CAP_SYS_TIME"]}, "--allow-cap-add SYS_TIME", RunPolicy(allow_cap_add=("ALL",))),
        ({"cap_add": ["ALL"]}, "--allow-cap-add ALL", RunPolicy(allow_cap_add=("ALL",))),
        ({"pid_mode": "host"}, "--allow-host-namespaces", RunPolicy(allow_host_namespaces=True)),
        ({"ipc_mode": "host"}, "--allow-host-namespaces", RunPolicy(allow_host_namespaces=True)),
        ({"uts_mode": "host"}, "--allow-host-namespaces", RunPolicy(allow_host_namespaces=True)),
        ({"userns_mode": "host"}, "--allow-host-namespaces", RunPolicy(allow_host_namespaces=True)),
        ({"pid_mode": "container:db"}, "--allow-host-namespaces", RunPolicy(allow_host_namespaces=True)),
        ({"network_mode": "host"}, "--allow-host-namespaces", RunPolicy(allow_host_namespaces=True)),
        ({"network_mode": "backend"}, "--allow-network backend", RunPolicy(allow_networks=("backend",))),
        ({"devices": ["/dev/fuse"]}, "--allow-device /dev/fuse", RunPolicy(allow_devices=("/dev/fuse",))),
        (
            {"devices": ["/dev/dri/card0"]},
            "--allow-device /dev/dri/card0",
            RunPolicy(allow_devices=("/dev/dri",)),
        ),
        (
            {"security_opt": ["seccomp=unconfined"]},
            "--allow-security-opt",
            RunPolicy(allow_security_opt=True),
        ),
        ({"sysctls": {"net.ipv4.ip_forward": "1"}}, "--allow-sysctls", RunPolicy(allow_sysctls=True)),
        ({"runtime": "nvidia"}, "--allow-runtime nvidia", RunPolicy(allow_runtimes=("nvidia",))),
        (
            {"device_requests": [{"count": -1, "capabilities": [["gpu"]]}]},
            "--allow-gpus",
            RunPolicy(allow_gpus=True),
        ),
        ({"binds": ["/:/host"]}, "--allow-bind-root /", RunPolicy(allow_bind_roots=("/",))),
        (
            {"binds": ["/srv/data/x:/x"]},
            "--allow-bind-root /srv/data/x",
            RunPolicy(allow_bind_roots=("/srv/data",)),
        ),
        ({"binds": ["cache:/cache"]}, "--allow-named-volumes", RunPolicy(allow_named_volumes=True)),
    ],
)
def test_risky_requests_are_refused_by_default_and_allowed_by_their_flag(
    raw: dict[str, Any], flag: str, allowing: RunPolicy
) -> None:
    with pytest.raises(RunRefused) as refused:
        apply(raw)
    assert flag in str(refused.value)
    # The flag lifts the refusal and changes nothing else.
    assert apply(raw, allowing) == dict(translate_host_config(raw).settings)


def test_a_capability_allow_list_does_not_allow_others() -> None:
    with pytest.raises(RunRefused, match="--allow-cap-add SYS_ADMIN"):
        apply({"cap_add": ["NET_ADMIN", "SYS_ADMIN"]}, RunPolicy(allow_cap_add=("NET_ADMIN",)))
    with pytest.raises(RunRefused, match="--allow-cap-add ALL"):
        apply({"cap_add": ["ALL"]}, RunPolicy(allow_cap_add=("NET_ADMIN",)))


def test_harmless_requests_need_no_flag() -> None:
    assert apply(
        {
            "cap_drop": ["ALL"],
            "read_only": True,
            "init": True,
            "ipc_mode": "private",
            "network_mode": "none",
            "security_opt": ["no-new-privileges"],
            "tmpfs": {"/tmp": ""},
            "port_bindings": {8080: ["127.0.0.1", 9000]},
        }
    )["CapDrop"] == ["ALL"]


@pytest.mark.parametrize(
    "source",
    [
        "/srv/data/../../etc",
        "/srv/data/../secret",
        "/srv/database",
        "/srv",
        "//etc/passwd",
        "/srv/./data/../../x",
    ],
)
def test_bind_roots_resist_traversal_and_prefix_tricks(source: str) -> None:
    with pytest.raises(RunRefused, match="--allow-bind-root"):
        apply({"binds": [f"{source}:/x"]}, RunPolicy(allow_bind_roots=("/srv/data",)))


def test_bind_roots_accept_paths_under_them() -> None:
    policy = RunPolicy(allow_bind_roots=("/srv/data/",))
    assert apply({"binds": ["/srv/data:/x", "/srv/data/a/../b:/y"]}, policy) == {}


def test_windows_bind_roots_compare_case_insensitively() -> None:
    policy = RunPolicy(allow_bind_roots=("C:\\Data",))
    assert apply({"binds": ["c:\\data\\x:/x"]}, policy, host_os="windows") == {}
    with pytest.raises(RunRefused):
        apply({"binds": ["C:\\Data\\..\\Windows:/x"]}, policy, host_os="windows")


def test_memory_and_pids_maxima_cap_requests_and_apply_to_silent_runs() -> None:
    policy = RunPolicy(max_memory=2 * 1024**3, max_pids=256)
    assert apply({}, policy) == {"Memory": 2 * 1024**3, "PidsLimit": 256}
    assert apply({"mem_limit": "1g", "pids_limit": 10}, policy) == {"Memory": 1024**3, "PidsLimit": 10}
    assert apply({"pids_limit": -1}, policy)["PidsLimit"] == 256
    with pytest.raises(RunRefused, match="mem_limit=3221225472, above this agent's --max-memory"):
        apply({"mem_limit": "3g"}, policy)
    with pytest.raises(RunRefused, match="--max-pids"):
        apply({"pids_limit": 1000}, policy)


def test_cpu_maximum() -> None:
    policy = RunPolicy(max_cpus=2)
    assert apply({}, policy) == {"NanoCpus": 2_000_000_000}
    assert apply({"nano_cpus": 500_000_000}, policy) == {"NanoCpus": 500_000_000}
    assert apply({"cpu_quota": 150_000}, policy) == {"CpuQuota": 150_000}
    assert apply({"cpu_period": 50_000}, policy) == {"CpuPeriod": 50_000, "CpuQuota": 100_000}
    with pytest.raises(RunRefused, match="3 CPUs, above this agent's --max-cpus of 2"):
        apply({"nano_cpus": 3_000_000_000}, policy)
    with pytest.raises(RunRefused, match="--max-cpus"):
        apply({"cpu_quota": 100_000, "cpu_period": 25_000}, policy)


def test_shm_maximum() -> None:
    policy = RunPolicy(max_shm_size=1024**3)
    assert apply({"shm_size": "512m"}, policy) == {"ShmSize": 512 * 1024**2}
    with pytest.raises(RunRefused, match="--max-shm-size"):
        apply({"shm_size": "2g"}, policy)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "privileged": st.booleans(),
            "cap_add": st.lists(st.sampled_from(["NET_ADMIN", "SYS_ADMIN", "ALL", "chown"]), max_size=2),
            "pid_mode": st.sampled_from(["", "host", "container:x"]),
            "network_mode": st.sampled_from(["bridge", "host", "none", "mynet", "container:y"]),
            "binds": st.lists(
                st.sampled_from(["/srv/a:/a", "/etc:/e", "vol:/v", "/srv/../etc:/z"]), max_size=1
            ),
            "mem_limit": st.integers(0, 4 * 1024**3),
            "nano_cpus": st.integers(0, 4_000_000_000),
        },
    )
)
def test_the_default_policy_never_lets_anything_risky_through(raw: dict[str, Any]) -> None:
    policy = RunPolicy(allow_bind_roots=("/srv",), max_memory=1024**3, max_cpus=1)
    try:
        result = apply(raw, policy)
    except RunRefused:
        return
    assert not result.get("Privileged")
    assert not result.get("CapAdd")
    assert result.get("PidMode", "") == ""
    assert result.get("NetworkMode", "bridge") in ("bridge", "none")
    assert 0 < result["Memory"] <= 1024**3
    assert 0 < result["NanoCpus"] <= 1_000_000_000
