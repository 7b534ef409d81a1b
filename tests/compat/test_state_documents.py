"""State documents dockyard writes are loaded by the real Prefect 1.4.1 StateSchema."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime

from dockyard.domain.states import state_document
from support.prefect_env import prefect_python

LOADER = """
import json, sys
from prefect.engine.state import State
from prefect.serialization.state import StateSchema
out = []
for doc in json.load(sys.stdin):
    state = StateSchema().load(doc)
    inner = getattr(state, "state", None)
    start = getattr(state, "start_time", None) or getattr(inner, "start_time", None)
    out.append({
        "class": type(state).__name__,
        "message": state.message,
        "scheduled": state.is_scheduled(),
        "finished": state.is_finished(),
        "start_time": start.isoformat() if start else None,
        "inner": type(inner).__name__ if isinstance(inner, State) else None,
    })
print(json.dumps(out))
"""


def test_prefect_loads_the_states_dockyard_writes() -> None:
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    scheduled = state_document("Scheduled", "Flow run scheduled.", start_time=start)
    docs = [
        scheduled,
        state_document("Submitted", "Submitted for execution", inner=scheduled),
        state_document("Failed", "exit code 3"),
        state_document("Success", "done"),
        state_document("Cancelled", "Flow run is cancelled"),
    ]
    result = subprocess.run(
        [str(prefect_python()), "-c", LOADER],
        input=json.dumps(docs),
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(result.stdout)

    assert [item["class"] for item in loaded] == ["Scheduled", "Submitted", "Failed", "Success", "Cancelled"]
    assert loaded[0]["scheduled"] and loaded[0]["start_time"].startswith("2026-01-02T03:04:05")
    assert loaded[1]["inner"] == "Scheduled" and loaded[1]["message"] == "Submitted for execution"
    assert loaded[2]["finished"] and loaded[2]["message"] == "exit code 3"
    assert not loaded[3]["scheduled"] and loaded[3]["finished"]
