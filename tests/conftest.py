from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SUITES = ("unit", "integration", "e2e", "compat")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test's folder is its suite: tests/integration/... is marked `integration`, so
    # `-m "not integration"` and friends select by folder without decorating every test.
    for item in items:
        parts = Path(str(item.fspath)).parts
        for suite in SUITES[1:]:
            if suite in parts:
                item.add_marker(getattr(pytest.mark, suite))
        # Under pytest-xdist (scripts/test.sh: -n N --dist loadgroup) a file's tests stay on
        # one worker, so its module fixtures (a registry, a TLS daemon) are made once; and
        # every test of the Swarm shares one worker, as the test daemon has one Swarm.
        group = "swarm" if "swarm" in getattr(item, "fixturenames", ()) else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def docker_client() -> Iterator[object]:
    import docker

    from support.docker_env import SESSION_LABELS, TEST_LABEL, ensure_engine, remove_labelled

    ensure_engine()
    client = docker.from_env()
    try:
        yield client
    finally:
        remove_labelled(client, f"{TEST_LABEL}={SESSION_LABELS[TEST_LABEL]}")
        client.close()


@pytest.fixture(scope="session")
def test_image(docker_client: object) -> Callable[[str], str]:
    """``test_image("busybox")`` returns the tag of a local test image, building it first
    if it is missing."""
    from support.docker_env import IMAGES, ensure_images

    def get(name: str) -> str:
        ensure_images(docker_client, [name])  # type: ignore[arg-type]
        return IMAGES[name]

    return get


@pytest.fixture(scope="session")
def postgres_cluster() -> str:
    """The URL of the tests' PostgreSQL cluster (started by scripts/ensure-postgres.sh)."""
    from support.postgres import cluster_url

    return cluster_url()


@pytest.fixture(scope="session")
def postgres_db(postgres_cluster: str) -> Iterator[str]:
    """One database for the session's store tests (each empties it first); dropped at the end."""
    from support.postgres import create_database, drop_database, new_name

    name = new_name("dy_store")
    yield create_database(postgres_cluster, name)
    drop_database(postgres_cluster, name)


@pytest.fixture
def fresh_postgres(postgres_cluster: str) -> Iterator[str]:
    """A new, empty database for one test (e.g. for server processes); dropped after it."""
    from support.postgres import create_database, drop_database, new_name

    name = new_name()
    yield create_database(postgres_cluster, name)
    drop_database(postgres_cluster, name)


@pytest.fixture
def server_database(tmp_path: Path) -> Path | str:
    """The database a ``dockyard_server`` fixture's server uses: a new SQLite file (a module
    importing ``support.server_process.server_database_each`` runs on PostgreSQL too)."""
    return tmp_path / "dockyard.db"


@pytest.fixture(scope="session")
def swarm(docker_client: object) -> Iterator[object]:
    """The test daemon as a single-node Swarm manager, left as it was found
    (``support.swarm``)."""
    from support.swarm import single_node_swarm

    with single_node_swarm(docker_client) as joined:  # type: ignore[arg-type]
        yield joined
