"""What only the PostgreSQL store has to prove: statements cancelled at a request's
deadline, outages reported as StoreUnavailable and survived, values PostgreSQL cannot keep
refused as the client's error, the writers' lock timing out, and passwords never shown."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from dockyard.adapters.postgres import PostgresRunStore
from dockyard.adapters.sql.location import is_postgres_url, redacted
from dockyard.domain.server.errors import InvalidInput, StoreUnavailable
from dockyard.domain.server.filters import AnyOf, Compare, Op, Select, eq
from support.postgres import empty_tables
from support.socket_relay import TcpRelay

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(postgres_db: str) -> Iterator[PostgresRunStore]:
    empty_tables(postgres_db)
    store = PostgresRunStore(postgres_db, pool_size=4)
    try:
        yield store
    finally:
        store.close()


def test_a_long_statement_is_cancelled_when_its_request_is_out_of_time(postgres_db: str) -> None:
    empty_tables(postgres_db)
    stop = threading.Event()
    store = PostgresRunStore(postgres_db, pool_size=2, statement_watch=lambda: stop.is_set)
    try:
        with store.unit_of_work(write=True) as session:
            for i in range(3000):
                session.insert("log", {"id": f"{i:08d}", "message": f"m{i}"})
        # 200 case-folding LIKEs per row: long enough for the watchdog to look at it
        slow = Select("log", AnyOf(tuple(Compare("message", Op.ILIKE, f"%{i}%{i}%{i}%") for i in range(200))))
        with store.unit_of_work(write=False) as session:
            began = time.monotonic()
            session.select(slow)
            took = time.monotonic() - began
        assert took > 0.2, f"the statement must outlast the watchdog's look ({took:.3f}s)"
        stop.set()
        # Interrupted, not finished: the error says so (how long that takes is the machine's).
        with store.unit_of_work(write=False) as session, pytest.raises(StoreUnavailable, match="interrupted"):
            session.select(slow)
        with store.unit_of_work(write=False) as session:  # the connection serves again
            assert len(session.select(Select("log", where=eq("id", "00000001")))) == 1
    finally:
        store.close()


def test_an_outage_is_store_unavailable_and_the_store_recovers(postgres_db: str) -> None:
    empty_tables(postgres_db)
    socket_dir = parse_qs(urlsplit(postgres_db).query)["host"][0]
    relay = TcpRelay(f"{socket_dir}/.s.PGSQL.5432")
    relay.start()
    url = f"postgresql://postgres@127.0.0.1:{relay.port}{urlsplit(postgres_db).path}"
    store = PostgresRunStore(url, pool_size=2, lock_timeout=2.0, connect_timeout=2.0)
    try:
        with store.unit_of_work(write=True) as session:
            session.insert("project", {"id": "p1", "name": "before"})
        relay.stop()
        with pytest.raises(StoreUnavailable, match="database"), store.unit_of_work(write=False) as session:
            session.select(Select("project"))
        relay.start()
        with store.unit_of_work(write=False) as session:
            assert [r["name"] for r in session.select(Select("project"))] == ["before"]
    finally:
        store.close()
        relay.stop()


def test_values_postgres_cannot_keep_are_the_clients_error(pg: PostgresRunStore) -> None:
    with pytest.raises(InvalidInput, match="NUL"), pg.unit_of_work(write=True) as session:
        session.insert("project", {"id": "p1", "name": "a\x00b"})
    with pytest.raises(InvalidInput), pg.unit_of_work(write=True) as session:
        session.insert("flow_run", {"id": "r1", "version": 2**70})
    with pytest.raises(InvalidInput, match="too complex"), pg.unit_of_work(write=False) as session:
        session.select(Select("flow_run", where=Compare("id", Op.IN, [str(i) for i in range(70_000)])))
    with pg.unit_of_work(write=False) as session:
        assert session.select(Select("project")) == []  # nothing half-written


def test_ilike_folds_case_beyond_ascii_and_a_dangling_escape_is_ignored(pg: PostgresRunStore) -> None:
    with pg.unit_of_work(write=True) as session:
        session.insert("project", {"id": "p1", "name": "Éclair"})
        session.insert("project", {"id": "p2", "name": "ab"})
    with pg.unit_of_work(write=False) as session:
        assert [r["id"] for r in session.select(Select("project", Compare("name", Op.ILIKE, "écl%")))] == [
            "p1"
        ]
        assert [r["id"] for r in session.select(Select("project", Compare("name", Op.LIKE, "écl%")))] == []
        assert [r["id"] for r in session.select(Select("project", Compare("name", Op.LIKE, "ab\\")))] == [
            "p2"
        ]


def test_a_writer_held_past_the_lock_timeout_is_store_unavailable(postgres_db: str) -> None:
    empty_tables(postgres_db)
    holder = PostgresRunStore(postgres_db, pool_size=2)
    waiter = PostgresRunStore(postgres_db, pool_size=2, lock_timeout=0.5)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.unit_of_work(write=True):
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(30)
        began = time.monotonic()
        with pytest.raises(StoreUnavailable, match="busy"), waiter.unit_of_work(write=True):
            pass
        assert time.monotonic() - began < 5
        with waiter.unit_of_work(write=False) as session:  # readers never wait
            session.select(Select("flow_run"))
    finally:
        release.set()
        thread.join(30)
        holder.close()
        waiter.close()


def test_an_unreachable_database_is_named_without_its_password(tmp_path: object) -> None:
    url = "postgresql://dockyard:s3cret@127.0.0.1:1/dockyard"
    assert is_postgres_url(url) and not is_postgres_url("/var/lib/dockyard.db")
    assert redacted(url) == "postgresql://dockyard@127.0.0.1:1/dockyard"
    with pytest.raises(StoreUnavailable) as refused:
        PostgresRunStore(url, connect_timeout=2.0)
    assert "postgresql://dockyard@127.0.0.1:1/dockyard" in str(refused.value)
    assert "s3cret" not in str(refused.value)
