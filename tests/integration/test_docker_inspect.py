"""Reading the daemon's documents: timestamps as Go writes them, and bodies made JSON-ready.
(Pure functions; they sit with the adapter's tests because they are the adapter's.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType

import pytest

from dockyard.adapters.docker_inspect import json_ready, label_filters, parse_timestamp


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:00:00.123456789Z", datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)),
        ("2024-05-01T10:00:00.5Z", datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        (
            "2024-05-01T12:00:00.000000001+02:00",
            datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        (None, None),
        ("yesterday", None),
    ],
)
def test_docker_timestamps(text: str | None, expected: datetime | None) -> None:
    assert parse_timestamp(text) == expected


def test_an_offset_timestamp_is_the_same_instant() -> None:
    assert parse_timestamp("2024-05-01T12:00:00+02:00") == parse_timestamp("2024-05-01T10:00:00Z")


def test_any_mapping_or_tuple_becomes_json() -> None:
    body = MappingProxyType({"Cmd": ("sh", "-c", "true"), "HostConfig": MappingProxyType({"Binds": ()})})

    assert json.loads(json.dumps(json_ready(body))) == {
        "Cmd": ["sh", "-c", "true"],
        "HostConfig": {"Binds": []},
    }


def test_label_filters_ask_for_presence_when_the_value_is_none() -> None:
    assert label_filters({"a": "1", "b": None}) == ["a=1", "b"]
