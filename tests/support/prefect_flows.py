"""The Prefect 1 flows the compat and e2e tests register and run, and the script that
registers one and creates a run of it (run through ``prefect_client.run_python``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.prefect_client import run_python

PREFECT_IMAGE = "dockyard-test/prefect:1.4.1"
# Where the e2e agents mount the flows' directory in the flow-run containers.
MOUNTED = "/flows/flow.py"

_MAPPED = """
from prefect import Flow, Parameter, task
from prefect.run_configs import DockerRun, LocalRun
from prefect.storage import Local


@task
def make_list(n):
    return list(range(n))


@task
def inc(x):
    return x + 1


@task(task_run_name="total-{{xs}}", log_stdout=True)
def total(xs):
    print(f"the total is {{sum(xs)}}")
    if sum(xs) == FAIL_AT:
        raise ValueError("the total is unlucky")
    return sum(xs)


FAIL_AT = {fail_at}

with Flow({name!r}, storage={storage}, run_config={run_config}) as flow:
    n = Parameter("n", default=3)
    total(inc.map(make_list(n)))
"""

_GREETING = """
from prefect import Flow, task
from prefect.run_configs import DockerRun
from prefect.storage import Local


@task(log_stdout=True)
def greet():
    print({message!r})


with Flow({name!r}, storage={storage}, run_config={run_config}) as flow:
    greet()
"""

_REGISTER_AND_RUN = """
import importlib.util, json, sys
from prefect import Client
spec = importlib.util.spec_from_file_location("flow_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
client = Client()
client.create_project(sys.argv[2])
flow_id = module.flow.register(project_name=sys.argv[2], no_url=True)
run_id = client.create_flow_run(flow_id=flow_id, parameters=json.loads(sys.argv[3]))
print(json.dumps({"flow_id": flow_id, "run_id": run_id}))
"""

_LOCAL_STORAGE = "Local(path=__file__, stored_as_script=True)"
_MOUNTED_STORAGE = f"Local(path={MOUNTED!r}, stored_as_script=True, add_default_labels=False)"


def _docker_run(label: str) -> str:
    return f"DockerRun(image={PREFECT_IMAGE!r}, labels=[{label!r}])"


def local_mapped_flow(name: str, *, fail_at: int = -1) -> str:
    """make_list(n) → inc.map → total, run by a local agent labelled "compat"; ``total``
    fails when the sum is ``fail_at``."""
    return _MAPPED.format(
        name=name, fail_at=fail_at, storage=_LOCAL_STORAGE, run_config='LocalRun(labels=["compat"])'
    )


def docker_mapped_flow(name: str, *, label: str) -> str:
    """The same flow, in the Prefect test image, from the mounted flows directory."""
    return _MAPPED.format(name=name, fail_at=-1, storage=_MOUNTED_STORAGE, run_config=_docker_run(label))


def docker_greeting_flow(name: str, *, label: str, message: str) -> str:
    """One task that prints ``message``, in the Prefect test image."""
    return _GREETING.format(
        name=name, message=message, storage=_MOUNTED_STORAGE, run_config=_docker_run(label)
    )


def register_and_run(
    flow_file: Path, env: dict[str, str], *, project: str, parameters: dict[str, Any] | None = None
) -> dict[str, str]:
    """Register the flow in ``flow_file`` with Prefect's client and create a run of it:
    ``{"flow_id": ..., "run_id": ...}``."""
    out = run_python(_REGISTER_AND_RUN, env, str(flow_file), project, json.dumps(parameters or {}))
    ids: dict[str, str] = json.loads(out.strip().splitlines()[-1])
    return ids
