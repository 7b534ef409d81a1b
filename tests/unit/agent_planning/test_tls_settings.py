"""The agent's TLS options for a tcp:// daemon: flags, DOCKYARD_AGENT_TLS_* variables and
the config file, and what the composition root builds the Docker client with."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.adapters.docker_client import TlsSettings
from dockyard.domain.agent.config import AgentConfig
from dockyard.domain.errors import ConfigurationError
from dockyard.entrypoints.agent_container import _docker_client, _tls_settings
from dockyard.entrypoints.settings import resolve_agent_config
from support.agent_cli import given_by


def test_the_tls_flags_reach_the_agent_keywords() -> None:
    assert given_by(
        "--tls-ca", "ca.pem", "--tls-cert", "cert.pem", "--tls-key", "key.pem", "--tls-verify"
    ) == {
        "tls_ca": "ca.pem",
        "tls_cert": "cert.pem",
        "tls_key": "key.pem",
        "tls_verify": True,
    }
    assert given_by("--no-tls-verify") == {"tls_verify": False}
    assert given_by() == {}  # not given: nothing overrides the environment or the file


def test_flags_environment_and_config_file_resolve_to_the_config(tmp_path: Path) -> None:
    config_file = tmp_path / "agent.toml"
    config_file.write_text('tls_ca = "/file/ca.pem"\ntls_verify = false\n')

    from_file = resolve_agent_config({}, environ={}, config_file=str(config_file))
    from_env = resolve_agent_config(
        {},
        environ={
            "DOCKYARD_AGENT_TLS_CA": "/env/ca.pem",
            "DOCKYARD_AGENT_TLS_CERT": "/env/cert.pem",
            "DOCKYARD_AGENT_TLS_KEY": "/env/key.pem",
            "DOCKYARD_AGENT_TLS_VERIFY": "true",
        },
        config_file=str(config_file),
    )
    from_flags = resolve_agent_config(
        {"tls_ca": "/flag/ca.pem", "tls_verify": True}, environ={}, config_file=str(config_file)
    )

    assert (from_file.tls_ca, from_file.tls_verify) == ("/file/ca.pem", False)
    assert (from_env.tls_ca, from_env.tls_cert, from_env.tls_key) == (
        "/env/ca.pem",
        "/env/cert.pem",
        "/env/key.pem",
    )
    assert from_env.tls_verify is True
    assert (from_flags.tls_ca, from_flags.tls_verify) == ("/flag/ca.pem", True)
    assert resolve_agent_config({}, environ={}).tls_verify is None


def test_the_docker_client_gets_the_tls_settings_only_when_some_are_given() -> None:
    assert _tls_settings(AgentConfig()) is None
    assert _tls_settings(AgentConfig(tls_verify=False)) == TlsSettings(verify=False)
    assert _tls_settings(AgentConfig(tls_ca="/ca", tls_cert="/cert", tls_key="/key")) == TlsSettings(
        ca_cert="/ca", client_cert="/cert", client_key="/key"
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (AgentConfig(base_url="tcp://127.0.0.1:2376", tls_ca="/nowhere/ca.pem"), "CA file not found"),
        (AgentConfig(base_url="tcp://127.0.0.1:2376", tls_cert="/nowhere/cert.pem"), "needs its key"),
        (AgentConfig(base_url="unix:///var/run/docker.sock", tls_verify=True), "tcp://"),
    ],
)
def test_unusable_tls_settings_are_refused_before_any_connection(config: AgentConfig, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        next(_docker_client(config))


def test_without_tls_options_the_docker_variables_still_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DOCKER_TLS_VERIFY with a certificate directory lacking the files: the client is built
    # from the variables, so the unusable directory is what is reported.
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2376")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    with pytest.raises(ConfigurationError, match=f"TLS files in {tmp_path} are not usable"):
        next(_docker_client(AgentConfig()))
