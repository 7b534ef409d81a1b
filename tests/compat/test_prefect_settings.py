"""The agent's API URL agrees with Prefect 1.4.1's own configuration for every
combination of backend variables the settings' unit tests list."""

from __future__ import annotations

import json
from pathlib import Path

from dockyard.entrypoints.settings import resolve_agent_config
from support.prefect_api_urls import API_URLS
from support.prefect_client import run_python

PREFECT_API = """
import json, os, sys
from prefect import configuration
cases = json.loads(sys.argv[1])
answers = []
for environ in cases:
    for key in [k for k in os.environ if k.startswith("PREFECT__")]:
        del os.environ[key]
    os.environ.update(environ)
    config = configuration.load_configuration(
        path=configuration.DEFAULT_CONFIG, env_var_prefix=configuration.ENV_VAR_PREFIX
    )
    answers.append(config.cloud.api)
print(json.dumps(answers))
"""


def test_prefect_1_reads_the_backend_variables_the_same_way(tmp_path: Path) -> None:
    cases = [environ for environ, _ in API_URLS]
    # no user or backend config files: only the variables and Prefect's defaults count
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    prefect = json.loads(run_python(PREFECT_API, env, json.dumps(cases)).strip().splitlines()[-1])
    dockyard = [resolve_agent_config({}, environ=environ).api for environ in cases]
    for environ, expected, prefects, ours in zip(
        cases, [api for _, api in API_URLS], prefect, dockyard, strict=True
    ):
        assert ours == expected, environ
        if environ:  # with no variable at all Prefect means its cloud, dockyard its own server
            assert prefects == expected, environ
