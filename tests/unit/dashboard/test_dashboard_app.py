"""The dashboard in-process (werkzeug's test client), mounted with the GraphQL app as the
server mounts it: routing between the two, escaping, security headers, login, sessions
and CSRF. The browser tests (tests/e2e/test_dashboard_browser.py) cover the same ground
through Chromium; these pin the rules down quickly and in detail."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.test import Client, TestResponse

from dockyard.adapters.dashboard.app import CONTENT_SECURITY_POLICY, DashboardWsgiApp, local_path
from dockyard.adapters.dashboard.mount import DashboardAndApi
from dockyard.adapters.dashboard.sessions import COOKIE, SessionKeeper
from dockyard.adapters.graphql_api.executor import GraphQLApi
from dockyard.adapters.graphql_api.wsgi import GraphQLWsgiApp
from dockyard.adapters.sqlite import SqliteRunStore
from dockyard.domain.server.agents import NewLog
from dockyard.domain.server.filters import Select, eq
from dockyard.domain.server.runs import NewFlowRun
from dockyard.domain.server.service import ServerService
from support.stores import service_on

KEY = "k3y-for-tests"
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
HOST = "127.0.0.1:4200"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServerService]:
    store = SqliteRunStore(tmp_path / "dash.db", durable=False)
    service = service_on(store)
    service.tenancy.ensure_default_tenant()
    yield service
    store.close()


def mounted(service: ServerService, api_key: str | None = None) -> Client:
    dashboard = DashboardWsgiApp(service, sessions=SessionKeeper(api_key))
    api = GraphQLWsgiApp(GraphQLApi(service), api_key=api_key)
    return Client(DashboardAndApi(dashboard, api))


def seed(service: ServerService, name: str = "nightly", **run: object) -> tuple[str, str]:
    tenant = service.tenancy.ensure_default_tenant()
    project = service.tenancy.create_project(tenant, f"p-{name[:20]}-{len(name)}", None)
    flow = service.flows.create_flow(
        project,
        {
            "name": "etl",
            "__version__": "1.4.1",
            "tasks": [{"slug": "t-1", "name": "t"}],
            "parameters": [{"name": "n", "required": True, "default": None}],
            "schedule": {
                "type": "Schedule",
                "clocks": [{"type": "IntervalClock", "interval": 60_000_000, "parameter_defaults": {"n": 0}}],
            },
        },
    )
    run_id = service.flow_runs.create_flow_run(
        NewFlowRun(flow_id=flow, name=name, parameters={"n": 1}, **run)  # type: ignore[arg-type]
    )
    return flow, run_id


def get(client: Client, path: str) -> TestResponse:
    return client.get(path, headers={"Host": HOST})


def csrf_of(page: TestResponse) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.get_data(as_text=True))
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_get_pages_go_to_the_dashboard_and_everything_else_to_graphql(service: ServerService) -> None:
    client = mounted(service)
    page = get(client, "/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
    answer = client.post("/", json={"query": "{ hello }"})
    assert answer.mimetype == "application/json" and "hello" in answer.get_json()["data"]
    assert client.post("/graphql", json={"query": "{ hello }"}).get_json()["data"]
    assert get(client, "/health").get_json()["status"] == "ok"
    assert get(client, "/graphql").status_code == 405  # still the API's answer
    assert get(client, "/no/such/page/here").status_code == 404
    assert client.post("/not-a-form", data={}).mimetype == "application/json"  # the API's 404


def test_every_page_renders_and_escapes_hostile_text(service: ServerService) -> None:
    flow, run_id = seed(service, HOSTILE, labels=[f'"><b>{HOSTILE}'])
    service.agents.write_logs([NewLog(run_id, HOSTILE, level="ERROR", name=HOSTILE)])
    client = mounted(service)
    group = service.views.flows.flow(flow).flow.group_id  # type: ignore[union-attr]
    pages = ["/", f"/default/flow-run/{run_id}", "/flows", f"/default/flow/{group}", "/agents", "/activity",
             f"/default/flow-run/{run_id}/status", "/runs/rows", "/agents/rows"]  # fmt: skip
    for path in pages:
        page = get(client, path)
        assert page.status_code == 200, path
        text = page.get_data(as_text=True)
        assert "<script>window" not in text and "<img src=x" not in text, path
    run_page = get(client, f"/default/flow-run/{run_id}").get_data(as_text=True)
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in run_page
    assert "every 1 min 00 s" in get(client, "/flows").get_data(as_text=True)
    logs = get(client, f"/default/flow-run/{run_id}/logs?after=&seen=0").get_json()
    assert logs["lines"][0]["message"] == HOSTILE  # JSON: the page's script sets it as text


def test_links_in_prefects_url_form_find_runs_flows_and_task_runs(service: ServerService) -> None:
    flow, run_id = seed(service)
    client = mounted(service)
    group = service.views.flows.flow(flow).flow.group_id  # type: ignore[union-attr]
    assert "nightly" in get(client, f"/default/flow-run/{run_id}").get_data(as_text=True)
    assert get(client, f"/default/flow/{group}").status_code == 200  # the id Prefect links to
    assert get(client, f"/default/flow/{flow}").status_code == 200  # a version's own id
    assert get(client, "/default/flow-run/00000000-0000-4000-8000-999999999999").status_code == 404
    with service.reading() as session:
        (task_run,) = session.select(Select("task_run", where=eq("flow_run_id", run_id)))
    to_run = get(client, f"/default/task-run/{task_run['id']}")
    assert to_run.status_code == 303
    assert to_run.headers["Location"] == f"/default/flow-run/{run_id}#task-{task_run['id']}"
    assert f'id="task-{task_run["id"]}"' in get(client, f"/default/flow-run/{run_id}").get_data(as_text=True)
    missing = get(client, "/default/task-run/00000000-0000-4000-8000-999999999999")
    assert missing.status_code == 404


def test_forms_need_the_csrf_token_of_their_session(service: ServerService) -> None:
    _, run_id = seed(service)
    client = mounted(service)
    page = get(client, f"/default/flow-run/{run_id}")
    token = csrf_of(page)
    cancel = f"/default/flow-run/{run_id}/cancel"
    assert client.post(cancel, data={}, headers={"Host": HOST}).status_code == 403
    assert client.post(cancel, data={"csrf_token": "0" * 64}, headers={"Host": HOST}).status_code == 403
    stranger = mounted(service)  # another browser, its own session: this token is not its
    get(stranger, "/")
    assert stranger.post(cancel, data={"csrf_token": token}, headers={"Host": HOST}).status_code == 403
    assert service.views.runs.run(run_id).run.state == "Scheduled"  # type: ignore[union-attr]
    done = client.post(cancel, data={"csrf_token": token}, headers={"Host": HOST})
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/default/flow-run/{run_id}")
    assert service.views.runs.run(run_id).run.state == "Cancelled"  # type: ignore[union-attr]


def test_starting_a_run_and_toggling_the_schedule_go_through_the_use_cases(service: ServerService) -> None:
    flow, _ = seed(service)
    client = mounted(service)
    group = service.views.flows.flow(flow).flow.group_id  # type: ignore[union-attr]
    token = csrf_of(get(client, f"/default/flow/{group}"))
    missing = client.post(f"/default/flow/{group}/run", data={"csrf_token": token}, headers={"Host": HOST})
    assert missing.status_code == 400 and "Required parameters were not supplied" in missing.get_data(
        as_text=True
    )
    started = client.post(
        f"/default/flow/{group}/run",
        data={"csrf_token": token, "param.n": "[1, 2]", "run_name": "by hand"},
        headers={"Host": HOST},
    )
    assert started.status_code == 303
    new_id = started.headers["Location"].rsplit("/", 1)[1]
    detail = service.views.runs.run(new_id)
    assert detail is not None and detail.parameters == {"n": [1, 2]} and detail.run.name == "by hand"
    texty = client.post(
        f"/default/flow/{group}/run",
        data={"csrf_token": token, "param.n": "plain words"},
        headers={"Host": HOST},
    )
    assert service.views.runs.run(texty.headers["Location"].rsplit("/", 1)[1]).parameters == {
        "n": "plain words"
    }  # type: ignore[union-attr]
    assert service.views.flows.flow(group).flow.schedule_active  # type: ignore[union-attr]
    off = client.post(
        f"/default/flow/{group}/schedule",
        data={"csrf_token": token, "active": "false"},
        headers={"Host": HOST},
    )
    assert off.status_code == 303 and not service.views.flows.flow(group).flow.schedule_active  # type: ignore[union-attr]


def test_with_an_api_key_pages_need_a_login(service: ServerService) -> None:
    _, run_id = seed(service)
    client = mounted(service, KEY)
    page = get(client, f"/default/flow-run/{run_id}")
    assert page.status_code == 303
    assert page.headers["Location"] == f"/login?next=%2Fdefault%2Fflow-run%2F{run_id}"
    assert get(client, f"/default/flow-run/{run_id}/logs").status_code == 401
    assert get(client, "/runs/rows").status_code == 401
    assert get(client, "/login").status_code == 200
    assert get(client, "/static/dashboard.css").status_code == 200  # assets are not secret
    wrong = client.post("/login", data={"key": "nope", "next": "/"}, headers={"Host": HOST})
    assert wrong.status_code == 401 and "not this server" in wrong.get_data(as_text=True)
    assert client.get_cookie(COOKIE) is None
    right = client.post(
        "/login", data={"key": KEY, "next": f"/default/flow-run/{run_id}"}, headers={"Host": HOST}
    )
    assert right.status_code == 303 and right.headers["Location"] == f"/default/flow-run/{run_id}"
    cookie_header = right.headers["Set-Cookie"]
    assert "HttpOnly" in cookie_header and "SameSite=Lax" in cookie_header and "Secure" in cookie_header
    assert KEY not in cookie_header
    assert get(client, f"/default/flow-run/{run_id}").status_code == 200
    # The API itself still wants the bearer key; a dashboard cookie is not one.
    assert client.post("/", json={"query": "{ hello }"}).get_json()["errors"]
    token = csrf_of(get(client, "/"))
    out = client.post("/logout", data={"csrf_token": token}, headers={"Host": HOST})
    assert out.status_code == 303 and out.headers["Location"] == "/login"
    assert get(client, "/").status_code == 303


def test_the_cookie_is_not_marked_secure_where_a_browser_would_drop_it(service: ServerService) -> None:
    client = mounted(service, KEY)
    plain = client.post("/login", data={"key": KEY}, headers={"Host": "10.1.2.3:4200"})
    assert plain.status_code == 303 and "Secure" not in plain.headers["Set-Cookie"]
    assert "plain HTTP" not in get(mounted(service, KEY), "/login").get_data(as_text=True)  # loopback
    page = Client(mounted(service, KEY).application).get("/login", headers={"Host": "10.1.2.3:4200"})
    assert "plain HTTP" in page.get_data(as_text=True)
    https = client.post("/login", data={"key": KEY}, base_url="https://dockyard.example")
    assert "Secure" in https.headers["Set-Cookie"]


def test_sessions_are_signed_expire_and_die_with_the_key() -> None:
    now = [1_000_000.0]
    keeper = SessionKeeper(KEY, clock=lambda: now[0], lifetime=60)
    session, cookie = keeper.issue()
    assert keeper.read(cookie) == session
    session_id, expires, signature = cookie.split(".")
    assert keeper.read(f"{session_id}.{int(expires) + 999}.{signature}") is None  # extended by hand
    assert keeper.read(f"other.{expires}.{signature}") is None
    assert keeper.read("garbage") is None and keeper.read("") is None and keeper.read(None) is None
    assert SessionKeeper("another-key", clock=lambda: now[0]).read(cookie) is None
    assert SessionKeeper(KEY, clock=lambda: now[0]).read(cookie) == session  # survives a restart
    assert keeper.csrf_matches(session, keeper.csrf_token(session))
    assert not keeper.csrf_matches(session, None) and not keeper.csrf_matches(session, "x")
    now[0] += 61
    assert keeper.read(cookie) is None
    assert not SessionKeeper(None).key_matches("")  # no key: nothing logs in


@pytest.mark.parametrize(
    ("target", "kept"),
    [("/default/flow-run/x", "/default/flow-run/x"), ("//evil.example/", "/"), ("/\\evil", "/"),
     ("https://evil.example/", "/"), ("", "/"), (None, "/")],
)  # fmt: skip
def test_login_only_redirects_within_the_server(target: str | None, kept: str) -> None:
    assert local_path(target) == kept


def test_static_assets_are_served_and_nothing_else_is(service: ServerService) -> None:
    client = mounted(service)
    script = get(client, "/static/dashboard.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert "innerHTML" in script.get_data(as_text=True) and "textContent" in script.get_data(as_text=True)
    for path in ("/static/..%2Fapp.py", "/static/app.py", "/static/__init__.py", "/static/missing.js"):
        assert get(client, path).status_code == 404, path


def test_the_run_list_filters_through_the_query_string(service: ServerService) -> None:
    seed(service, "first")
    _, second = seed(service, "second")
    service.flow_runs.cancel_flow_run(second)
    client = mounted(service)
    text = get(client, "/?state=Cancelled").get_data(as_text=True)
    assert "second" in text and ">first<" not in text
    rows = get(client, "/runs/rows?state=Scheduled").get_data(as_text=True)
    assert "first" in rows and "second" not in rows
    assert get(client, "/?state=<bogus>&page=-3").status_code == 200
    assert json.loads(get(client, f"/default/flow-run/{second}/logs?seen=x").get_data())["finished"]


def test_a_schedule_the_rules_refuse_to_turn_on_is_a_page_saying_why(service: ServerService) -> None:
    tenant = service.tenancy.ensure_default_tenant()
    project = service.tenancy.create_project(tenant, "refused", None)
    flow = service.flows.create_flow(
        project,
        {
            "name": "needs-n",
            "__version__": "1.4.1",
            "tasks": [{"slug": "t-1", "name": "t"}],
            "parameters": [{"name": "n", "required": True, "default": None}],
            "schedule": {"type": "Schedule", "clocks": [{"type": "IntervalClock", "interval": 60_000_000}]},
        },
    )
    client = mounted(service)
    group = service.views.flows.flow(flow).flow.group_id  # type: ignore[union-attr]
    token = csrf_of(get(client, f"/default/flow/{group}"))
    refused = client.post(
        f"/default/flow/{group}/schedule",
        data={"csrf_token": token, "active": "true"},
        headers={"Host": HOST},
    )
    assert refused.status_code == 400
    assert "Can not schedule a flow that has required parameters." in refused.get_data(as_text=True)
    assert not service.views.flows.flow(group).flow.schedule_active  # type: ignore[union-attr]
