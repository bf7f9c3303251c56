"""Loopback HTTP servers for the browser suite: the page origin and the API origin.

The API server records every request twice: once as it reaches the server (outside the
middleware, with the status and headers the server finally answered) and once as it reaches
the application inside the middleware. That is what lets a case say "the preflight reached
the server and was answered 204 by the middleware, and the actual request never reached the
app", and what keeps a crash (a 500, an exception) from ever passing as "blocked".
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# Headers the echo app always sends, so every case can check which ones the script may read:
# X-Exposed and header1/header2 are the ones the configs expose; X-Secret never is.
APP_RESPONSE_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Exposed", "exposed-value"),
    ("X-Secret", "secret-value"),
    ("header1", "one"),
    ("header2", "two"),
)

PAGE_HTML = b"<!doctype html><meta charset=utf-8><title>iiscors page origin</title><p>page"


@dataclass(frozen=True)
class Seen:
    """One request as seen at one layer; ``status`` is None for the app layer."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    status: int | None = None
    response_headers: tuple[tuple[str, str], ...] = ()
    error: str | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def response_values(self, name: str) -> list[str]:
        return [value for key, value in self.response_headers if key.lower() == name.lower()]

    def describe(self) -> str:
        text = f"{self.method} {self.path}?{self.query}"
        if self.status is not None:
            text += f" -> {self.status} {list(self.response_headers)}"
        if self.error:
            text += f" !! {self.error}"
        return text


def _request_headers(environ: WSGIEnvironment) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    return headers


def _seen(environ: WSGIEnvironment) -> Seen:
    return Seen(
        method=str(environ["REQUEST_METHOD"]),
        path=str(environ.get("PATH_INFO", "")),
        query=str(environ.get("QUERY_STRING", "")),
        headers=_request_headers(environ),
    )


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without the per-request access log (the suite keeps its own)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def _serve(app: WSGIApplication) -> tuple[BaseWSGIServer, threading.Thread]:
    # Port 0: the OS picks a free loopback port, so parallel runs never collide.
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="wsgi-server", daemon=True)
    thread.start()
    return server, thread


class PageServer:
    """The page origin: an empty HTML page on every path.

    ``/sandboxed`` is served with ``Content-Security-Policy: sandbox allow-scripts``, which
    gives the document an opaque origin, so its fetches carry ``Origin: null`` (contract B5:
    a bare ``*`` rule matches it).
    """

    def __init__(self) -> None:
        self.server, self._thread = _serve(self._app)
        self.port: int = self.server.server_port

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/favicon.ico":
            start_response("404 Not Found", [("Content-Length", "0")])
            return [b""]
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")]
        if path == "/sandboxed":
            headers.append(("Content-Security-Policy", "sandbox allow-scripts"))
        start_response("200 OK", headers)
        return [PAGE_HTML]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ApiServer:
    """The API origin: whatever WSGI stack a case installs, wrapped in a recorder.

    A case calls :meth:`install` with its stack (normally ``CorsMiddleware(app, config)``
    around :meth:`echo_app`) and gets a token to put in the request's query string; only
    requests carrying that token count for the case, so a straggler from an earlier case
    can never satisfy a later one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stack: WSGIApplication | None = None
        self._server_log: list[Seen] = []
        self._app_log: list[Seen] = []
        self._tokens = itertools.count(1)
        self.server, self._thread = _serve(self._record)
        self.port: int = self.server.server_port

    # -- what a case installs ----------------------------------------------------------

    def install(self, stack: WSGIApplication) -> str:
        with self._lock:
            self._stack = stack
            return f"case{next(self._tokens)}"

    def echo_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The application inside the middleware: records the request and echoes it back.

        ``/page.html`` is an HTML page, so a case can load its page from the API origin
        itself (contract B13: the browser sends Origin on a page's own POST).
        """
        seen = _seen(environ)
        if seen.path == "/page.html":
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [PAGE_HTML]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode("utf-8", "replace") if length else ""
        with self._lock:
            self._app_log.append(seen)
        payload = {
            "method": seen.method,
            "path": seen.path,
            "cookie": seen.header("cookie"),
            "authorization": seen.header("authorization"),
            "body": body,
        }
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Cache-Control", "no-store"),
                *APP_RESPONSE_HEADERS,
            ],
        )
        return [json.dumps(payload).encode()]

    # -- what a case reads back --------------------------------------------------------

    def server_saw(self, token: str) -> list[Seen]:
        with self._lock:
            return [seen for seen in self._server_log if token in seen.query.split("&")]

    def app_saw(self, token: str) -> list[Seen]:
        with self._lock:
            return [seen for seen in self._app_log if token in seen.query.split("&")]

    # -- the recorder around the installed stack ---------------------------------------

    def _record(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = _seen(environ)
        captured: dict[str, Any] = {}

        def capturing_start_response(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = tuple(headers)
            return start_response(status, headers, exc_info)

        with self._lock:
            stack = self._stack
        error: str | None = None
        body: list[bytes] = []
        try:
            if stack is None:
                raise RuntimeError("no WSGI stack installed for this case")
            # Drained here so an exception raised while iterating the body is recorded
            # against this request too, not lost inside the server thread.
            iterable = stack(environ, capturing_start_response)
            try:
                body = list(iterable)
            finally:
                close = getattr(iterable, "close", None)
                if close is not None:
                    close()
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            captured = {"status": 500, "headers": (("Content-Type", "text/plain"),)}
            # exc_info lets us replace a status the stack may already have started.
            start_response("500 Internal Server Error", list(captured["headers"]), sys.exc_info())
            body = [error.encode()]
        with self._lock:
            self._server_log.append(
                Seen(
                    method=request.method,
                    path=request.path,
                    query=request.query,
                    headers=request.headers,
                    status=captured.get("status"),
                    response_headers=captured.get("headers", ()),
                    error=error,
                )
            )
        return body

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def require_authorization(app: WSGIApplication) -> WSGIApplication:
    """An authentication layer: 401 to any request without ``Authorization`` (preflights too).

    Installed *inside* the middleware, as IIS runs Windows authentication after the CORS
    module: the middleware must answer preflights itself before this layer runs (contract
    B8), and add its headers to this layer's 401 (contract B9).
    """

    def authenticate(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not environ.get("HTTP_AUTHORIZATION"):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Bearer realm="api"')],
            )
            return [b"authentication required"]
        return app(environ, start_response)

    return authenticate
