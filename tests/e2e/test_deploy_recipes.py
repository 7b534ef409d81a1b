"""The README's deployment recipes, run: the systemd units (checked by systemd-analyze, then
their ExecStart run as systemd would, with their environment, and stopped with their kill
signal within their timeout), and the agent in a container built by
scripts/build-dockyard-image.sh, deploying a run on the host's daemon against a server on
the host, then stopped by `docker stop`."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
import requests

from dockyard.domain.agent.agent import SHUTDOWN_SECONDS
from dockyard.entrypoints.cli_server import FLUSH_GRACE, SHUTDOWN_GRACE
from support.agent_process import wait_until
from support.docker_env import SESSION_LABELS, remove_labelled
from support.dockyard_cli import dockyard_run, run_logs, wait_final
from support.paths import REPO_ROOT, SCRIPTS
from support.server_process import free_port, running_server

UNITS = REPO_ROOT / "deploy" / "systemd"
DOCKYARD = Path(sys.executable).parent / "dockyard"
INSTALLED = "/opt/dockyard/bin/dockyard"  # where the units expect dockyard


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


# -- systemd ----------------------------------------------------------------------------------


def read_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A unit file as systemd reads it: sections of (key, value), keys repeatable."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"{path.name}: {line!r} outside a section"
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return sections


def one(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> str:
    (found,) = [value for name, value in unit[section] if name == key]
    return found


def read_env_file(path: Path) -> dict[str, str]:
    """systemd's EnvironmentFile: KEY=VALUE lines, # comments, optional quotes."""
    values = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"") if value.strip()[:1] in "'\"" else value.strip()
    return values


class Installed:
    """The units' files laid out under ``root`` as the README installs them, with dockyard
    from this venv: ``/etc/dockyard`` and ``/var/lib/dockyard`` stand under ``root``."""

    def __init__(self, root: Path) -> None:
        self.etc, self.state = root / "etc", root / "state"
        self.etc.mkdir(parents=True)
        self.state.mkdir()
        for name in ("agent.toml", "agent.env", "server.env"):
            shutil.copy(UNITS / name, self.etc / name)

    def path(self, text: str) -> str:
        return (
            text.replace(INSTALLED, str(DOCKYARD))
            .replace("/etc/dockyard", str(self.etc))
            .replace("/var/lib/dockyard", str(self.state))
        )

    def add_site_settings(self, env_file: str, **settings: str) -> None:
        """What an operator writes into the env file for this site."""
        with (self.etc / env_file).open("a") as out:
            out.writelines(f"{key}={value}\n" for key, value in settings.items())

    def command(self, unit: dict[str, list[tuple[str, str]]]) -> list[str]:
        return [self.path(part) for part in shlex.split(one(unit, "Service", "ExecStart"))]

    def environment(self, unit: dict[str, list[tuple[str, str]]]) -> dict[str, str]:
        """Environment= first, then each EnvironmentFile= (a leading - : optional), as
        systemd builds the service's environment (on top of a bare one)."""
        env = {"PATH": os.environ["PATH"], "HOME": str(self.state), "LANG": "C.UTF-8"}
        for key, value in unit["Service"]:
            if key == "Environment":
                name, _, setting = shlex.split(value)[0].partition("=")
                env[name] = self.path(setting)
            elif key == "EnvironmentFile":
                path = Path(self.path(value.removeprefix("-")))
                if path.exists() or not value.startswith("-"):
                    env.update(read_env_file(path))
        return env


def stop_within(process: subprocess.Popen[bytes], sig: int, timeout: float) -> float:
    began = time.monotonic()
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        pytest.fail(f"the service did not stop within its TimeoutStopSec={timeout:g}")
    return time.monotonic() - began


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    for unit in UNITS.glob("*.service"):
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALLED, str(DOCKYARD)))
    found = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(str(p) for p in tmp_path.glob("*.service"))],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert found.returncode == 0 and not found.stderr.strip(), found.stderr


def test_the_units_say_how_to_stop_and_restart_and_give_the_time_it_takes() -> None:
    agent, server = read_unit(UNITS / "dockyard-agent.service"), read_unit(UNITS / "dockyard-server.service")
    for unit in (agent, server):
        assert one(unit, "Service", "Restart") == "on-failure"
        assert one(unit, "Service", "KillSignal") == "SIGTERM"
        assert one(unit, "Service", "ExecStart").startswith(INSTALLED + " ")
        assert one(unit, "Install", "WantedBy") == "multi-user.target"
    # What the processes take to wind down, from their own constants: deployments under
    # way, the supervisor's and the HTTP API's joins (2 s each) for the agent; the grace of
    # requests in flight, their answers and the services for the server.
    assert float(one(agent, "Service", "TimeoutStopSec")) >= SHUTDOWN_SECONDS + 2 + 2 + 10
    assert float(one(server, "Service", "TimeoutStopSec")) >= SHUTDOWN_GRACE + 2 * FLUSH_GRACE + 5
    assert ("Environment", "DOCKYARD_AGENT_LOCK_DIR=/var/lib/dockyard/agents") in agent["Service"]
    assert one(agent, "Service", "StateDirectory") == one(server, "Service", "StateDirectory") == "dockyard"


def test_the_units_run_as_written_and_stop_within_their_timeout(
    tmp_path: Path, docker_client: docker.DockerClient, test_image: Callable[[str], str]
) -> None:
    installed = Installed(tmp_path)
    server_unit = read_unit(UNITS / "dockyard-server.service")
    agent_unit = read_unit(UNITS / "dockyard-agent.service")
    port, agent_port = free_port(), free_port()
    label, name = f"unit-{uuid.uuid4().hex[:8]}", f"unit-agent-{uuid.uuid4().hex[:8]}"
    installed.add_site_settings("server.env", DOCKYARD_SERVER_PORT=str(port),
                                DOCKYARD_SERVER_DOCKER_BRIDGE="false")  # fmt: skip
    installed.add_site_settings(
        "agent.env",
        PREFECT__CLOUD__API=f"http://127.0.0.1:{port}",
        DOCKYARD_AGENT_NAME=name,
        DOCKYARD_AGENT_LABELS=label,
        DOCKYARD_AGENT_AGENT_ADDRESS=f"127.0.0.1:{agent_port}",
    )
    for unit in (server_unit, agent_unit):  # every option of the command line exists
        shown = subprocess.run([*installed.command(unit), "--help"], capture_output=True, text=True)
        assert shown.returncode == 0, shown.stderr

    logs = {key: (tmp_path / f"{key}.log").open("wb") for key in ("server", "agent")}
    server = subprocess.Popen(installed.command(server_unit), env=installed.environment(server_unit),
                              stdout=logs["server"], stderr=subprocess.STDOUT)  # fmt: skip
    agent: subprocess.Popen[bytes] | None = None
    try:
        api = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers(f"{api}/health"), what="the server unit to serve")
        assert (installed.state / "dockyard.db").exists()  # --db in ExecStart, in the state dir
        agent = subprocess.Popen(installed.command(agent_unit), env=installed.environment(agent_unit),
                                 stdout=logs["agent"], stderr=subprocess.STDOUT)  # fmt: skip
        wait_until(lambda: answers(f"http://127.0.0.1:{agent_port}/api/health"), what="the agent unit")
        run = dockyard_run(api, "create", "--image", test_image("busybox"), "--label", label,
                           "--command", "echo from a unit")  # fmt: skip
        assert wait_final(api, run["id"])["state"] == "Success"
        assert "from a unit" in run_logs(api, run["id"])
        assert list((installed.state / "agents").iterdir())  # the lock file, in the state dir

        took = stop_within(agent, signal.SIGTERM, float(one(agent_unit, "Service", "TimeoutStopSec")))
        assert agent.returncode == 0  # a clean stop: Restart=on-failure leaves it stopped
        took_server = stop_within(
            server, signal.SIGTERM, float(one(server_unit, "Service", "TimeoutStopSec"))
        )
        assert server.returncode == 0
    finally:
        for process in (agent, server):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(10)
        for log in logs.values():
            log.close()
        remove_labelled(docker_client, f"org.dockyard.agent={name}")
    agent_log = (tmp_path / "agent.log").read_text()
    assert '"message": "Agent stopped; running containers are left' in agent_log  # JSON, per the unit
    print(f"agent stopped in {took:.1f}s, server in {took_server:.1f}s")


# -- the agent in a container -----------------------------------------------------------------


@pytest.fixture(scope="module")
def dockyard_image(docker_client: docker.DockerClient) -> Iterator[str]:
    """An image built by the README's script, labelled for this session, removed after."""
    tag = f"dockyard-test/dockyard:{SESSION_LABELS['org.dockyard.test-session']}"
    label = "=".join(next(iter(SESSION_LABELS.items())))
    subprocess.run(["bash", str(SCRIPTS / "build-dockyard-image.sh"), tag, "--label", label], check=True)
    try:
        yield tag
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(tag, force=True)


def test_the_agent_in_a_container_deploys_on_the_host_daemon_and_stops_cleanly(
    tmp_path: Path, docker_client: docker.DockerClient, dockyard_image: str, test_image: Callable[[str], str]
) -> None:
    label, name = f"boxed-{uuid.uuid4().hex[:8]}", f"boxed-agent-{uuid.uuid4().hex[:8]}"
    session_label = "=".join(next(iter(SESSION_LABELS.items())))
    state = docker_client.volumes.create(f"dockyard-state-{uuid.uuid4().hex[:8]}", labels=SESSION_LABELS)
    agent = None
    # The server listens on docker0 too, where containers reach it as host.docker.internal.
    with running_server(tmp_path / "dockyard.db", docker_bridge=True, log_level="INFO") as server:
        try:
            # The README's command line, with this test's names, labels and ports.
            subprocess.run(
                ["docker", "run", "--detach", "--name", name, "--label", session_label,
                 "--restart", "on-failure", "--stop-timeout", "30",
                 "-v", "/var/run/docker.sock:/var/run/docker.sock",
                 "-v", f"{state.name}:/var/lib/dockyard",
                 "--add-host", "host.docker.internal:host-gateway",
                 "-e", f"PREFECT__CLOUD__API=http://host.docker.internal:{server.port}",
                 "-e", "DOCKYARD_AGENT_LOG_FORMAT=json",
                 "-p", "127.0.0.1::8080",
                 dockyard_image, "agent", "start", "--name", name, "--label", label,
                 "--agent-address", "0.0.0.0:8080"],
                check=True, capture_output=True,
            )  # fmt: skip
            agent = docker_client.containers.get(name)
            agent.reload()
            health = f"http://127.0.0.1:{agent.ports['8080/tcp'][0]['HostPort']}/api/health"
            wait_until(lambda: answers(health), timeout=60, what="the containerised agent to be healthy")
            run = dockyard_run(server.url, "create", "--image", test_image("busybox"), "--label", label,
                               "--command", "echo deployed from a container")  # fmt: skip
            finished = wait_final(server.url, run["id"], timeout=60)
            assert finished["state"] == "Success", finished
            assert "deployed from a container" in run_logs(server.url, run["id"])

            began = time.monotonic()
            subprocess.run(["docker", "stop", name], check=True, capture_output=True)  # its own timeout
            took = time.monotonic() - began
            agent.reload()
            assert agent.attrs["State"]["ExitCode"] == 0, agent.logs().decode()[-2000:]
            assert took < 30
            output = agent.logs().decode()
            assert "Agent stopped; running containers are left for the next start to adopt" in output
            locks = docker_client.containers.run(test_image("busybox"), ["ls", "/state/agents"], remove=True,
                                                 volumes={state.name: {"bind": "/state", "mode": "ro"}},
                                                 labels=SESSION_LABELS)  # fmt: skip
            assert locks.strip(), "the agent's lock file is on the volume"
            print(f"agent container stopped in {took:.1f}s")
        finally:
            if agent is not None:
                with contextlib.suppress(docker.errors.NotFound):
                    agent.remove(force=True)
            remove_labelled(docker_client, f"org.dockyard.agent={name}")
            state.remove(force=True)
