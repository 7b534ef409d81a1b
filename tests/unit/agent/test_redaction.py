"""The agent's API key never leaves the agent in what it writes: run logs, state messages
(a failing container's last lines included) and --show-flow-logs lines."""

from __future__ import annotations

import threading

from dependency_injector import providers

from dockyard.domain.agent.model import RunLog
from dockyard.domain.agent.redaction import RedactingBackend, RedactingOutput, Redactor
from dockyard.domain.states import state_document
from dockyard.entrypoints import DockerAgent
from dockyard.entrypoints.containers import Container
from dockyard.ports.backend import Backend
from support.agent_harness import wait_for
from support.fakes import FakeBackend, FakeLeases, FakeOutput, FakeRuntime

KEY = "dyk-0123456789abcdef"


def test_every_occurrence_of_a_secret_is_replaced_and_short_ones_are_left() -> None:
    redactor = Redactor([KEY, None, "short", KEY + "-longer"])
    assert redactor.text(f"a {KEY} b {KEY}-longer c") == "a <redacted> b <redacted> c"
    assert redactor.text("a short word") == "a short word"
    assert redactor.data({"message": KEY, "state": {"message": [KEY, 1]}, KEY: None}) == {
        "message": "<redacted>",
        "state": {"message": ["<redacted>", 1]},
        "<redacted>": None,
    }


def test_the_redacting_backend_is_a_backend_that_redacts_what_it_writes() -> None:
    fake = FakeBackend()
    run_id = fake.add_run()
    backend = RedactingBackend(fake, Redactor([KEY]))
    assert isinstance(backend, Backend)

    backend.write_run_logs([RunLog(run_id, f"echo {KEY}")])
    backend.set_flow_run_state(run_id, 1, state_document("Failed", f"output: {KEY}"))

    assert fake.logs_of(run_id) == ["echo <redacted>"]
    assert fake.message_of(run_id) == "output: <redacted>"


def test_the_redacting_output_redacts_each_line() -> None:
    shown = FakeOutput()
    RedactingOutput(shown, Redactor([KEY])).line("run", f"key={KEY}")
    assert shown.lines == [("run", "key=<redacted>")]


def test_a_container_that_prints_the_key_fails_without_it_reaching_the_backend() -> None:
    backend, runtime = FakeBackend(), FakeRuntime(images=["img:1"])
    run_id = backend.add_run(
        run_config={"type": "DockerRun", "image": "img:1", "command": "echo $KEY; exit 3"}
    )
    container = Container()
    container.agent.graphql_backend.override(providers.Object(backend))
    container.agent.runtime.override(providers.Object(runtime))
    container.agent.leases.override(providers.Object(FakeLeases()))
    agent = DockerAgent(name="redacting", no_pull=True, key=KEY, container=container, environ={})

    thread = threading.Thread(target=agent.start, daemon=True)
    thread.start()
    try:
        wait_for(lambda: runtime.by_run(run_id) is not None, what="the container")
        created = runtime.by_run(run_id)
        assert created is not None
        assert f"PREFECT__CLOUD__API_KEY={KEY}" in created.body["Env"]  # the flow runner needs it
        assert KEY not in str(created.body["Labels"])
        wait_for(lambda: created.status == "running")
        runtime.finish(created.id, 3, output=f"the key is {KEY}\n".encode())
        wait_for(lambda: backend.state_of(run_id) == "Failed", what="Failed")
    finally:
        agent.stop()
        thread.join(timeout=15)

    assert "the key is <redacted>" in backend.message_of(run_id)
    everything = " ".join([backend.message_of(run_id), *backend.logs_of(run_id)])
    assert KEY not in everything
