"""One DockerContainerRuntime (one docker client) shared by many threads at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import docker
import pytest

from dockyard.adapters.docker_client import build_docker_client
from dockyard.adapters.docker_runtime import DockerContainerRuntime
from dockyard.domain.agent.runtime_state import ContainerState
from support.containers import CASE_LABEL, Case, case_on

THREADS = 20


@pytest.fixture
def case(docker_client: docker.DockerClient) -> Iterator[Case]:
    client = build_docker_client(None, 60)
    with case_on(docker_client, DockerContainerRuntime(client)) as case:
        yield case
    client.close()


def test_twenty_threads_run_containers_through_one_client(
    case: Case, test_image: Callable[[str], str]
) -> None:
    busybox = test_image("busybox")
    everyone_ready = threading.Barrier(THREADS)

    def lifecycle(
        number: int,
    ) -> tuple[ContainerState | None, bytes, list[ContainerState], ContainerState | None]:
        everyone_ready.wait()
        runtime = case.runtime
        container_id = runtime.create_container(
            case.name(f"t{number}"), case.body(busybox, f"echo worker {number}; exit {number % 5}")
        )
        runtime.start_container(container_id)
        runtime.ping()
        ended = runtime.wait_container(container_id)
        output = runtime.container_logs(container_id)
        listed = runtime.list_containers({CASE_LABEL: case.id})
        runtime.remove_container(container_id)
        return ended, output, listed, runtime.inspect_container(container_id)

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lifecycle, range(THREADS)))

    for number, (ended, output, listed, after_removal) in enumerate(results):
        assert ended is not None and ended.ended and ended.exit_code == number % 5
        assert output == f"worker {number}\n".encode()
        assert ended.id in {state.id for state in listed}
        assert after_removal is None
    assert case.runtime.list_containers({CASE_LABEL: case.id}) == []
