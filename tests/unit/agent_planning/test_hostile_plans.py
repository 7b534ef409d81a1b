"""The hostile run-config corpus through ``dockyard agent plan``: every case the plan can
judge is refused with exit 1 and the same words the running agent fails the run with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dockyard.entrypoints.cli import cli
from support.hostile_corpus import Case, cases, corpus_agent_flags

ROOT = Path("/srv/dockyard-allowed")  # never touched: the plan reads no files
CORPUS = cases(ROOT, ROOT / "escape")


def test_the_corpus_is_large_and_its_names_unique() -> None:
    assert len(CORPUS) >= 30
    assert len({case.name for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize(
    "case", [c for c in CORPUS if c.plan_sees and not c.needs_daemon], ids=lambda c: c.name
)
def test_the_plan_refuses_each_case_naming_the_setting(case: Case) -> None:
    result = CliRunner().invoke(
        cli, ["agent", "plan", *corpus_agent_flags(ROOT), "--run-config", json.dumps(case.run_config)]
    )
    if not isinstance(case.run_config, dict):
        # The plan command itself only takes an object; the agent refuses the rest (e2e).
        assert result.exit_code == 2 and "must be a JSON object" in result.output
        return
    if case.outcome == "Success":
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 1, result.output
    message = result.output.lower()
    for word in case.expect:
        assert word.lower() in message, f"{word!r} not in {result.output!r}"
    assert "Traceback" not in result.output
