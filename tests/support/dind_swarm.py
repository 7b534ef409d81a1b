"""A Swarm of three Docker-in-Docker nodes (``dockyard-test/dind``) for the multi-node tests.

The Swarm is the nodes' own, apart from the test daemon's (which the single-node ``swarm``
fixture may have made a manager meanwhile): a manager, drained so that it runs no task, and
two workers labelled ``role=a`` and ``role=b``, joined over the test daemon's default bridge.
Each node's Engine listens on plain TCP inside the container, published on 127.0.0.1 only:
the agent under test talks to the manager there, and the tests ask each worker what it ran.
Images reach the nodes by ``docker save`` | ``docker load`` (there is no registry).

Nodes run privileged where the test daemon allows it; where it cannot grant every
capability (a daemon itself in a container), with every capability it has, no seccomp or
AppArmor profile, every device and a writable cgroup tree instead.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import docker
import docker.errors

from support.docker_env import SESSION_LABELS

NODE_LABEL = "org.dockyard.test-dind"


@dataclass
class Node:
    name: str
    container: docker.models.containers.Container
    port: int
    node_id: str = ""

    @property
    def base_url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.base_url, version="1.41", timeout=60)


@dataclass
class DindSwarm:
    manager: Node
    workers: dict[str, Node] = field(default_factory=dict)  # by role label: "a", "b"

    def worker_by_id(self, node_id: str) -> Node:
        return next(node for node in self.workers.values() if node.node_id == node_id)


@contextlib.contextmanager
def dind_swarm(client: docker.DockerClient, image: str, load: Sequence[str]) -> Iterator[DindSwarm]:
    tag = uuid.uuid4().hex[:10]
    labels = {**SESSION_LABELS, NODE_LABEL: tag}
    try:
        nodes = [_start(client, image, f"dyt-{role}-{tag}", labels) for role in ("manager", "a", "b")]
        for node in nodes:
            _wait_for_engine(node)
        swarm = _form(client, nodes)
        for reference in load:
            archive = b"".join(client.images.get(reference).save(named=True))
            for node in swarm.workers.values():
                node_client = node.client()
                try:
                    node_client.images.load(archive)
                finally:
                    node_client.close()
        yield swarm
    finally:
        for container in client.containers.list(all=True, filters={"label": f"{NODE_LABEL}={tag}"}):
            container.remove(force=True, v=True)


def _start(client: docker.DockerClient, image: str, name: str, labels: dict[str, str]) -> Node:
    try:
        container_id = _create(client, image, name, labels, privileged=True)
        client.api.start(container_id)
    except docker.errors.APIError as exc:
        if "caps" not in str(exc):
            raise
        _remove(client, name)
        container_id = _create(client, image, name, labels, privileged=False)
        client.api.start(container_id)
    container = client.containers.get(container_id)
    port = int(container.attrs["NetworkSettings"]["Ports"]["2375/tcp"][0]["HostPort"])
    return Node(name=name, container=container, port=port)


def _create(
    client: docker.DockerClient, image: str, name: str, labels: dict[str, str], *, privileged: bool
) -> str:
    host_config = client.api.create_host_config(
        port_bindings={2375: ("127.0.0.1", None)},
        tmpfs={"/run": ""},
        # The node's images and containers: overlay2 needs a file system that is not overlay.
        mounts=[docker.types.Mount("/var/lib/docker", None, type="volume", labels=labels)],
        **({"privileged": True} if privileged else _nearly_privileged()),
    )
    if not privileged:  # what `--security-opt systempaths=unconfined` sends: /proc and /sys unmasked
        host_config.update({"MaskedPaths": [], "ReadonlyPaths": []})
    created = client.api.create_container(
        image, name=name, hostname=name, labels=labels, ports=[2375], host_config=host_config
    )
    return str(created["Id"])


def _nearly_privileged() -> dict[str, object]:
    """What --privileged gives a Docker daemon inside, from a daemon that cannot grant
    every capability (it lacks one itself): runc refuses --privileged then."""
    with open("/proc/self/status") as status:
        bounding = next(int(line.split()[1], 16) for line in status if line.startswith("CapBnd:"))
    missing = [name for bit, name in _CAPABILITIES.items() if not bounding >> bit & 1]
    return {
        "cap_add": ["ALL"],
        "cap_drop": missing,
        "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
        "device_cgroup_rules": ["a *:* rwm"],
        "binds": {"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}},
    }


# Linux capability bits (capability.h), for the names Docker's --cap-drop takes.
_CAPABILITIES = dict(enumerate([
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
]))  # fmt: skip


def _remove(client: docker.DockerClient, name: str) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get(name).remove(force=True, v=True)


def _wait_for_engine(node: Node, within: float = 90.0) -> None:
    deadline = time.monotonic() + within
    while True:
        probe = node.client()
        try:
            if probe.ping():
                return
        except Exception:
            pass
        finally:
            probe.close()
        node.container.reload()
        if node.container.status != "running" or time.monotonic() > deadline:
            logs = node.container.logs(tail=20).decode(errors="replace")
            raise RuntimeError(f"the Engine in {node.name} did not answer ({node.container.status}):\n{logs}")
        time.sleep(0.2)


def _form(client: docker.DockerClient, nodes: list[Node]) -> DindSwarm:
    manager, *workers = nodes
    address = _bridge_address(manager)
    manager_client = manager.client()
    try:
        manager_client.swarm.init(advertise_addr=address, listen_addr="0.0.0.0:2377")
        token = manager_client.swarm.attrs["JoinTokens"]["Worker"]
        for worker in workers:
            worker_client = worker.client()
            try:
                worker_client.swarm.join(remote_addrs=[f"{address}:2377"], join_token=token)
                worker.node_id = str(worker_client.info()["Swarm"]["NodeID"])
            finally:
                worker_client.close()
        manager.node_id = str(manager_client.info()["Swarm"]["NodeID"])
        swarm = DindSwarm(manager=manager, workers=dict(zip(("a", "b"), workers, strict=True)))
        _set_node(manager_client, manager.node_id, availability="drain")
        for role, worker in swarm.workers.items():
            _set_node(manager_client, worker.node_id, labels={"role": role})
        _wait_until_ready(manager_client, len(nodes))
        return swarm
    finally:
        manager_client.close()


def _bridge_address(node: Node) -> str:
    node.container.reload()
    return str(node.container.attrs["NetworkSettings"]["IPAddress"])


def _set_node(client: docker.DockerClient, node_id: str, **changes: object) -> None:
    node = client.nodes.get(node_id)
    spec = dict(node.attrs["Spec"])
    if "availability" in changes:
        spec["Availability"] = changes["availability"]
    if "labels" in changes:
        spec["Labels"] = {**spec.get("Labels", {}), **changes["labels"]}  # type: ignore[dict-item]
    node.update(spec)


def _wait_until_ready(client: docker.DockerClient, count: int, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while True:
        ready = [n for n in client.nodes.list() if n.attrs["Status"]["State"] == "ready"]
        if len(ready) == count:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(ready)} of {count} Swarm nodes became ready")
        time.sleep(0.2)
