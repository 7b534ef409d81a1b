"""Images and volumes through DockerContainerRuntime: pulls from a local registry (the
registry's own error words, including those inside the pull stream), credentials, and
named volumes."""

from __future__ import annotations

import contextlib
import uuid
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import docker.errors
import pytest
import requests

from dockyard.adapters.docker_runtime import DockerContainerRuntime
from dockyard.domain.agent.config import RegistryCredentials
from dockyard.domain.agent.runtime_state import PullProgress
from dockyard.domain.errors import PullFailed
from support.containers import Case
from support.registry import Registry, build_unique_image, closed_port, push, running_registry


@pytest.fixture(scope="module")
def registry(
    docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("registry")) as registry:
        yield registry


@pytest.fixture
def untag(docker_client: docker.DockerClient) -> Iterator[Callable[[str], str]]:
    """``untag(ref)`` returns ref and removes that tag (only) when the test ends."""
    references: list[str] = []
    yield lambda reference: references.append(reference) or reference
    for reference in references:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.images.remove(reference)


def test_a_pushed_image_is_pulled_back(
    runtime: DockerContainerRuntime,
    registry: Registry,
    docker_client: docker.DockerClient,
    test_image: Callable[[str], str],
    untag: Callable[[str], str],
) -> None:
    busybox = test_image("busybox")
    tag = uuid.uuid4().hex[:12]
    repository = f"{registry.host}/dockyard-test/busybox"
    push(docker_client, busybox, repository, tag)
    reference = untag(f"{repository}:{tag}")
    assert runtime.inspect_image(reference) is None

    image = runtime.pull_image(reference)

    assert image.id == docker_client.images.get(busybox).id
    assert reference in image.repo_tags
    assert any(digest.startswith(f"{repository}@sha256:") for digest in image.repo_digests)
    assert runtime.inspect_image(reference) == image


def test_a_pull_reports_its_layers_and_bytes_as_it_goes(
    runtime: DockerContainerRuntime,
    registry: Registry,
    docker_client: docker.DockerClient,
    test_image: Callable[[str], str],
    untag: Callable[[str], str],
) -> None:
    busybox = test_image("busybox")
    unique = build_unique_image(docker_client, busybox)  # one layer no other image has
    repository = f"{registry.host}/dockyard-test/progress"
    try:
        push(docker_client, unique, repository, "v1")
    finally:
        docker_client.images.remove(unique)
    reference = untag(f"{repository}:v1")
    reports: list[PullProgress] = []

    runtime.pull_image(reference, progress=reports.append)

    base = len(docker_client.images.get(busybox).attrs["RootFS"]["Layers"])
    last = reports[-1]
    assert (last.layers, last.layers_done, last.layers_present) == (base + 1, base + 1, base)
    assert 0 < last.downloaded_bytes == last.total_bytes
    assert len(reports) >= 3  # as it went, not only at the end
    assert [r.layers_done for r in reports] == sorted(r.layers_done for r in reports)


def test_a_missing_tag_fails_with_the_registry_words(
    runtime: DockerContainerRuntime, registry: Registry
) -> None:
    reference = f"{registry.host}/dockyard-test/busybox:absent-{uuid.uuid4().hex[:8]}"

    with pytest.raises(PullFailed, match="manifest unknown") as failure:
        runtime.pull_image(reference)

    assert reference in str(failure.value)


def test_an_error_inside_the_pull_stream_fails_the_pull(
    runtime: DockerContainerRuntime,
    registry: Registry,
    docker_client: docker.DockerClient,
    test_image: Callable[[str], str],
    untag: Callable[[str], str],
) -> None:
    # The registry has the manifest but lost a layer: the daemon answers 200 and reports
    # the failure as a line of the progress stream.
    local = untag(build_unique_image(docker_client, test_image("busybox")))
    repository = f"{registry.host}/dockyard-test/unique"
    push(docker_client, local, repository, "damaged")
    docker_client.images.remove(local)
    manifest = requests.get(
        f"http://127.0.0.1:{registry.port}/v2/dockyard-test/unique/manifests/damaged",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        timeout=10,
    ).json()
    own_layer = manifest["layers"][-1]["digest"]
    for blob in registry.blob_files(own_layer):
        blob.unlink()

    with pytest.raises(PullFailed, match="unknown blob"):
        runtime.pull_image(untag(f"{repository}:damaged"))


def test_a_registry_nobody_listens_on_fails_the_pull(runtime: DockerContainerRuntime) -> None:
    reference = f"localhost:{closed_port()}/dockyard-test/busybox:1"

    with pytest.raises(PullFailed, match="connection refused"):
        runtime.pull_image(reference)


def _bcrypt(password: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        crypt = pytest.importorskip("crypt")
    hashed = str(crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH)))
    if not hashed.startswith("$2"):
        pytest.skip("this libc cannot make the bcrypt hashes the registry needs")
    return hashed


def test_credentials_are_sent_to_a_registry_that_asks(
    runtime: DockerContainerRuntime,
    docker_client: docker.DockerClient,
    test_image: Callable[[str], str],
    tmp_path: Path,
    untag: Callable[[str], str],
) -> None:
    password = uuid.uuid4().hex
    (tmp_path / "auth").mkdir()
    htpasswd = tmp_path / "auth" / "htpasswd"
    htpasswd.write_text(f"dockyard:{_bcrypt(password)}\n")
    with running_registry(tmp_path / "storage", htpasswd=htpasswd) as registry:
        repository = f"{registry.host}/dockyard-test/busybox"
        docker_client.images.get(test_image("busybox")).tag(repository, tag="private")
        login = {"username": "dockyard", "password": password}
        for line in docker_client.images.push(
            repository, "private", stream=True, decode=True, auth_config=login
        ):
            assert "error" not in line, line
        reference = f"{repository}:private"
        docker_client.images.remove(reference)

        with pytest.raises(PullFailed, match="no basic auth credentials"):
            runtime.pull_image(reference)
        wrong = RegistryCredentials(registry=registry.host, username="dockyard", password="wrong")
        with pytest.raises(PullFailed, match=reference):
            runtime.pull_image(reference, wrong)
        right = RegistryCredentials(registry=registry.host, username="dockyard", password=password)
        image = runtime.pull_image(untag(reference), right)

    assert reference in image.repo_tags


def test_an_absent_image_inspects_as_none(runtime: DockerContainerRuntime) -> None:
    assert runtime.inspect_image(f"dockyard-test/absent:{uuid.uuid4().hex[:8]}") is None


def test_a_named_volume_is_created_once_with_its_labels(case: Case) -> None:
    name = case.name("vol")
    labels = {**case.labels, "org.dockyard.created-by": "test"}

    assert case.runtime.ensure_volume(name, labels) is True
    assert case.runtime.ensure_volume(name, labels) is False
    assert case.client.volumes.get(name).attrs["Labels"] == labels


def test_concurrent_creators_of_one_volume_all_succeed(case: Case) -> None:
    name = case.name("vol")

    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(lambda _: case.runtime.ensure_volume(name, case.labels), range(8)))

    assert any(created)
    assert [volume.name for volume in case.client.volumes.list(filters={"name": name})] == [name]
