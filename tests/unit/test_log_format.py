"""``--log-format``: one JSON object per line with the run's fields, or Prefect's plain lines."""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Iterator

import pytest

from dockyard.adapters.stdout_output import LoggedFlowOutput
from dockyard.domain.log_fields import about_run
from dockyard.entrypoints.logs import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root, ours = logging.getLogger(), logging.getLogger("dockyard")
    saved = (root.handlers[:], root.level, ours.handlers[:], ours.level, ours.propagate)
    # A CLI test earlier in the session may have left warnings captured into its own logging:
    # capture is set up once, so start from none for configure_logging to install ours.
    logging.captureWarnings(False)
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    ours.handlers[:], ours.level, ours.propagate = saved[2], saved[3], saved[4]
    logging.captureWarnings(False)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_carry_the_time_level_logger_message_and_run_fields() -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", stream=out)
    log = logging.getLogger("dockyard.agent")
    log.info("Deploying flow run %s (%s)", "r-1", "calm-heron", extra=about_run("r-1", "calm-heron"))
    log.debug("not shown at INFO")
    try:
        raise ValueError("bad value")
    except ValueError:
        log.exception("Unexpected error while deploying flow run %s", "r-1", extra=about_run("r-1"))
    logging.getLogger("urllib3.connectionpool").info("a library's info is below its level")
    logging.getLogger("urllib3.connectionpool").warning("a library's warning")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("deprecated thing", DeprecationWarning, stacklevel=1)
    LoggedFlowOutput().line("calm-heron", "hello from the container")

    first, error, library, warned, output = lines(out)
    assert list(first) == ["timestamp", "level", "logger", "message", "flow_run_id", "flow_run_name"]
    assert first["level"] == "INFO" and first["logger"] == "dockyard.agent"
    assert first["message"] == "Deploying flow run r-1 (calm-heron)"
    assert first["flow_run_id"] == "r-1" and first["flow_run_name"] == "calm-heron"
    assert str(first["timestamp"]).endswith("+00:00")
    assert error["level"] == "ERROR" and "ValueError: bad value" in str(error["exception"])
    assert library == {**library, "logger": "urllib3.connectionpool", "message": "a library's warning"}
    assert warned["logger"] == "py.warnings" and "deprecated thing" in str(warned["message"])
    assert output["message"] == "hello from the container" and output["flow_run_name"] == "calm-heron"


@pytest.mark.usefixtures("restore_logging")
def test_plain_lines_are_prefects_format_in_utc() -> None:
    out = io.StringIO()
    configure_logging("INFO", "plain", stream=out)
    logging.getLogger("dockyard.agent").info("Waiting for flow runs...", extra=about_run("r-1"))
    (line,) = out.getvalue().splitlines()
    assert line.startswith("[") and line.endswith("] INFO - dockyard.agent | Waiting for flow runs...")


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="plain or json"):
        configure_logging("INFO", "yaml", stream=io.StringIO())
