"""Malformed and hostile run configs, each with the words its Failed message must contain.

The corpus is sent through a real server and agent (tests/e2e/test_hostile_run_configs.py)
and through ``dockyard agent plan`` (tests/unit/agent_planning/test_hostile_plans.py), with
the agent flags below: Docker Hub namespace ``dockyard-test`` only (``--reg-allow-list``;
the local test images normalise to ``docker.io/dockyard-test/...``), only busybox among
those (``--allow-image``), no pulls, one bind root, and resource maxima.

One case is not a refusal: ``auto_remove`` is accepted and ignored (dockyard removes the
container itself after recording the outcome). One is refused only once the daemon has been
asked whether the image is there (an allowed image that is not, with --no-pull):
``needs_daemon`` marks it, as ``dockyard agent plan`` (which contacts nothing) cannot see it.
"""

# A table of cases reads best one case a line.
# ruff: noqa: E501
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BUSYBOX = "dockyard-test/busybox:1"
PYTHON = "dockyard-test/python:3.11"  # on the daemon, from an allowed namespace, not allowed
GOOD_COMMAND = "echo ok"
DIGEST = "sha256:" + "ab" * 32

ZWJ = "\u200d"  # zero-width joiner
ZWSP = "\u200b"  # zero-width space
RLO = "\u202e"  # right-to-left override
CYRILLIC_IE = "\u0435"  # looks like the Latin e


def corpus_agent_flags(allowed_root: Path) -> list[str]:
    return [
        "--no-pull",
        "--reg-allow-list", "dockyard-test",
        "--allow-image", "dockyard-test/busybox:*",
        "--allow-bind-root", str(allowed_root),
        "--max-memory", "256m",
        "--max-cpus", "1",
        "--max-pids", "512",
        "--max-shm-size", "64m",
    ]  # fmt: skip


@dataclass(frozen=True)
class Case:
    name: str
    run_config: Any
    expect: tuple[str, ...] = ()  # words the Failed message must contain
    outcome: str = "Failed"
    needs_daemon: bool = False  # refused after asking the daemon (still before any create)
    # False where only a running agent can see it: the links on the daemon's host.
    plan_sees: bool = True
    tags: tuple[str, ...] = field(default_factory=tuple)


def docker_run(**keys: Any) -> dict[str, Any]:
    """A DockerRun of busybox that would print "should-not-run" if it ever started."""
    return {"type": "DockerRun", "image": BUSYBOX, "command": "echo should-not-run", **keys}


def host(**settings: Any) -> dict[str, Any]:
    return docker_run(host_config=settings)


def good_run() -> dict[str, Any]:
    return {"type": "DockerRun", "image": BUSYBOX, "command": GOOD_COMMAND}


def cases(allowed_root: Path, escape_link: Path) -> list[Case]:
    """``allowed_root``: the agent's --allow-bind-root; ``escape_link``: a symbolic link
    inside it that points at ``/``."""
    root = str(allowed_root)
    deep_up = "/..".join([""] * 12)  # /../../... : more than enough to reach /
    return [
        # -- image references ---------------------------------------------------------
        Case("empty image", docker_run(image=""), ("image", "non-empty string")),
        Case("image of the wrong type", docker_run(image=12345), ("image", "non-empty string")),
        Case("image list", docker_run(image=[BUSYBOX]), ("image", "non-empty string")),
        Case("upper-case repository", docker_run(image="dockyard-test/BusyBox:1"), ("lowercase",)),
        Case("shell in the reference", docker_run(image=f"{BUSYBOX}; rm -rf /"), ("invalid image reference",)),
        Case("empty tag", docker_run(image="dockyard-test/busybox:"), ("invalid tag",)),
        Case("short digest", docker_run(image="dockyard-test/busybox@sha256:abc"), ("invalid digest",)),
        Case("path traversal as a name", docker_run(image="../../etc/passwd"), ("invalid",)),
        Case(
            "homoglyph registry (Cyrillic e)",
            docker_run(image=f"dock{CYRILLIC_IE}r.io/dockyard-test/busybox:1"),
            ("invalid registry",),
        ),
        Case("zero-width joiner in the name", docker_run(image=f"dockyard-test/busy{ZWJ}box:1"), ("invalid",)),
        Case("right-to-left override in the tag", docker_run(image=f"{BUSYBOX}{RLO}"), ("invalid tag",)),
        Case("fullwidth letters", docker_run(image="\uff44ockyard-test/busybox:1"), ("invalid",)),
        Case(
            "registry not in the allow-list",
            docker_run(image="localhost:5000/dockyard-test/busybox:1"),
            ("reg_allow_list", "localhost:5000"),
        ),
        Case("Hub alias to another namespace", docker_run(image="index.docker.io/evil/busybox:1"), ("reg_allow_list", "evil")),
        Case("allowed name as a host prefix", docker_run(image="dockyard-test.evil.com/busybox:1"), ("reg_allow_list",)),
        Case("allowed namespace as a prefix", docker_run(image="dockyard-testevil/busybox:1"), ("reg_allow_list",)),
        Case("cached image not in --allow-image", docker_run(image=PYTHON), ("allow_images", "--allow-image")),
        Case("digest reference", docker_run(image=f"dockyard-test/busybox@{DIGEST}"), ("allow_images",)),
        Case(
            "allowed image not on the daemon (--no-pull)",
            docker_run(image="dockyard-test/busybox:absent"),
            ("dockyard-test/busybox:absent",),
            needs_daemon=True,
        ),
        # -- the run config's shape -----------------------------------------------------
        Case("run config a string", "DockerRun", ("not an object",)),
        Case("run config a list", [good_run()], ("not an object",)),
        Case("another run config type", {"type": "KubernetesRun", "image": BUSYBOX}, ("KubernetesRun", "DockerRun")),
        Case("unknown top-level key", docker_run(privileged=True), ("unsupported keys", "privileged")),
        Case("Engine API key in host_config", host(Privileged=True), ("Privileged", "not supported")),
        Case("unknown host_config key", host(volumes_from=["other"]), ("volumes_from", "not supported")),
        Case("host_config a string", docker_run(host_config="privileged"), ("host_config", "object")),
        Case("command of the wrong type", docker_run(command=42), ("command",)),
        Case("command list with a number", docker_run(command=["echo", 1]), ("command",)),
        Case("blank command", docker_run(command="   "), ("command",)),
        Case("timeout of the wrong type", docker_run(timeout="10"), ("timeout",)),
        Case("negative timeout", docker_run(timeout=-1), ("timeout",)),
        Case("infinite timeout (JSON Infinity)", docker_run(timeout=float("inf")), ("timeout",)),
        Case("timeout NaN", docker_run(timeout=float("nan")), ("timeout",)),
        Case("ports of the wrong type", docker_run(ports="8080"), ("ports",)),
        Case("a port published on every interface", host(port_bindings={"8080/tcp": 8080}), ("--allow-public-ports",)),
        Case("every exposed port published", host(publish_all_ports=True), ("--allow-public-ports",)),
        Case("port out of range", docker_run(ports=[99999]), ("99999",)),
        # -- env ------------------------------------------------------------------------
        Case("env a list", docker_run(env=["A=1"]), ("env", "object")),
        Case("env value an object", docker_run(env={"A": {"nested": 1}}), ("env value", "`A`")),
        Case("env key with =", docker_run(env={"A=B": "x"}), ("env key",)),
        Case("env value with NUL", docker_run(env={"A": "x\x00y"}), ("NUL",)),
        Case("zero-width space in an env key", docker_run(env={f"PATH{ZWSP}": "/x"}), ("env key",)),
        Case("right-to-left override in an env key", docker_run(env={f"A{RLO}B": "x"}), ("env key",)),
        Case("a 1 MB env value", docker_run(env={"BIG": "x" * 1_000_000}), ("BIG", "env")),
        Case("10,000 env keys", docker_run(env={f"K{i}": "v" for i in range(10_000)}), ("10000", "env")),
        # -- privileges and namespaces ------------------------------------------------------
        Case("privileged", host(privileged=True), ("privileged", "--allow-privileged")),
        Case("privileged as a string", host(privileged="true"), ("privileged", "true or false")),
        Case("cap_add", host(cap_add=["SYS_ADMIN"]), ("SYS_ADMIN", "--allow-cap-add")),
        Case("cap_add with a zero-width space", host(cap_add=[f"SYS{ZWSP}ADMIN"]), ("cap_add",)),
        Case("cap_add a string", host(cap_add="ALL"), ("cap_add", "list")),
        Case("pid_mode host", host(pid_mode="host"), ("pid_mode", "--allow-host-namespaces")),
        Case("pid_mode host with a zero-width space", host(pid_mode=f"host{ZWSP}"), ("pid_mode",)),
        Case("ipc_mode host", host(ipc_mode="host"), ("ipc_mode", "--allow-host-namespaces")),
        Case("uts_mode host", host(uts_mode="host"), ("uts_mode", "--allow-host-namespaces")),
        Case("userns_mode host", host(userns_mode="host"), ("userns_mode", "--allow-host-namespaces")),
        Case("network_mode host", host(network_mode="host"), ("network_mode", "--allow-host-namespaces")),
        Case("network_mode of another container", host(network_mode="container:dockerd"), ("--allow-host-namespaces",)),
        Case("network_mode host with a zero-width space", host(network_mode=f"host{ZWSP}"), ("network_mode",)),
        Case("a device", host(devices=["/dev/sda:/dev/sda:rwm"]), ("/dev/sda", "--allow-device")),
        Case("a device through ..", host(devices=["/dev/null/../mem"]), ("/dev/mem", "--allow-device")),
        Case("devices a string", host(devices="/dev/sda"), ("devices",)),
        Case("seccomp off", host(security_opt=["seccomp=unconfined"]), ("security_opt", "--allow-security-opt")),
        Case("apparmor off", host(security_opt=["apparmor=unconfined"]), ("--allow-security-opt",)),
        Case("sysctls", host(sysctls={"net.ipv4.ip_forward": "1"}), ("sysctls", "--allow-sysctls")),
        Case("sysctls a list", host(sysctls=["net.ipv4.ip_forward=1"]), ("sysctls",)),
        Case("another runtime", host(runtime="nvidia"), ("runtime", "--allow-runtime")),
        Case("GPUs", host(device_requests=[{"count": -1, "capabilities": [["gpu"]]}]), ("--allow-gpus",)),
        Case("restart_policy", host(restart_policy={"Name": "always"}), ("restart_policy", "not supported")),
        Case(
            "log driver shipping output off the machine",
            host(log_config={"type": "syslog", "config": {"syslog-address": "udp://192.0.2.1:514"}}),
            ("log_config", "syslog"),
        ),
        # -- binds ------------------------------------------------------------------------
        Case("bind of /", host(binds=["/:/host"]), ("bind mount of /", "--allow-bind-root")),
        Case("bind of the Docker socket", host(binds=["/var/run/docker.sock:/var/run/docker.sock"]), ("/var/run/docker.sock",)),
        Case("bind of the socket with //", host(binds=["//var/run//docker.sock:/s"]), ("/var/run/docker.sock",)),
        Case("../ out of the allowed root", host(binds=[f"{root}{deep_up}/etc:/x:ro"]), ("bind mount of /etc",)),
        Case("sibling with the root as prefix", host(binds=[f"{root}-evil:/x"]), ("--allow-bind-root",)),
        Case("symbolic link out of the allowed root", host(binds=[f"{escape_link}:/host"]), ("symbolic links lead to /,", "--allow-bind-root"), plan_sees=False),
        Case("binds as an object", host(binds={"/etc": {"bind": "/x", "mode": "rw"}}), ("bind mount of /etc",)),
        Case("binds a string", host(binds="/etc:/x"), ("binds",)),
        Case("bind over the container's /", host(binds=[f"{root}:/"]), ("binds",)),
        Case("a named volume", host(binds=["secrets:/x"]), ("--allow-named-volumes",)),
        Case("a home-relative bind", host(binds=["~/.ssh:/ssh"]), ("binds",)),
        Case("a fullwidth solidus", host(binds=["\uff0fetc:/x"]), ("binds",)),
        Case("bind mode not known", host(binds=[f"{root}:/x:rw,exec"]), ("binds", "mode")),
        # -- resources ----------------------------------------------------------------------
        Case("negative memory", host(mem_limit=-5), ("mem_limit",)),
        Case("memory as a bool", host(mem_limit=True), ("mem_limit",)),
        Case("memory above the cap", host(mem_limit="1000t"), ("mem_limit", "--max-memory")),
        Case("CPUs above the cap", host(nano_cpus=10**18), ("--max-cpus",)),
        Case("processes above the cap", host(pids_limit=10**9), ("pids_limit", "--max-pids")),
        Case("shm above the cap", host(shm_size="100g"), ("shm_size", "--max-shm-size")),
        Case("negative ulimit", host(ulimits=[{"name": "nofile", "soft": -5, "hard": 10}]), ("ulimits",)),
        Case("cpu_shares a word", host(cpu_shares="lots"), ("cpu_shares", "integer")),
        Case("nano_cpus NaN", host(nano_cpus=float("nan")), ("nano_cpus", "integer")),
        Case("extra_hosts redefining host.docker.internal", host(extra_hosts={"host.docker.internal": "192.0.2.1"}), ("host.docker.internal",)),
        Case("extra_hosts address not an IP", host(extra_hosts={"evil": "evil.example"}), ("extra_hosts",)),
        # -- accepted and ignored ---------------------------------------------------------------
        Case(
            "auto_remove (ignored)",
            {**good_run(), "host_config": {"auto_remove": True}},
            outcome="Success",
            tags=("ignored",),
        ),
    ]  # fmt: skip
