"""The dashboard in a real browser: Debian's Chromium, headless, against a real `dockyard
server` process, with runs created through the API and deployed by a real agent on the
Docker daemon. Each test leaves screenshots in its tmp_path."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest
import requests
from playwright.sync_api import expect

from support.agent_process import AgentProcess, wait_until
from support.browser import BrowserPage, browser_page, chromium
from support.dockyard_cli import dockyard_run, wait_final
from support.prefect_client import prefect_env, run_python
from support.server_process import ServerProcess, running_server

__all__ = ["browser_page", "chromium"]
pytestmark = pytest.mark.browser

HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
HOSTILE_LABEL = '"><img src=x onerror=window.__pwned=3>'
HOSTILE_PARAMETER = "</pre><script>window.__pwned=4</script>"
HOSTILE_LOG = "<img src=x onerror=window.__pwned=5><b>not bold</b>"
LATE_HOSTILE_LOG = "<svg onload=window.__pwned=6></svg> arrived live"


def start_agent(
    server: ServerProcess, agents: list[AgentProcess], tmp_path: Path, label: str
) -> AgentProcess:
    agent = AgentProcess(
        server.url, log_dir=tmp_path, args=["--label", label, "--no-pull", "--cancel-grace", "1"]
    ).start()
    agents.append(agent)
    return agent


def create(server: ServerProcess, image: str, label: str, command: str, name: str) -> str:
    created = dockyard_run(server.url, "create", "--image", image, "--label", label, "--command", command,
                           "--name", name)  # fmt: skip
    return str(created["id"])


def by_pk(server: ServerProcess, table: str, row_id: str, field: str) -> Any:
    query = f"query($id: uuid!) {{ {table}_by_pk(id: $id) {{ {field} }} }}"
    return server.data(query, {"id": row_id})[f"{table}_by_pk"][field]


def state_of(server: ServerProcess, run_id: str) -> str:
    return str(by_pk(server, "flow_run", run_id, "state"))


def row(visit: BrowserPage, run_id: str) -> Any:
    return visit.page.locator(f'tr[data-run-id="{run_id}"]')


def mutate(
    server: ServerProcess, name: str, input_type: str, value: dict[str, Any], fields: str = "id"
) -> Any:
    query = f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {fields} }} }}"
    return server.data(query, {"input": value})[name]


def project(server: ServerProcess, name: str) -> str:
    tenant = server.data("{ tenant { id } }")["tenant"][0]["id"]
    return str(
        mutate(server, "create_project", "create_project_input", {"tenant_id": tenant, "name": name})["id"]
    )


def test_runs_page_shows_states_filters_and_refreshes_live(
    server: ServerProcess,
    agents: list[AgentProcess],
    tmp_path: Path,
    test_image: Any,
    browser_page: BrowserPage,
) -> None:
    image, label = test_image("busybox"), f"dash-{uuid.uuid4().hex[:8]}"
    agent = start_agent(server, agents, tmp_path, label)
    fine = create(server, image, label, "echo fine", "fine-run")
    broken = create(server, image, label, "echo broken; exit 3", "broken-run")
    idle = create(server, image, f"nobody-serves-{label}", "true", "idle-run")
    assert wait_final(server.url, fine)["state"] == "Success"
    assert wait_final(server.url, broken)["state"] == "Failed"
    visit = browser_page
    page = visit.page
    page.goto(server.url + "/")
    expect(row(visit, fine).locator(".state")).to_have_text("Success")
    expect(row(visit, broken).locator(".state")).to_have_text("Failed")
    expect(row(visit, idle).locator(".state")).to_have_text("Scheduled")
    expect(row(visit, fine).locator("td").nth(7)).to_have_text(agent.name)
    names = page.locator("tr[data-run-id] a.run-name").all_inner_texts()
    assert names[:3] == ["idle-run", "broken-run", "fine-run"]  # newest first
    visit.shoot("runs")

    page.evaluate("window.__samePage = 'yes'")
    later = create(server, image, label, "echo later", "later-run")
    expect(row(visit, later)).to_be_visible(timeout=30_000)  # without a reload
    expect(row(visit, later).locator(".state")).to_have_text("Success", timeout=60_000)
    assert page.evaluate("window.__samePage") == "yes"

    page.select_option("select[name=state]", "Failed")
    page.click("form.filters button[type=submit]")
    expect(page.locator("tr[data-run-id]")).to_have_count(1)
    expect(row(visit, broken)).to_be_visible()
    page.select_option("select[name=state]", "")
    page.fill("input[name=label]", f"nobody-serves-{label}")
    page.click("form.filters button[type=submit]")
    expect(page.locator("tr[data-run-id]")).to_have_count(1)
    expect(row(visit, idle)).to_be_visible()
    visit.shoot("runs-filtered")
    visit.assert_no_problems()


def test_run_page_streams_logs_while_the_container_prints(
    server: ServerProcess,
    agents: list[AgentProcess],
    tmp_path: Path,
    test_image: Any,
    browser_page: BrowserPage,
) -> None:
    image, label = test_image("busybox"), f"dash-{uuid.uuid4().hex[:8]}"
    agent = start_agent(server, agents, tmp_path, label)
    run_id = create(server, image, label, "for i in 1 2 3 4 5; do echo line$i; sleep 2; done", "chatty")
    wait_until(lambda: state_of(server, run_id) == "Running", timeout=60, what="the run running")
    visit, page = browser_page, browser_page.page
    page.goto(f"{server.url}/default/flow-run/{run_id}")
    page.evaluate("window.__samePage = 'yes'")
    printed = page.locator("#logs td.message", has_text=re.compile(r"^line\d$"))
    shown_at_load = printed.count()
    expect(page.locator("#logs")).to_contain_text("line5", timeout=60_000)
    assert shown_at_load < 5, "every line was there at load: nothing was streamed"
    assert printed.all_inner_texts() == ["line1", "line2", "line3", "line4", "line5"]  # each once, in order
    assert page.evaluate("window.__samePage") == "yes"
    expect(page.locator("#run-state .state")).to_have_text("Success", timeout=60_000)  # the status refreshes
    expect(page.locator("#run-agent")).to_contain_text(agent.name)
    logged = page.locator("#logs td.message", has_text="Container ID").first.inner_text()
    container_id = logged.rsplit(" ", 1)[1]
    expect(page.locator("#run-container code")).to_have_text(container_id[:12])
    states = page.locator("#timeline tbody tr td:first-child").all_inner_texts()
    assert states == ["Scheduled", "Submitted", "Running", "Success"]
    assert page.locator("#timeline tbody tr").nth(2).locator("td").nth(2).inner_text().endswith("s")
    visit.shoot("run")

    page.select_option("select[name=level]", "WARNING")  # the form submits itself
    expect(page).to_have_url(re.compile(r"level=WARNING"))
    expect(printed).to_have_count(0)
    page.goto(f"{server.url}/default/flow-run/{run_id}?level=INFO")
    expect(printed).to_have_count(5)
    visit.assert_no_problems()


def test_cancelling_from_the_run_page_ends_the_run_cancelled(
    server: ServerProcess, agents: list[AgentProcess], tmp_path: Path, test_image: Any,
    browser_page: BrowserPage, docker_client: docker.DockerClient,
) -> None:  # fmt: skip
    image, label = test_image("busybox"), f"dash-{uuid.uuid4().hex[:8]}"
    agent = start_agent(server, agents, tmp_path, label)
    run_id = create(server, image, label, "echo sleeping; sleep 300", "sleepy")
    wait_until(lambda: state_of(server, run_id) == "Running", timeout=60, what="the run running")
    visit, page = browser_page, browser_page.page
    page.goto(f"{server.url}/default/flow-run/{run_id}")
    page.click("#cancel-run")  # confirmed by the dialog handler
    expect(page.locator("#run-state .state")).to_have_text(re.compile(r"^Cancell(ing|ed)$"))
    expect(page.locator("#run-state .state")).to_have_text("Cancelled", timeout=90_000)
    expect(page.locator("#cancel-run")).to_have_count(0)
    assert state_of(server, run_id) == "Cancelled"
    wait_until(
        lambda: all(c.status != "running" for c in agent.containers(docker_client)),
        timeout=30,
        what="the container stopped",
    )
    visit.shoot("run-cancelled")
    visit.assert_no_problems()


def test_hostile_names_labels_parameters_and_logs_are_shown_as_text(
    server: ServerProcess, browser_page: BrowserPage
) -> None:
    flow = mutate(
        server,
        "create_flow",
        "create_flow_input",
        {
            "project_id": project(server, "hostile"),
            "serialized_flow": {"name": HOSTILE, "__version__": "1.4.1"},
        },
    )["id"]
    run_id = mutate(
        server,
        "create_flow_run",
        "create_flow_run_input",
        {
            "flow_id": flow,
            "flow_run_name": HOSTILE,
            "labels": [HOSTILE_LABEL],
            "parameters": {"p": HOSTILE_PARAMETER},
        },
    )["id"]
    logs = [{"flow_run_id": run_id, "message": HOSTILE_LOG, "level": "ERROR", "name": HOSTILE}]
    mutate(server, "write_run_logs", "write_run_logs_input", {"logs": logs}, "success")
    visit, page = browser_page, browser_page.page

    answer = page.goto(server.url + "/")
    assert answer is not None and "script-src 'self'" in answer.headers["content-security-policy"]
    expect(page.locator("a.run-name", has_text=HOSTILE)).to_have_text(HOSTILE)
    expect(page.locator(".label", has_text=HOSTILE_LABEL)).to_have_text(HOSTILE_LABEL)
    visit.shoot("hostile-runs")

    page.goto(f"{server.url}/default/flow-run/{run_id}")
    expect(page.locator("#run-name")).to_have_text(HOSTILE)
    page.click("details.config summary")
    assert json.loads(page.locator("#run-parameters").inner_text()) == {"p": HOSTILE_PARAMETER}
    expect(page.locator("#logs td.message", has_text="not bold")).to_have_text(HOSTILE_LOG)
    late = [{"flow_run_id": run_id, "message": LATE_HOSTILE_LOG, "level": "INFO"}]
    mutate(server, "write_run_logs", "write_run_logs_input", {"logs": late}, "success")
    expect(page.locator("#logs td.message", has_text="arrived live")).to_have_text(
        LATE_HOSTILE_LOG, timeout=30_000
    )
    visit.shoot("hostile-run")

    page.goto(server.url + "/flows")
    expect(page.locator("a.flow-name")).to_have_text(HOSTILE)
    page.wait_for_timeout(500)  # an injected onerror/onload would have fired by now
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img, svg[onload]").count() == 0
    visit.assert_no_problems()


def test_with_an_api_key_the_dashboard_needs_a_login_and_forms_need_their_token(
    tmp_path: Path, browser_page: BrowserPage
) -> None:
    key = f"key-{uuid.uuid4().hex}"
    with running_server(tmp_path / "keyed.db", api_key=key) as server:
        flow = mutate(
            server,
            "create_flow",
            "create_flow_input",
            {
                "project_id": project(server, "p"),
                "serialized_flow": {"name": "guarded", "__version__": "1.4.1"},
            },
        )["id"]
        run_id = mutate(
            server, "create_flow_run", "create_flow_run_input", {"flow_id": flow, "flow_run_name": "kept"}
        )["id"]
        run_page = f"{server.url}/default/flow-run/{run_id}"
        visit, page = browser_page, browser_page.page

        page.goto(run_page)  # a link to a run, as Prefect's clients build them
        expect(page).to_have_url(re.compile(r"/login\?next="))
        expect(page.locator("form.login")).to_be_visible()
        visit.shoot("login")
        page.fill("#key", "not-the-key")
        page.click("form.login button")
        expect(page.locator("#login-failed")).to_be_visible()
        assert visit.context.cookies() == []

        page.fill("#key", key)
        page.click("form.login button")
        expect(page).to_have_url(run_page)
        expect(page.locator("#run-name")).to_have_text("kept")
        (cookie,) = visit.context.cookies()
        assert (cookie["name"], cookie["httpOnly"], cookie["secure"], cookie["sameSite"]) == (
            "dockyard_session", True, True, "Lax",
        )  # fmt: skip
        assert key not in cookie["value"]
        assert "dockyard_session" not in page.evaluate("document.cookie")  # HttpOnly: not for scripts

        cancel = f"{run_page}/cancel"
        assert page.request.post(cancel, form={"reason": "no token"}).status == 403  # cookie, no token
        assert page.request.post(cancel, form={"csrf_token": "0" * 64}).status == 403
        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        assert (
            requests.post(cancel, data={"csrf_token": token}, timeout=10).status_code == 401
        )  # token, no cookie
        assert state_of(server, run_id) == "Scheduled"

        pages = {"/": "Flow runs", "/flows": "Flows", "/agents": "Agents", "/activity": "The last 24 hours"}
        for path, heading in pages.items():
            page.goto(server.url + path)
            expect(page.locator("h1")).to_have_text(heading)
        page.goto(run_page)
        page.click("#cancel-run")
        expect(page.locator("#run-state .state")).to_have_text("Cancelled")
        assert state_of(server, run_id) == "Cancelled"

        page.click("form.logout button")
        expect(page.locator("form.login")).to_be_visible()
        page.goto(server.url + "/")
        expect(page).to_have_url(re.compile(r"/login"))
        visit.assert_no_problems()


def test_flows_agents_and_activity_pages_and_prefects_links(
    server: ServerProcess,
    agents: list[AgentProcess],
    tmp_path: Path,
    test_image: Any,
    browser_page: BrowserPage,
) -> None:
    image, label = test_image("busybox"), f"dash-{uuid.uuid4().hex[:8]}"
    name = f"dash-flow-{label}"
    serialized = {
        "name": name,
        "__version__": "1.4.1",
        "parameters": [
            {"name": "greeting", "default": "hi", "required": False},
            {"name": "count", "default": None, "required": True},
        ],
        # A schedule must give every required parameter a value to be turned on.
        "schedule": {"type": "Schedule", "clocks": [
            {"type": "IntervalClock", "interval": 86_400_000_000, "parameter_defaults": {"count": 1}}
        ]},
        "run_config": {"type": "DockerRun", "image": image, "command": "echo started-from-dashboard",
                       "labels": [label], "__version__": "1.4.1"},
    }  # fmt: skip
    flow = mutate(
        server,
        "create_flow",
        "create_flow_input",
        {"project_id": project(server, "dash"), "serialized_flow": serialized, "set_schedule_active": False},
    )["id"]
    group = by_pk(server, "flow", flow, "flow_group_id")
    agent = start_agent(server, agents, tmp_path, label)
    visit, page = browser_page, browser_page.page

    def schedule_active() -> bool:
        return bool(by_pk(server, "flow", flow, "is_schedule_active"))

    page.goto(server.url + "/flows")
    flow_row = page.locator(f'tr[data-flow-id="{group}"]')
    expect(flow_row).to_contain_text("every 1 d 0 h")
    expect(flow_row.locator(".switch")).to_have_text("paused")
    flow_row.locator("button.schedule-toggle").click()
    expect(page.locator(f'tr[data-flow-id="{group}"] .switch')).to_have_text("active")
    assert schedule_active()
    page.locator(f'tr[data-flow-id="{group}"] button.schedule-toggle').click()
    expect(page.locator(f'tr[data-flow-id="{group}"] .switch')).to_have_text("paused")
    assert not schedule_active()

    page.click(f'tr[data-flow-id="{group}"] a.flow-name')
    expect(page.locator("#flow-name")).to_have_text(name)
    page.click("#start-run button[type=submit]")
    expect(page.locator("#start-problem")).to_contain_text("Required parameters were not supplied")
    page.fill("input[name='param.count']", "3")
    page.fill("input[name='param.greeting']", "hello")
    page.fill("input[name=run_name]", "from-the-form")
    page.click("#start-run button[type=submit]")
    expect(page.locator("#run-name")).to_have_text("from-the-form")
    run_id = page.url.rsplit("/", 1)[1]
    assert by_pk(server, "flow_run", run_id, "parameters") == {"count": 3, "greeting": "hello"}
    assert wait_final(server.url, run_id)["state"] == "Success"
    expect(page.locator("#logs")).to_contain_text("started-from-dashboard", timeout=30_000)

    page.goto(server.url + "/flows")
    expect(page.locator(f'tr[data-flow-id="{group}"] .strip .cell.st-success')).to_have_count(1)
    visit.shoot("flows")
    page.click(f'tr[data-flow-id="{group}"] a.flow-name')
    visit.shoot("flow")

    # Prefect 1.4.1's Client.get_cloud_url, told where the UI is, links straight to the pages.
    env = {**prefect_env(server.url, tmp_path / "prefect-home"), "PREFECT__SERVER__UI__ENDPOINT": server.url}
    script = (
        "import sys, prefect; c = prefect.Client(); "
        "print(c.get_cloud_url('flow-run', sys.argv[1])); print(c.get_cloud_url('flow', sys.argv[2]))"
    )
    run_url, flow_url = run_python(script, env, run_id, group).split()
    assert run_url == f"{server.url}/default/flow-run/{run_id}"
    page.goto(run_url)
    expect(page.locator("#run-name")).to_have_text("from-the-form")
    page.goto(flow_url)
    expect(page.locator("#flow-name")).to_have_text(name)

    page.goto(server.url + "/agents")
    agent_row = page.locator("tr[data-agent-id]", has=page.locator("td.agent-name", has_text=agent.name))
    expect(agent_row.locator(".health")).to_have_text("healthy")
    expect(agent_row).to_contain_text(label)
    visit.shoot("agents")

    page.goto(server.url + "/activity")
    assert int(page.locator("#total-success").inner_text()) >= 1
    assert page.locator("#outcome-chart rect.bar-success").count() >= 1
    assert page.locator("#latency-chart rect.bar-latency").count() >= 1
    visit.shoot("activity")
    visit.assert_no_problems()
