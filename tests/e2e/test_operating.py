"""Operating dockyard, on real processes: Prometheus metrics scraped from a real agent and a
real server after real runs, their logs as JSON lines, pulls from a throwaway registry, and
runs waiting under --limit.

Metrics are read with prometheus_client's own parser, logs with json.loads line by line.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from support.agent_process import AgentProcess, wait_until
from support.dockyard_cli import dockyard_run, run_logs, wait_final
from support.registry import Registry, build_unique_image, push, running_registry
from support.server_process import ServerProcess, free_port, running_server

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def scrape(url: str, **headers: str) -> Samples:
    response = requests.get(f"{url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    found: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of a log, each a JSON object (fails on the first that is not)."""
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"line {number} of the log is not JSON: {line!r}")
        assert isinstance(record, dict), line
        assert {"timestamp", "level", "logger", "message"} <= set(record), line
        assert str(record["timestamp"]).endswith("+00:00"), line
        records.append(record)
    return records


def create(server: ServerProcess, label: str, command: str, image: str) -> str:
    return str(
        dockyard_run(server.url, "create", "--image", image, "--label", label, "--command", command)["id"]
    )


@pytest.fixture
def json_server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "dockyard.db", extra_args=["--log-format", "json"]) as running:
        yield running


def test_metrics_and_json_logs_of_a_real_agent_and_server_after_real_runs(
    json_server: ServerProcess, agents: list[AgentProcess], test_image: Callable[[str], str], tmp_path: Path
) -> None:
    server, busybox = json_server, test_image("busybox")
    label, port = f"metrics-{uuid.uuid4().hex[:8]}", free_port()
    agent_url = f"http://127.0.0.1:{port}"
    agent = AgentProcess(
        server.url,
        args=["--label", label, "--agent-address", f"127.0.0.1:{port}"],
        env={"DOCKYARD_AGENT_LOG_FORMAT": "json"},  # the variable, like a systemd unit would set it
        log_dir=tmp_path,
    )
    agents.append(agent.start())
    wait_until(lambda: answers(f"{agent_url}/api/health"), what="a healthy agent")

    good = [create(server, label, f"echo good {n}", busybox) for n in range(3)]
    bad = create(server, label, "echo about to fail; exit 3", busybox)
    finals = {run_id: wait_final(server.url, run_id, timeout=60)["state"] for run_id in [*good, bad]}
    assert finals == {**dict.fromkeys(good, "Success"), bad: "Failed"}

    # The agent counts a settlement once the container is gone: wait for the fourth.
    wait_until(
        lambda: value(scrape(agent_url), "dockyard_agent_runs_settled_total", state="Success") == 3,
        what="three Success settlements",
    )
    wait_until(
        lambda: value(scrape(agent_url), "dockyard_agent_runs_settled_total", state="Failed") == 1,
        what="one Failed settlement",
    )
    wait_until(
        lambda: value(scrape(agent_url), "dockyard_agent_runs_in_flight", phase="running") == 0,
        what="no run in flight",
    )
    seen = scrape(agent_url)
    assert value(seen, "dockyard_agent_runs_claimed_total") == 4
    assert value(seen, "dockyard_agent_runs_deployed_total") == 4
    assert value(seen, "dockyard_agent_deploy_failures_total") == 0
    assert value(seen, "dockyard_agent_deploy_seconds_count") == 4
    assert 0 < value(seen, "dockyard_agent_deploy_seconds_sum") < 60
    assert value(seen, "dockyard_agent_start_delay_seconds_count") == 4
    assert value(seen, "dockyard_agent_containers_running") == 0
    assert value(seen, "dockyard_agent_poll_seconds_count", outcome="ok") >= 1
    assert value(seen, "dockyard_agent_poll_seconds_count", outcome="failed") == 0
    assert value(seen, "dockyard_agent_backend_errors_total", kind="unavailable") == 0
    assert value(seen, "dockyard_agent_pulls_total", outcome="ok") == 0  # a pinned, present image
    (info,) = seen["dockyard_agent_info"]
    assert dict(info) == {"name": agent.name, "version": version("dockyard")}

    # The server, without its API key (it has none here) and on its own port.
    served = scrape(server.url)
    assert value(served, "dockyard_server_flow_runs", state="Success") == 3
    assert value(served, "dockyard_server_flow_runs", state="Failed") == 1
    assert value(served, "dockyard_server_flow_runs", state="Scheduled") == 0
    assert value(served, "dockyard_server_requests_total", operation="get_runs_in_queue", outcome="ok") >= 1
    assert value(served, "dockyard_server_requests_total", operation="create_flow_run", outcome="ok") == 4
    assert value(served, "dockyard_server_requests_total", operation="health", outcome="ok") >= 1
    assert value(served, "dockyard_server_request_seconds_count", operation="create_flow_run") == 4
    for service in ("scheduler", "zombie_killer", "lazarus"):
        assert value(served, "dockyard_server_service_passes_total", service=service, outcome="ok") >= 1
    assert value(served, "dockyard_server_requests_in_flight") <= 1  # the agent's long poll, if any

    # Every line of both logs is a JSON object; the agent's lines about a run carry its id.
    agent_records = json_lines(agent.output())
    for run_id, state in finals.items():
        about = [r for r in agent_records if r.get("flow_run_id") == run_id]
        messages = [str(r["message"]) for r in about]
        assert any(m.startswith(f"Deploying flow run {run_id}") for m in messages), messages
        assert any(m.startswith(f"Flow run {run_id} ended {state}") for m in messages), messages
        assert all(r.get("flow_run_name") for r in about if str(r["message"]).startswith("Deploying"))
    server_records = json_lines(server.log())
    assert any("dockyard server listening" in str(r["message"]) for r in server_records)
    assert any(r["logger"] == "dockyard.server.services" for r in server_records)


def test_metrics_stay_open_beside_an_api_key_and_can_be_turned_off(tmp_path: Path) -> None:
    with running_server(tmp_path / "keyed.db", api_key="s3cret-key", log_level="INFO") as keyed:
        refused = requests.post(keyed.url, json={"query": "{ hello }"}, timeout=10).json()
        assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        served = scrape(keyed.url)  # no Authorization header
        assert value(served, "dockyard_server_requests_total", operation="-", outcome="unauthenticated") == 1
        assert "s3cret-key" not in requests.get(f"{keyed.url}/metrics", timeout=10).text
    with running_server(tmp_path / "quiet.db", extra_args=["--no-metrics"], log_level="INFO") as quiet:
        assert requests.get(f"{quiet.url}/metrics", timeout=10).status_code == 404


# -- pulls ----------------------------------------------------------------------------------------


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    with running_registry(tmp_path / "registry") as running:
        yield running


def test_a_pull_logs_its_progress_and_its_duration_and_no_pull_says_nothing(
    server: ServerProcess, agents: list[AgentProcess], registry: Registry,
    docker_client: docker.DockerClient, test_image: Callable[[str], str], tmp_path: Path,
) -> None:  # fmt: skip
    busybox = test_image("busybox")
    repo = f"{registry.host}/dyt{uuid.uuid4().hex[:10]}/unique"
    unique = build_unique_image(docker_client, busybox)
    try:
        push(docker_client, unique, repo, "latest")  # floating: pulled before the create
    finally:
        docker_client.images.remove(unique)  # its own layer must now come from the registry
    image = f"{repo}:latest"
    pulls, no_pull, port = f"pull-{uuid.uuid4().hex[:8]}", f"nopull-{uuid.uuid4().hex[:8]}", free_port()
    allow = ["--reg-allow-list", registry.host]
    puller = AgentProcess(server.url, log_dir=tmp_path, args=["--label", pulls, *allow,
                          "--agent-address", f"127.0.0.1:{port}"])  # fmt: skip
    never = AgentProcess(server.url, log_dir=tmp_path, args=["--label", no_pull, "--no-pull"])
    agents += [puller.start(), never.start()]
    try:
        pulled = wait_final(server.url, create(server, pulls, "cat /unique", image), timeout=90)
        cached = wait_final(server.url, create(server, no_pull, "echo cached", busybox), timeout=60)
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(image, force=True)

    assert pulled["state"] == "Success", pulled
    log = puller.output()
    assert f"Pulling image {image} for flow run {pulled['id']}" in log
    (summary,) = [line for line in log.splitlines() if f"Pulled image {image} in " in line]
    # The base image's layers are on the daemon already; the unique one comes over the wire.
    base = len(docker_client.images.get(busybox).attrs["RootFS"]["Layers"])
    expected = rf"in \d+\.\ds: {base + 1} layers \({base} already present\), \d+ B downloaded$"
    assert re.search(expected, summary), summary
    assert not summary.endswith(" 0 B downloaded")
    run_log = run_logs(server.url, pulled["id"])
    assert f"Pulled image {image} in " in run_log
    assert run_log.count("Pulled image") == 1
    seen = scrape(f"http://127.0.0.1:{port}")
    assert value(seen, "dockyard_agent_pulls_total", outcome="ok") == 1
    assert value(seen, "dockyard_agent_pull_bytes_total") > 0
    assert value(seen, "dockyard_agent_pull_seconds_count") == 1

    assert cached["state"] == "Success", cached
    assert "Pulling image" not in never.output() and "Pulled image" not in never.output()


# -- the limit ------------------------------------------------------------------------------------


def test_runs_waiting_under_the_limit_are_logged_once_not_at_every_poll(
    server: ServerProcess, agents: list[AgentProcess], test_image: Callable[[str], str], tmp_path: Path
) -> None:
    label, port = f"limit-{uuid.uuid4().hex[:8]}", free_port()
    runs = [create(server, label, "sleep 3", test_image("busybox")) for _ in range(3)]
    address = ["--agent-address", f"127.0.0.1:{port}"]
    agent = AgentProcess(server.url, log_dir=tmp_path, args=["--label", label, "--limit", "1", *address])
    agents.append(agent.start())
    for run_id in runs:
        assert wait_final(server.url, run_id, timeout=90)["state"] == "Success"

    lines = [line.split(" | ", 1)[1] for line in agent.output().splitlines() if "reached" in line]
    assert lines == [
        "Limit 1 reached, 2 runs waiting; they start as running ones finish",
        "Limit 1 reached, 1 run waiting; they start as running ones finish",
    ]
    polls = value(scrape(f"http://127.0.0.1:{port}"), "dockyard_agent_poll_seconds_count", outcome="ok")
    assert polls > 2 * len(lines)  # the agent polled on while full, and said it only twice
