"""Prefect 1's backend variables and the API URL they mean, for the agent's settings."""

from __future__ import annotations

from dockyard.domain.agent.config import DEFAULT_API

SERVER = {"PREFECT__BACKEND": "server"}
CLOUD = {"PREFECT__BACKEND": "cloud"}
# What Prefect 1.4.1's configuration makes of these: the settings' unit tests expect it
# of dockyard, and tests/compat/test_prefect_settings.py checks it against Prefect's own.
API_URLS: list[tuple[dict[str, str], str]] = [
    ({}, DEFAULT_API),
    ({**SERVER, "PREFECT__SERVER__ENDPOINT": "http://srv:4300"}, "http://srv:4300"),
    ({**SERVER}, "http://localhost:4200"),
    ({**SERVER, "PREFECT__SERVER__HOST": "http://h"}, "http://h:4200"),
    ({**SERVER, "PREFECT__SERVER__PORT": "4999"}, "http://localhost:4999"),
    ({**SERVER, "PREFECT__SERVER__HOST": "http://h", "PREFECT__SERVER__PORT": "99"}, "http://h:99"),
    (
        {**SERVER, "PREFECT__SERVER__HOST": "http://h", "PREFECT__SERVER__ENDPOINT": "http://e:1"},
        "http://e:1",
    ),
    # an explicit cloud.api wins over the backend's endpoint, in Prefect 1 too
    (
        {**SERVER, "PREFECT__CLOUD__API": "http://api:1", "PREFECT__SERVER__ENDPOINT": "http://e:1"},
        "http://api:1",
    ),
    ({**CLOUD, "PREFECT__CLOUD__API": "http://api:1"}, "http://api:1"),
    ({**CLOUD, "PREFECT__SERVER__ENDPOINT": "http://e:1"}, "https://api.prefect.io"),
    ({**CLOUD, "PREFECT__CLOUD__ENDPOINT": "https://cloud.example"}, "https://cloud.example"),
    ({"PREFECT__CLOUD__API": "http://api:1"}, "http://api:1"),
]
# Without PREFECT__BACKEND, Prefect 1 means its cloud; dockyard's default is a server, so
# the server variables apply then (and dockyard's own default URL when none is given).
DOCKYARD_ONLY: list[tuple[dict[str, str], str]] = [
    ({"PREFECT__SERVER__ENDPOINT": "http://srv:4300"}, "http://srv:4300"),
    ({"PREFECT__SERVER__PORT": "4999"}, "http://localhost:4999"),
]
