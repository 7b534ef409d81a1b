"""Calling a WSGI application in-process, as a test client."""

from __future__ import annotations

import io
import json
from typing import Any
from wsgiref.util import setup_testing_defaults


def call(
    app: Any, method: str = "POST", path: str = "/", body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """Return the status code and the decoded JSON body."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        "wsgi.input": io.BytesIO(body),
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    setup_testing_defaults(environ)
    captured: dict[str, str] = {}

    def start_response(status: str, _headers: list[tuple[str, str]]) -> None:
        captured["status"] = status

    payload = b"".join(app(environ, start_response))
    return int(captured["status"].split()[0]), json.loads(payload)


def post(app: Any, query: str, variables: Any = None, **headers: str) -> tuple[int, Any]:
    body = json.dumps({"query": query, "variables": variables}).encode()
    return call(app, body=body, headers={k.replace("_", "-"): v for k, v in headers.items()})
