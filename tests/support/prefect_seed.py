"""A small history written through Prefect 1.4.1's own Client, for the read tests.

Projects "alpha" and "beta" (with descriptions); flow "etl" registered twice in alpha
(version 1: extract -> load; version 2: extract -> transform -> load), flow "report"
(summarize) in beta; runs of etl v2 "etl-success" (task runs Success, two logs with
info), "etl-failed" (task runs Failed), "etl-scheduled", and "report-running". The script
prints the ids as JSON: the flows by "etl_v1", "etl_v2", "report", the runs by name.
"""

SEED = """
import json
from prefect import Client, Flow, task
from prefect.engine.state import Failed, Running, Success
from prefect.run_configs import UniversalRun
from prefect.storage import Local


@task
def extract():
    return 1


@task
def load(x):
    return x


@task
def transform(x):
    return x


@task
def summarize():
    return 0


def flow(name, build):
    storage = Local(path="/srv/flows/%s.py" % name, stored_as_script=True, add_default_labels=False)
    with Flow(name, storage=storage, run_config=UniversalRun(labels=["cli"])) as built:
        build()
    return built


client = Client()
client.create_project("alpha", project_description="first project")
client.create_project("beta", project_description="second project")
ids = {
    "etl_v1": flow("etl", lambda: load(extract())).register(project_name="alpha", no_url=True),
    "etl_v2": flow("etl", lambda: load(transform(extract()))).register(project_name="alpha", no_url=True),
    "report": flow("report", lambda: summarize()).register(project_name="beta", no_url=True),
}


def run(flow_id, name, *states, task_state=None, logs=()):
    run_id = client.create_flow_run(flow_id=flow_id, run_name=name)
    for state in states:
        info = client.get_flow_run_info(run_id)
        client.set_flow_run_state(run_id, state, version=info.version)
        if isinstance(state, Running) and task_state is not None:
            for task_run in info.task_runs:
                client.set_task_run_state(task_run.id, Running(), version=task_run.version)
                client.set_task_run_state(task_run.id, task_state, version=None)
    if logs:
        client.write_run_logs([dict(flow_run_id=run_id, name="cli-test", **log) for log in logs])
    return run_id


logs = [
    {"level": "INFO", "message": "extracting rows", "timestamp": "2026-01-01T10:00:00+00:00",
     "info": {"rows": 3}},
    {"level": "WARNING", "message": "one row skipped", "timestamp": "2026-01-01T10:00:01+00:00",
     "info": {"skipped": 1}},
]
ids["etl-success"] = run(
    ids["etl_v2"], "etl-success", Running(), Success("All done."), task_state=Success(), logs=logs
)
ids["etl-failed"] = run(ids["etl_v2"], "etl-failed", Running(), Failed("It broke."), task_state=Failed())
ids["etl-scheduled"] = run(ids["etl_v2"], "etl-scheduled")
ids["report-running"] = run(ids["report"], "report-running", Running())
print(json.dumps(ids))
"""
