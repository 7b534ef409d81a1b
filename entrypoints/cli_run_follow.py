"""``dockyard run logs`` and ``dockyard run wait``: following runs to their end, with exit
codes a script can act on::

    0  every run followed ended successfully (Success, or Cached/Skipped/Mapped)
    1  some run ended otherwise (Failed, Cancelled, TimedOut...); also any other error
    2  a usage error (an option or a run id that is not valid)
    3  ``run wait --timeout``: time ran out before every run ended

The message on stderr names each run at fault with its state and message. 3 is not 2 so
that a timeout is never mistaken for a typo in the command line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click

from dockyard.domain.states import FINISHED_STATES, SUCCESS_STATES
from dockyard.entrypoints.cli_run import api_options, run_client
from dockyard.entrypoints.containers import Container
from dockyard.entrypoints.run_display import format_time, local_time_option
from dockyard.entrypoints.run_inputs import checked_run_ids

EXIT_NOT_SUCCESSFUL = 1
EXIT_TIMED_OUT = 3


class RunsNotSuccessful(click.ClickException):
    exit_code = EXIT_NOT_SUCCESSFUL


class WaitTimedOut(click.ClickException):
    exit_code = EXIT_TIMED_OUT


def _described(run: Mapping[str, Any]) -> str:
    message = f": {run['state_message']}" if run.get("state_message") else ""
    name = f" ({run['name']})" if run.get("name") else ""
    return f"{run['id']}{name} {run.get('state') or 'unknown'}{message}"


@dataclass(frozen=True)
class WaitVerdict:
    """How a wait ended: every run by its outcome."""

    succeeded: tuple[Mapping[str, Any], ...]
    unsuccessful: tuple[Mapping[str, Any], ...]
    unfinished: tuple[Mapping[str, Any], ...]

    @classmethod
    def of(cls, runs: Sequence[Mapping[str, Any]]) -> WaitVerdict:
        finished = [run for run in runs if run.get("state") in FINISHED_STATES]
        return cls(
            succeeded=tuple(run for run in finished if run.get("state") in SUCCESS_STATES),
            unsuccessful=tuple(run for run in finished if run.get("state") not in SUCCESS_STATES),
            unfinished=tuple(run for run in runs if run.get("state") not in FINISHED_STATES),
        )

    @property
    def done(self) -> bool:
        return not self.unfinished

    def error(self, waited: float | None) -> click.ClickException | None:
        """None when every run succeeded; else the exception that says which did not (exit
        1), or which had not ended when time ran out (exit 3; a run that already failed
        makes it 1 still: the outcome is known)."""
        total = len(self.succeeded) + len(self.unsuccessful) + len(self.unfinished)
        parts = []
        if self.unsuccessful:
            parts.append(
                f"{len(self.unsuccessful)} of {total} runs did not succeed: "
                + "; ".join(_described(run) for run in self.unsuccessful)
            )
        if self.unfinished:
            after = f" after {waited:g} s" if waited is not None else ""
            parts.append(
                f"timed out{after} with {len(self.unfinished)} of {total} runs unfinished: "
                + "; ".join(_described(run) for run in self.unfinished)
            )
        if not parts:
            return None
        kind = RunsNotSuccessful if self.unsuccessful else WaitTimedOut
        return kind("; ".join(parts))


@click.command("wait")
@click.argument("run_ids", nargs=-1, required=True, callback=checked_run_ids)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Give up after this many seconds (exit 3) [default: wait for ever].",
)
@click.option(
    "--interval",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds between looks at the runs' states.",
)
@local_time_option
@api_options
@click.pass_obj
def wait(
    container: Container,
    *,
    run_ids: tuple[str, ...],
    timeout: float | None,
    interval: float,
    local_time: bool,
    api_url: str,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Wait until every run RUN_ID... has ended; exit 0 if all succeeded.

    Prints each run as it ends. Exit 1 when some run ended otherwise (Failed, Cancelled...),
    3 when --timeout passed first; stderr names those runs. Example:

    \b
        dockyard run wait "$(dockyard run create --image busybox:1.36 --label docker)" --timeout 600
    """
    client = run_client(container, api_url, api_key)
    ids = list(dict.fromkeys(run_ids))
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    printed: set[str] = set()
    while True:
        found = client.run_states(ids)
        missing = [run_id for run_id in ids if run_id not in found]
        if missing:
            raise click.ClickException(f"no flow run with id {', '.join(missing)}")
        runs = [found[run_id] for run_id in ids]
        for each in runs:
            if each["state"] in FINISHED_STATES and each["id"] not in printed and not as_json:
                printed.add(each["id"])
                click.echo(f"{format_time(each.get('end_time'), local=local_time)}  {_described(each)}")
        verdict = WaitVerdict.of(runs)
        now = time.monotonic()
        if verdict.done or (deadline is not None and now >= deadline):
            break
        time.sleep(interval if deadline is None else max(0.0, min(interval, deadline - now)))
    if as_json:
        click.echo(json.dumps(runs, indent=2))
    error = verdict.error(timeout)
    if error is not None:
        raise error


@click.command("logs")
@click.argument("run_id", callback=checked_run_ids)
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Keep printing new logs until the run ends; exit 1 if it did not end successfully.",
)
@click.option(
    "--interval", default=1.0, show_default=True, type=click.FloatRange(0.1), help="Seconds between polls."
)
@local_time_option
@api_options
@click.pass_obj
def logs(
    container: Container,
    *,
    run_id: str,
    follow: bool,
    interval: float,
    local_time: bool,
    api_url: str,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Print a flow run's logs (--json: one JSON object per line).

    With --follow, exit 0 when the run ends successfully and 1 (naming its state and
    message on stderr) when it ends otherwise.
    """
    client, since, seen = run_client(container, api_url, api_key), None, set()
    while True:
        found = client.logs_since(run_id, since)
        if found is None:
            raise click.ClickException(f"no flow run with id {run_id}")
        state, entries = found
        for entry in entries:
            if entry["id"] in seen:
                continue
            seen.add(entry["id"])
            since = entry["timestamp"]
            click.echo(json.dumps(entry) if as_json else _log_line(entry, local_time))
        if not follow:
            return
        if state["state"] in FINISHED_STATES:
            if state["state"] in SUCCESS_STATES:
                return
            message = f": {state['state_message']}" if state.get("state_message") else ""
            raise RunsNotSuccessful(f"run {run_id} ended {state['state']}{message}")
        time.sleep(interval)


def _log_line(entry: Mapping[str, Any], local: bool) -> str:
    return (
        f"{format_time(entry['timestamp'], local=local)} {entry['level']:<8} "
        f"{entry['name'] or ''}: {entry['message']}"
    )
