"""The dashboard as a WSGI application: server-rendered pages, two small polling endpoints
and three forms, all reading through the domain's views and acting through ServerService.

Every response carries a strict Content-Security-Policy (scripts and styles only from this
server, no inline code), and templates escape everything they print. When the server has
an API key, every page but the login form needs a session cookie; every form post needs the
CSRF token of its session (see ``sessions``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from importlib.resources import files
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from dockyard.adapters.dashboard import charts, formatting
from dockyard.adapters.dashboard.forms import ParameterForm
from dockyard.adapters.dashboard.sessions import COOKIE, Session, SessionKeeper
from dockyard.domain.server.errors import InvalidInput
from dockyard.domain.server.errors import NotFound as RowNotFound
from dockyard.domain.server.runs import NewFlowRun
from dockyard.domain.server.service import ServerService
from dockyard.domain.server.views.runs import LOG_LEVELS, LogCursor, RunQuery
from dockyard.domain.states import KNOWN_STATES

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
# GETs the GraphQL app keeps: its health check and the GraphQL paths (which answer 405).
API_GET_PATHS = frozenset({"/health", "/health/", "/graphql", "/graphql/"})
MAX_FORM_BYTES = 1024 * 1024
LOG_PAGE = 500
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
STATES = tuple(sorted(KNOWN_STATES - {"State"}))

ROUTES = Map(
    [
        Rule("/", endpoint="runs", methods=["GET"]),
        Rule("/runs/rows", endpoint="runs_rows", methods=["GET"]),
        Rule("/flows", endpoint="flows", methods=["GET"]),
        Rule("/agents", endpoint="agents", methods=["GET"]),
        Rule("/agents/rows", endpoint="agents_rows", methods=["GET"]),
        Rule("/activity", endpoint="activity", methods=["GET"]),
        Rule("/login", endpoint="login", methods=["GET", "POST"]),
        Rule("/logout", endpoint="logout", methods=["POST"]),
        Rule("/static/<name>", endpoint="static", methods=["GET"]),
        Rule("/<slug>/flow-run/<run_id>", endpoint="run", methods=["GET"]),
        Rule("/<slug>/flow-run/<run_id>/status", endpoint="run_status", methods=["GET"]),
        Rule("/<slug>/flow-run/<run_id>/logs", endpoint="run_logs", methods=["GET"]),
        Rule("/<slug>/flow-run/<run_id>/cancel", endpoint="cancel", methods=["POST"]),
        Rule("/<slug>/task-run/<task_run_id>", endpoint="task_run", methods=["GET"]),
        Rule("/<slug>/flow/<flow_id>", endpoint="flow", methods=["GET"]),
        Rule("/<slug>/flow/<flow_id>/run", endpoint="start_run", methods=["POST"]),
        Rule("/<slug>/flow/<flow_id>/schedule", endpoint="schedule", methods=["POST"]),
    ]
)
# Answered with a status code rather than the login page: script fetches, not pages.
_POLLED = frozenset({"runs_rows", "agents_rows", "run_status", "run_logs"})


@dataclass(frozen=True)
class Visit:
    """Who is asking: their session and what the templates need to know of it."""

    session: Session
    csrf_token: str
    login_required: bool
    now: datetime


def templates() -> Environment:
    environment = Environment(
        loader=PackageLoader("dockyard.adapters.dashboard", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        duration=formatting.duration,
        utc=formatting.utc,
        pretty_json=formatting.pretty_json,
        state_class=formatting.state_class,
        schedule_text=formatting.schedule_text,
    )
    environment.globals.update(
        run_url=run_url, flow_url=flow_url, levels=LOG_LEVELS, states=STATES, version=version("dockyard")
    )
    return environment


def run_url(slug: str, run_id: str) -> str:
    return f"/{quote(slug, safe='')}/flow-run/{quote(run_id, safe='')}"


def flow_url(slug: str, group_id: str) -> str:
    return f"/{quote(slug, safe='')}/flow/{quote(group_id, safe='')}"


def local_path(target: str | None) -> str:
    """``target`` when it is a path on this server, else ``/``: no open redirects."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def run_query(args: Any, per_page: int = 25) -> RunQuery:
    state = args.get("state") or None
    page = args.get("page", "1")
    return RunQuery(
        state=state if state in KNOWN_STATES else None,
        label=(args.get("label") or "").strip() or None,
        flow_group_id=args.get("flow") or None,
        page=int(page) if page.isdigit() and int(page) > 0 else 1,
        per_page=per_page,
    )


def _filters(query: RunQuery, page: int | None = None) -> str:
    pairs = {"state": query.state, "label": query.label, "flow": query.flow_group_id, "page": page}
    return urlencode({k: v for k, v in pairs.items() if v})


class DashboardWsgiApp:
    def __init__(self, service: ServerService, *, sessions: SessionKeeper) -> None:
        self._service = service
        self._views = service.views
        self._sessions = sessions
        self._templates = templates()

    def serves(self, method: str, path: str) -> bool:
        """Whether a request is the dashboard's: every GET except the API's own paths, and
        a POST only to one of the dashboard's forms (the rest is GraphQL)."""
        if method in ("GET", "HEAD"):
            return (path or "/") not in API_GET_PATHS
        if method != "POST":
            return False
        try:
            ROUTES.bind("dashboard").match(path, method="POST")
        except (HTTPException, RequestRedirect):
            return False
        return True

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        request = Request(environ)
        request.max_content_length = MAX_FORM_BYTES
        request.max_form_memory_size = MAX_FORM_BYTES
        try:
            response = self._respond(request)
        except HTTPException as refused:  # e.g. a form body over the limit
            response = Response(
                refused.description or refused.name, refused.code or 400, mimetype="text/plain"
            )
        except Exception:
            log.exception("unexpected error serving %s %s", request.method, request.path)
            response = Response(
                "Internal server error; the server log has the details.", 500, mimetype="text/plain"
            )
        _harden(response, cache=request.path.startswith("/static/"))
        if log.isEnabledFor(logging.DEBUG):
            elapsed = (time.perf_counter() - started) * 1000
            log.debug("%s %s %s %.1fms", request.method, request.path, response.status_code, elapsed)
        return response(environ, start_response)

    # -- routing, sessions and CSRF ------------------------------------------------------

    def _respond(self, request: Request) -> Response:
        try:
            endpoint, args = ROUTES.bind_to_environ(request.environ).match()
        except RequestRedirect as moved:
            return redirect(moved.new_url, 308)
        except NotFound:
            return self._plain_error(404, "No such page.")
        except MethodNotAllowed:
            return self._plain_error(405, "Method not allowed.")
        if endpoint == "static":
            return self._static(str(args["name"]))
        session, cookie = self._session(request)
        if endpoint == "login":
            return self._login(request, session)
        if session is None:
            if endpoint in _POLLED or request.method == "POST":
                return self._plain_error(401, "Log in first: this server requires its API key.")
            return redirect("/login?" + urlencode({"next": request.full_path.rstrip("?")}), 303)
        visit = Visit(session, self._sessions.csrf_token(session), self._sessions.requires_login, self._now())
        if request.method == "POST" and not self._sessions.csrf_matches(
            session, request.form.get("csrf_token")
        ):
            response = self._error(
                visit,
                403,
                "This form did not come from this dashboard, or it has expired: "
                "reload the page and try again.",
            )
        else:
            handler: Callable[..., Response] = getattr(self, f"_{endpoint}")
            try:
                response = handler(request, visit, **args)
            except RowNotFound as missing:
                response = self._error(visit, 404, str(missing))
            except InvalidInput as refused:  # the use case's own words, e.g. why a schedule stays off
                response = self._error(visit, 400, str(refused))
        if cookie is not None:
            self._set_cookie(request, response, cookie)
        return response

    def _session(self, request: Request) -> tuple[Session | None, str | None]:
        """The visitor's session, and a new cookie value when one must be set. Without an
        API key, a visitor without a (valid) session gets one at once."""
        session = self._sessions.read(request.cookies.get(COOKIE))
        if session is not None or self._sessions.requires_login:
            return session, None
        session, cookie = self._sessions.issue()
        return session, cookie

    def _set_cookie(self, request: Request, response: Response, value: str, *, clear: bool = False) -> None:
        response.set_cookie(
            COOKIE,
            "" if clear else value,
            max_age=0 if clear else self._sessions.lifetime,
            path="/",
            secure=_secure_transport(request),
            httponly=True,
            # Lax: a link from elsewhere (a notification's run URL) opens the page logged
            # in; no cross-site POST carries the cookie, and none gets past the CSRF token.
            samesite="Lax",
        )

    def _now(self) -> datetime:
        return self._service.deps.clock.now()

    # -- responses -----------------------------------------------------------------------

    def _page(self, template: str, visit: Visit | None, code: int = 200, **values: Any) -> Response:
        body = self._templates.get_template(template).render(visit=visit, ago=self._ago(visit), **values)
        return Response(body, code, mimetype="text/html")

    def _ago(self, visit: Visit | None) -> Callable[[datetime | None], str]:
        now = visit.now if visit is not None else self._now()
        return lambda moment: formatting.ago(moment, now)

    def _error(self, visit: Visit | None, status: int, message: str) -> Response:
        return self._page("error.html", visit, status, status=status, message=message)

    def _plain_error(self, status: int, message: str) -> Response:
        return Response(message, status, mimetype="text/plain")

    def _static(self, name: str) -> Response:
        suffix = name[name.rfind(".") :] if "." in name else ""
        asset = files("dockyard.adapters.dashboard").joinpath("static", name)
        if suffix not in STATIC_TYPES or "/" in name or not asset.is_file():
            return self._plain_error(404, "No such file.")
        return Response(asset.read_bytes(), 200, content_type=f"{STATIC_TYPES[suffix]}; charset=utf-8")

    # -- login ---------------------------------------------------------------------------

    def _login(self, request: Request, session: Session | None) -> Response:
        target = local_path(request.values.get("next"))
        if not self._sessions.requires_login:
            return redirect(target, 303)
        if request.method == "GET":
            if session is not None:
                return redirect(target, 303)
            return self._page(
                "login.html", None, next=target, failed=False, secure=_secure_transport(request)
            )
        if not self._sessions.key_matches(request.form.get("key", "")):
            log.warning("dashboard login refused: wrong API key (from %s)", request.remote_addr)
            return self._page(
                "login.html", None, 401, next=target, failed=True, secure=_secure_transport(request)
            )
        _, cookie = self._sessions.issue()
        response = redirect(target, 303)
        self._set_cookie(request, response, cookie)
        return response

    def _logout(self, request: Request, visit: Visit) -> Response:
        response = redirect("/login" if visit.login_required else "/", 303)
        self._set_cookie(request, response, "", clear=True)
        return response

    # -- runs ----------------------------------------------------------------------------

    def _runs(self, request: Request, visit: Visit) -> Response:
        query = run_query(request.args)
        page = self._views.runs.runs(query)
        return self._page(
            "runs.html",
            visit,
            nav="runs",
            query=query,
            page=page,
            rows_url="/runs/rows?" + _filters(query, query.page),
            newer="?" + _filters(query, page.page - 1) if page.page > 1 else None,
            older="?" + _filters(query, page.page + 1) if page.has_next else None,
        )

    def _runs_rows(self, request: Request, visit: Visit) -> Response:
        page = self._views.runs.runs(run_query(request.args))
        return self._page("_run_rows.html", visit, runs=page.runs)

    def _run(self, request: Request, visit: Visit, slug: str, run_id: str) -> Response:
        detail = self._views.runs.run(run_id)
        if detail is None:
            return self._error(visit, 404, f"No flow run with id {run_id}.")
        level = (request.args.get("level") or "").upper()
        level = level if level in LOG_LEVELS else "DEBUG"
        logs = self._views.runs.logs(run_id, min_level=level, limit=LOG_PAGE)
        return self._page("run.html", visit, nav="runs", detail=detail, logs=logs, level=level)

    def _run_status(self, request: Request, visit: Visit, slug: str, run_id: str) -> Response:
        detail = self._views.runs.run(run_id)
        if detail is None:
            return self._plain_error(404, f"No flow run with id {run_id}.")
        return self._page("_run_status.html", visit, detail=detail)

    def _run_logs(self, request: Request, visit: Visit, slug: str, run_id: str) -> Response:
        seen = request.args.get("seen", "0")
        cursor = LogCursor(request.args.get("after") or None, int(seen) if seen.isdigit() else 0)
        logs = self._views.runs.logs(
            run_id, after=cursor, min_level=request.args.get("level"), limit=LOG_PAGE
        )
        body = {
            "lines": [
                {
                    "id": line.id,
                    "time": formatting.utc(line.timestamp, precise=True),
                    "level": line.level,
                    "name": line.name or "",
                    "message": line.message,
                }
                for line in logs.lines
            ],
            "after": logs.cursor.created,
            "seen": logs.cursor.seen,
            "state": logs.run_state,
            "finished": logs.finished,
        }
        return Response(json.dumps(body), 200, mimetype="application/json")

    def _cancel(self, request: Request, visit: Visit, slug: str, run_id: str) -> Response:
        self._service.flow_runs.cancel_flow_run(run_id)
        log.info("flow run %s cancelled from the dashboard", run_id)
        return redirect(run_url(slug, run_id), 303)

    def _task_run(self, request: Request, visit: Visit, slug: str, task_run_id: str) -> Response:
        owner = self._views.runs.task_run_owner(task_run_id)
        if owner is None:
            return self._error(visit, 404, f"No task run with id {task_run_id}.")
        return redirect(f"{run_url(slug, owner)}#task-{quote(task_run_id, safe='')}", 303)

    # -- flows ---------------------------------------------------------------------------

    def _flows(self, request: Request, visit: Visit) -> Response:
        return self._page("flows.html", visit, nav="flows", flows=self._views.flows.flows())

    def _flow(self, request: Request, visit: Visit, slug: str, flow_id: str) -> Response:
        detail = self._views.flows.flow(flow_id)
        if detail is None:
            return self._error(visit, 404, f"No flow with id {flow_id}.")
        form = ParameterForm.blank(detail.parameters)
        return self._page("flow.html", visit, nav="flows", detail=detail, form=form, problem=None)

    def _start_run(self, request: Request, visit: Visit, slug: str, flow_id: str) -> Response:
        detail = self._views.flows.flow(flow_id)
        if detail is None:
            return self._error(visit, 404, f"No flow with id {flow_id}.")
        form = ParameterForm.posted(detail.parameters, request.form)
        try:
            run_id = self._service.flow_runs.create_flow_run(
                NewFlowRun(flow_id=detail.flow.flow_id, parameters=form.values(), name=form.run_name or None)
            )
        except InvalidInput as problem:
            return self._page(
                "flow.html", visit, 400, nav="flows", detail=detail, form=form, problem=str(problem)
            )
        log.info("flow run %s of flow %s started from the dashboard", run_id, detail.flow.flow_id)
        return redirect(run_url(detail.flow.tenant_slug, run_id), 303)

    def _schedule(self, request: Request, visit: Visit, slug: str, flow_id: str) -> Response:
        detail = self._views.flows.flow(flow_id)
        if detail is None:
            return self._error(visit, 404, f"No flow with id {flow_id}.")
        active = request.form.get("active") == "true"
        self._service.flows.set_schedule_active(detail.flow.flow_id, active)
        log.info(
            "schedule of flow %s turned %s from the dashboard", detail.flow.flow_id, "on" if active else "off"
        )
        back = request.form.get("back") or flow_url(detail.flow.tenant_slug, detail.flow.group_id)
        return redirect(local_path(back), 303)

    # -- agents and activity -------------------------------------------------------------

    def _agents(self, request: Request, visit: Visit) -> Response:
        return self._page("agents.html", visit, nav="agents", agents=self._views.agents.agents())

    def _agents_rows(self, request: Request, visit: Visit) -> Response:
        return self._page("_agent_rows.html", visit, agents=self._views.agents.agents())

    def _activity(self, request: Request, visit: Visit) -> Response:
        day = self._views.activity.last_day()
        return self._page(
            "activity.html",
            visit,
            nav="activity",
            day=day,
            outcomes=charts.outcome_chart(day),
            latency=charts.latency_chart(day),
        )


def _secure_transport(request: Request) -> bool:
    """Whether a Secure cookie will be kept: over HTTPS, and on loopback (which browsers
    count as a secure context). Elsewhere over plain HTTP it would be dropped."""
    if request.scheme == "https":
        return True
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    return host in ("localhost", "127.0.0.1", "[::1]") or host.endswith(".localhost")


def _harden(response: Response, *, cache: bool) -> None:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "max-age=3600" if cache else "no-store"
