"""A small JSON API for ``iiscors serve`` with no arguments (and for the serving tests).

Routes:

- ``GET /`` — a plain-text page saying what this is;
- ``GET /api/items`` — a JSON list, with ``X-Total-Count`` (exposed by the demo web.config);
- ``POST /api/items`` — echoes the JSON body back, 201;
- ``DELETE /api/items/<n>`` — 204;
- ``GET /api/me`` — 401 with ``WWW-Authenticate: Negotiate`` unless the request carries
  ``Authorization`` (standing in for Windows authentication: the CORS middleware answers
  preflights before it, and adds its headers to the 401);
- ``GET /public/hello`` — a greeting, under the demo's ``<location path="public">``;
- anything else — 404.  Every response is built here; CORS headers come only from the middleware.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from iiscors.wsgi import StartResponse, WSGIEnvironment

ITEMS = [{"id": 1, "name": "first"}, {"id": 2, "name": "second"}]
MAX_BODY = 64 * 1024


def _json(start_response: StartResponse, status: str, payload: Any,
          extra: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body))), *extra])
    return [body]


def demo_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The demo API (a plain WSGI callable, no framework)."""
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "") or "/"
    if path == "/" and method in ("GET", "HEAD"):
        body = (b"iiscors demo: IIS CORS behaviour from iiscors/demo/web.config.\n"
                b"Try /api/items, /api/me and /public/hello with an Origin header.\n")
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    if path == "/api/items" and method in ("GET", "HEAD"):
        return _json(start_response, "200 OK", ITEMS, [("X-Total-Count", str(len(ITEMS)))])
    if path == "/api/items" and method == "POST":
        length = environ.get("CONTENT_LENGTH") or "0"
        size = min(int(length), MAX_BODY) if length.isdigit() else 0
        raw = environ["wsgi.input"].read(size) if size else b""
        try:
            received = json.loads(raw or b"null")
        except ValueError:
            return _json(start_response, "400 Bad Request", {"error": "body is not JSON"})
        return _json(start_response, "201 Created", {"received": received})
    if path.startswith("/api/items/") and method == "DELETE":
        start_response("204 No Content", [])
        return [b""]
    if path == "/api/me" and method in ("GET", "HEAD"):
        if not environ.get("HTTP_AUTHORIZATION"):
            return _json(start_response, "401 Unauthorized", {"error": "log in first"},
                         [("WWW-Authenticate", "Negotiate")])
        return _json(start_response, "200 OK", {"user": "demo"})
    if path == "/public/hello" and method in ("GET", "HEAD"):
        return _json(start_response, "200 OK", {"hello": "world"})
    return _json(start_response, "404 Not Found", {"error": "not found"})
