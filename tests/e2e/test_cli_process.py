"""The installed `dockyard` console script, run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

DOCKYARD = Path(sys.executable).parent / "dockyard"


def test_version_and_help_from_the_console_script() -> None:
    out = subprocess.run([str(DOCKYARD), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"dockyard, version {version('dockyard')}"

    helped = subprocess.run([str(DOCKYARD), "--help"], capture_output=True, text=True, check=True)
    assert "Usage: dockyard" in helped.stdout
    assert "Prefect" in helped.stdout


def test_unknown_command_is_a_usage_error() -> None:
    out = subprocess.run([str(DOCKYARD), "no-such-command"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "No such command" in out.stderr


def test_the_example_config_file_drives_a_real_agent_plan() -> None:
    example = Path(__file__).resolve().parents[2] / "deploy" / "agent.example.toml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKYARD_AGENT_", "PREFECT__"))}
    out = subprocess.run(
        [str(DOCKYARD), "agent", "plan", "--config", str(example), "--image", "myorg/app:1"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    container = json.loads(out.stdout)["container"]
    assert {"TZ=UTC", "PIP_NO_CACHE_DIR=1", "PREFECT__CLOUD__AGENT__LABELS=['docker', 'prod']"} <= set(
        container["Env"]
    )
    assert container["Labels"]["org.dockyard.agent"] == "build-host-1"
    assert container["Labels"]["org.dockyard.timeout"] == "3600"
    host = container["HostConfig"]
    assert (host["Binds"], host["NetworkMode"], host["Memory"], host["NanoCpus"]) == (
        ["/srv/data:/data:ro"], "flows", 2 * 1024**3, 2 * 10**9,
    )  # fmt: skip
    # Its registry allow-list applies: an image from elsewhere is refused, naming the list.
    refused = subprocess.run(
        [str(DOCKYARD), "agent", "plan", "--config", str(example), "--image", "busybox:1"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert refused.returncode == 1 and "not in the reg_allow_list (localhost:5000, myorg)" in refused.stderr


def test_shell_completion_scripts_and_completions() -> None:
    for shell, words in (
        ("bash", ("_dockyard_completion()", "complete -o nosort -F _dockyard_completion dockyard")),
        ("zsh", ("#compdef dockyard", "_dockyard_completion")),
        ("fish", ("complete --no-files --command dockyard",)),
    ):
        script = subprocess.run(
            [str(DOCKYARD)], capture_output=True, text=True, check=True,
            env={**os.environ, "_DOCKYARD_COMPLETE": f"{shell}_source"},
        )  # fmt: skip
        assert all(word in script.stdout for word in words), (shell, script.stdout)
    # What bash gets for `dockyard run w<TAB>` and `dockyard run list --st<TAB>`.
    for line, expected in (("dockyard run w", "plain,wait"), ("dockyard run list --st", "plain,--state")):
        completed = subprocess.run(
            [str(DOCKYARD)], capture_output=True, text=True, check=True,
            env={**os.environ, "_DOCKYARD_COMPLETE": "bash_complete", "COMP_WORDS": line,
                 "COMP_CWORD": str(len(line.split()) - 1)},
        )  # fmt: skip
        assert completed.stdout.split() == [expected], completed.stdout
