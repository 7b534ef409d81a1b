"""Pull policy, the registry allow-list and registry credentials end to end: a real server,
real agents, the real daemon, and throwaway registries on loopback ports.

The daemon's event stream is the witness for "pulled" and "not pulled". Images are pushed
under a namespace unique to the test and every local tag made here is removed at the end.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from support.agent_process import AgentProcess
from support.docker_env import SESSION_LABELS
from support.docker_events import recorded_events
from support.dockyard_cli import dockyard_run, run_logs, wait_final
from support.registry import Registry, bcrypt_hash, push, running_registry
from support.server_process import ServerProcess, running_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "dockyard.db", log_level="INFO") as running:
        yield running


@pytest.fixture
def local_tags(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    """References to untag when the test ends (the image itself stays if others use it)."""
    references: list[str] = []
    yield references
    for reference in references:
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            docker_client.images.remove(reference)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("open-registry")) as running:
        yield running


def start_agent(
    server: ServerProcess,
    agents: list[AgentProcess],
    log_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
) -> AgentProcess:
    agent = AgentProcess(server.url, log_dir=log_dir, args=list(args), env=env)
    agents.append(agent.start())
    return agent


def run(server: ServerProcess, image: str, label: str, command: str) -> dict[str, Any]:
    run_id = dockyard_run(server.url, "create", "--image", image, "--label", label, "--command", command)[
        "id"
    ]
    return wait_final(server.url, run_id, timeout=45)


def marked_image(client: docker.DockerClient, base: str, marker: str) -> str:
    tag = f"dockyard-test/marked:{uuid.uuid4().hex[:12]}"
    dockerfile = f"FROM {base}\nRUN echo {marker} > /marker\n".encode()
    client.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, labels=dict(SESSION_LABELS), rm=True)
    return tag


def test_pull_policies_and_the_allow_list_for_cached_images(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient,
    registry: Registry, local_tags: list[str], test_image: Callable[[str], str], tmp_path: Path,
) -> None:  # fmt: skip
    busybox = test_image("busybox")
    repo = f"{registry.host}/dyt{uuid.uuid4().hex[:10]}/busybox"
    marker = f"pulled-{uuid.uuid4().hex[:8]}"
    newer = marked_image(docker_client, busybox, marker)
    local_tags += [newer, f"{repo}:latest", f"{repo}:present"]
    push(docker_client, newer, repo, "latest")  # the registry's :latest is the marked image
    docker_client.images.get(busybox).tag(repo, "latest")  # a stale local :latest
    docker_client.images.get(busybox).tag(repo, "present")  # only on the daemon
    with recorded_events(docker_client, {"type": "image", "event": "pull"}) as pulled:
        label, no_pull, never = (f"pp-{uuid.uuid4().hex[:8]}" for _ in range(3))
        start_agent(server, agents, tmp_path, "--label", label, "--reg-allow-list", registry.host)
        start_agent(
            server, agents, tmp_path, "--label", no_pull, "--no-pull", "--reg-allow-list", registry.host
        )
        start_agent(server, agents, tmp_path, "--label", never, "--pull-policy", "never",
                    "--reg-allow-list", registry.host)  # fmt: skip

        pinned = run(server, f"{repo}:present", label, "echo present")  # if-not-present: no pull
        floating = run(server, f"{repo}:latest", label, "cat /marker")  # always: pulled over the stale one
        missing = run(server, f"{repo}:absent", label, "echo never")  # pulled: the registry says no
        cached = run(server, busybox, label, "echo never")  # on the daemon, registry not allowed
        not_pulled = run(server, f"{repo}:elsewhere", no_pull, "echo never")
        never_pulled = run(server, f"{repo}:elsewhere", never, "echo never")

        assert pinned["state"] == "Success", pinned
        assert floating["state"] == "Success", floating
        assert marker in run_logs(server.url, floating["id"])  # the pulled image ran
        assert missing["state"] == "Failed"
        assert f"Pulling image {repo}:absent failed" in missing["state_message"]
        assert "manifest unknown" in missing["state_message"]  # the registry's own words
        assert cached["state"] == "Failed"
        assert "not in the reg_allow_list" in cached["state_message"]
        assert "--reg-allow-list dockyard-test" in cached["state_message"]
        for refused in (not_pulled, never_pulled):
            assert refused["state"] == "Failed"
            assert f"Image {repo}:elsewhere is not on the Docker daemon" in refused["state_message"]
            assert "--no-pull" in refused["state_message"]
    # Only the floating reference was pulled (a failed pull leaves no pull event; its
    # registry message above shows it was tried).
    # (Of this test's references: other tests may pull at the same time.)
    references = {event["Actor"]["ID"] for event in pulled}
    assert {ref for ref in references if ref.startswith(repo) or ref == busybox} == {f"{repo}:latest"}


def test_registry_logins_from_the_auth_file_the_environment_and_the_docker_config(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient,
    local_tags: list[str], test_image: Callable[[str], str], tmp_path: Path,
) -> None:  # fmt: skip
    password = uuid.uuid4().hex
    (tmp_path / "auth").mkdir()
    htpasswd = tmp_path / "auth" / "htpasswd"
    htpasswd.write_text(f"robot:{bcrypt_hash(password)}\n")
    with running_registry(tmp_path / "storage", htpasswd=htpasswd) as registry:
        repo = f"{registry.host}/dyt{uuid.uuid4().hex[:10]}/busybox"
        login = {"username": "robot", "password": password}
        for tag in ("private", "docker-config", "from-env"):  # one per agent that pulls
            local_tags.append(f"{repo}:{tag}")  # untagged at the end even if the push fails
            docker_client.images.get(test_image("busybox")).tag(repo, tag)
            for line in docker_client.images.push(repo, tag, stream=True, decode=True, auth_config=login):
                assert "error" not in line, line
            docker_client.images.remove(f"{repo}:{tag}")
        docker_config = tmp_path / "docker-config"
        docker_config.mkdir()
        basic = base64.b64encode(f"robot:{password}".encode()).decode()
        (docker_config / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": basic}}}))

        def auth_file(name: str, secret: str) -> Path:
            path = tmp_path / name
            path.write_text(json.dumps({registry.host: {"username": "robot", "password": secret}}))
            return path

        anonymous, wrong, right, host_config, env_login = (f"auth-{uuid.uuid4().hex[:8]}" for _ in range(5))
        allow = ["--reg-allow-list", registry.host]
        start_agent(server, agents, tmp_path, "--label", anonymous, *allow)
        start_agent(server, agents, tmp_path, "--label", wrong, *allow,
                    "--registry-auth-file", str(auth_file("wrong.json", "not-the-password")))  # fmt: skip
        with_login = start_agent(server, agents, tmp_path, "--label", right, *allow,
                                 "--registry-auth-file", str(auth_file("right.json", password)))  # fmt: skip

        # The agent host's own Docker config (here through DOCKER_CONFIG), and a login given
        # in the environment (DOCKYARD_AGENT_REGISTRY_AUTH).
        start_agent(
            server,
            agents,
            tmp_path,
            "--label",
            host_config,
            *allow,
            env={"DOCKER_CONFIG": str(docker_config)},
        )
        start_agent(server, agents, tmp_path, "--label", env_login, *allow,
                    env={"DOCKYARD_AGENT_REGISTRY_AUTH": json.dumps({registry.host: login})})  # fmt: skip

        refused = run(server, f"{repo}:private", anonymous, "echo never")
        mistaken = run(server, f"{repo}:private", wrong, "echo never")
        pulled = run(server, f"{repo}:private", right, "echo authenticated")
        by_docker_config = run(server, f"{repo}:docker-config", host_config, "echo from docker config")
        by_env = run(server, f"{repo}:from-env", env_login, "echo from env")

    assert refused["state"] == "Failed"
    assert f"Pulling image {repo}:private failed" in refused["state_message"]
    assert "no basic auth credentials" in refused["state_message"]
    assert mistaken["state"] == "Failed"
    assert f"Pulling image {repo}:private failed" in mistaken["state_message"]
    assert "unauthorized" in mistaken["state_message"]
    assert pulled["state"] == "Success", f"{pulled}\n{with_login.output()[-2000:]}"
    assert "authenticated" in run_logs(server.url, pulled["id"])
    assert by_docker_config["state"] == "Success", by_docker_config
    assert by_env["state"] == "Success", by_env
    for agent in agents:
        assert password not in agent.output()
