"""The flow-run container's environment: layers, required keys, the API URL rewrite."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.domain.agent.config import AgentConfig
from dockyard.domain.agent.environment import (
    container_api_url,
    flow_run_env,
    is_loopback_host,
    secret_keys,
)

REQUIRED = {
    "PREFECT__BACKEND",
    "PREFECT__CLOUD__API_KEY",
    "PREFECT__CLOUD__TENANT_ID",
    "PREFECT__CLOUD__AGENT__LABELS",
    "PREFECT__CONTEXT__FLOW_RUN_ID",
    "PREFECT__CONTEXT__FLOW_ID",
    "PREFECT__CONTEXT__IMAGE",
    "PREFECT__CLOUD__USE_LOCAL_SECRETS",
    "PREFECT__ENGINE__FLOW_RUNNER__DEFAULT_CLASS",
    "PREFECT__LOGGING__LOG_TO_CLOUD",
    "PREFECT__CLOUD__AUTH_TOKEN",
}


def env(
    config: AgentConfig, run_env: dict[str, str] | None = None, host_network: bool = False
) -> dict[str, str]:
    return flow_run_env(
        config, run_env or {}, flow_run_id="id", flow_id="foo", image="test-image", host_network=host_network
    )


def test_exact_environment_without_a_key() -> None:
    # Prefect 1.4.1's expected dict for the server backend, with dockyard's backend name.
    assert env(AgentConfig(api="https://localhost:4200")) == {
        "PREFECT__BACKEND": "server",
        "PREFECT__CLOUD__API": "https://host.docker.internal:4200",
        "PREFECT__CLOUD__AUTH_TOKEN": "",
        "PREFECT__CLOUD__API_KEY": "",
        "PREFECT__CLOUD__TENANT_ID": "",
        "PREFECT__CLOUD__AGENT__LABELS": "[]",
        "PREFECT__CONTEXT__FLOW_RUN_ID": "id",
        "PREFECT__CONTEXT__FLOW_ID": "foo",
        "PREFECT__CONTEXT__IMAGE": "test-image",
        "PREFECT__CLOUD__USE_LOCAL_SECRETS": "false",
        "PREFECT__CLOUD__SEND_FLOW_RUN_LOGS": "true",
        "PREFECT__LOGGING__LOG_TO_CLOUD": "true",
        "PREFECT__LOGGING__LEVEL": "INFO",
        "PREFECT__ENGINE__FLOW_RUNNER__DEFAULT_CLASS": "prefect.engine.cloud.CloudFlowRunner",
    }


def test_labels_are_a_python_list_repr() -> None:
    assert env(AgentConfig(labels=("42", "marvin")))["PREFECT__CLOUD__AGENT__LABELS"] == "['42', 'marvin']"


def test_precedence_agent_env_then_run_env_then_required_keys() -> None:
    config = AgentConfig(
        key="KEY",
        tenant_id="t-1",
        env_vars={
            "A": "agent",
            "B": "agent",
            "PREFECT__CLOUD__API_KEY": "hijack",
            "PREFECT__LOGGING__LEVEL": "DEBUG",
        },
    )
    result = env(
        config, {"B": "run", "PREFECT__CONTEXT__FLOW_RUN_ID": "x", "PREFECT__CLOUD__API": "http://api:4200"}
    )
    assert result["A"] == "agent"
    assert result["B"] == "run"
    assert result["PREFECT__CLOUD__API_KEY"] == "KEY"
    assert result["PREFECT__CLOUD__AUTH_TOKEN"] == "KEY"
    assert result["PREFECT__CLOUD__TENANT_ID"] == "t-1"
    assert result["PREFECT__CONTEXT__FLOW_RUN_ID"] == "id"
    assert result["PREFECT__LOGGING__LEVEL"] == "DEBUG"
    # The API URL is overridable: the run can point its flow runner elsewhere.
    assert result["PREFECT__CLOUD__API"] == "http://api:4200"


def test_tenant_is_only_passed_with_a_key() -> None:
    assert env(AgentConfig(tenant_id="t-1"))["PREFECT__CLOUD__TENANT_ID"] == ""


@pytest.mark.parametrize(
    ("agent_logs", "run_value", "expected"),
    [
        (True, None, "true"),
        (True, "false", "false"),
        (False, None, "false"),
        (False, "true", "false"),  # a run may disable cloud logs but never enable them
    ],
)
def test_run_may_disable_but_not_enable_cloud_logs(
    agent_logs: bool, run_value: str | None, expected: str
) -> None:
    run_env = {} if run_value is None else {"PREFECT__CLOUD__SEND_FLOW_RUN_LOGS": run_value}
    result = env(AgentConfig(send_flow_run_logs=agent_logs), run_env)
    assert result["PREFECT__CLOUD__SEND_FLOW_RUN_LOGS"] == expected
    assert result["PREFECT__LOGGING__LOG_TO_CLOUD"] == str(agent_logs).lower()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:4200", "http://host.docker.internal:4200"),
        ("http://LOCALHOST:4200/graphql", "http://host.docker.internal:4200/graphql"),
        ("https://localhost/api?x=1", "https://host.docker.internal/api?x=1"),
        ("http://127.0.0.1:4200", "http://host.docker.internal:4200"),
        ("http://127.1.2.3:8080/", "http://host.docker.internal:8080/"),
        ("http://0.0.0.0:4200", "http://host.docker.internal:4200"),
        ("http://[::1]:4200/graphql", "http://host.docker.internal:4200/graphql"),
        ("http://[::ffff:127.0.0.1]:4200", "http://host.docker.internal:4200"),
        ("http://user:pw@localhost:4200", "http://user:pw@host.docker.internal:4200"),
        ("http://api.localhost:4200", "http://host.docker.internal:4200"),
        ("http://mylocalhost.io:4200", "http://mylocalhost.io:4200"),
        ("http://localhost.evil.com:4200", "http://localhost.evil.com:4200"),
        ("https://api.prefect.io", "https://api.prefect.io"),
        ("http://10.0.0.5:4200", "http://10.0.0.5:4200"),
        ("http://128.0.0.1:4200", "http://128.0.0.1:4200"),
        ("not a url", "not a url"),
    ],
)
def test_api_url_rewrite_parses_the_url(url: str, expected: str) -> None:
    assert container_api_url(url, host_network=False) == expected


def test_host_network_keeps_loopback() -> None:
    assert container_api_url("http://localhost:4200", host_network=True) == "http://localhost:4200"
    assert env(AgentConfig(api="http://127.0.0.1:4200"), host_network=True)["PREFECT__CLOUD__API"] == (
        "http://127.0.0.1:4200"
    )


def test_loopback_hosts() -> None:
    assert all(map(is_loopback_host, ["localhost", "localhost.", "127.0.0.1", "::1", "0.0.0.0", "::"]))
    assert not any(map(is_loopback_host, ["example.com", "10.1.1.1", "::2", "localhost.com", ""]))


def test_secret_keys_by_name() -> None:
    keys = secret_keys(
        {
            "PREFECT__CLOUD__API_KEY": "k",
            "PREFECT__CLOUD__AUTH_TOKEN": "t",
            "db_password": "p",
            "MY_SECRET": "s",
            "AWS_CREDENTIALS": "c",
            "PATH": "/bin",
            "PREFECT__CLOUD__API": "u",
            "PREFECT__CLOUD__USE_LOCAL_SECRETS": "false",
        }
    )
    assert keys == {
        "PREFECT__CLOUD__API_KEY",
        "PREFECT__CLOUD__AUTH_TOKEN",
        "db_password",
        "MY_SECRET",
        "AWS_CREDENTIALS",
    }


names = st.text(alphabet=st.characters(blacklist_characters="=\x00"), min_size=1, max_size=12)


@given(
    st.dictionaries(names, st.text(max_size=8), max_size=5),
    st.dictionaries(names, st.text(max_size=8), max_size=5),
)
def test_required_keys_always_win_and_user_keys_otherwise_pass(
    agent_env: dict[str, str], run_env: dict[str, str]
) -> None:
    result = env(AgentConfig(env_vars=agent_env), run_env)
    assert result.keys() >= REQUIRED
    assert result["PREFECT__CONTEXT__FLOW_RUN_ID"] == "id"
    assert result["PREFECT__BACKEND"] == "server"
    for key, value in {**agent_env, **run_env}.items():
        if key not in REQUIRED and key != "PREFECT__CLOUD__SEND_FLOW_RUN_LOGS":
            assert result[key] == value
