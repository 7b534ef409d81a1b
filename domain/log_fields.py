"""Fields that structured logs carry beside the message.

The domain logs with the standard library only. A record about one flow run gets the run's
id and name through ``extra=about_run(...)``: the plain format ignores them (the message
names the run already), ``--log-format json`` writes them as fields of the line, so a log
pipeline can follow one run without parsing messages.
"""

from __future__ import annotations

RUN_ID = "flow_run_id"
RUN_NAME = "flow_run_name"


def about_run(run_id: str, run_name: str | None = None) -> dict[str, str]:
    """``extra=`` for a log record about one flow run."""
    fields = {RUN_ID: run_id}
    if run_name:
        fields[RUN_NAME] = run_name
    return fields
