"""What the agent says when it starts: where it registers, so an operator sees which API
the Prefect variables (or flags) pointed it at."""

from __future__ import annotations

import logging

import pytest

from support.agent_harness import Harness, wait_for


def test_the_agent_logs_the_api_url_it_registers_with(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness().with_config(api="http://backend.example:4311", name="logged")
    with caplog.at_level(logging.INFO, logger="dockyard.agent"), h.running():
        wait_for(
            lambda: any("Registration successful" in r.getMessage() for r in caplog.records),
            what="registration",
        )
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Registering agent")]
    assert line == "Registering agent 'logged' with labels [] at http://backend.example:4311"
