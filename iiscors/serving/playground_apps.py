"""The playground's two WSGI applications: the API that records what reaches it, and the page.

- :class:`RecordingApi`: the API server's application, the CORS middleware with a log of the
  requests that reached it and the status each got, so the page can tell "blocked by CORS" (the
  server answered, the browser refused to hand the response over) from "nothing reached the
  server";
- :class:`PlaygroundPage`: the page server's application, the page (``playground_page.html``,
  ``.js``, ``.css``, no external resources) and three JSON endpoints next to it:

  - ``GET /__iiscors/explain?method=&path=&headers=&credentials=&body=``
    (:mod:`iiscors.serving.playground_explain`);
  - ``GET /__iiscors/config``: the active web.config text (its CORS sections; every other value
    masked by :mod:`iiscors.serving.redact`), the API's address, the page origin;
  - ``GET /__iiscors/seen?after=N``: the requests that reached the API server since N.

:mod:`iiscors.serving.playground` runs them, each on its own loopback port.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from iiscors.config.files import read_regular_file
from iiscors.serving.hostguard import AllowedHosts, misdirected
from iiscors.serving.playground_explain import PlaygroundInputError, explain_fetch
from iiscors.serving.redact import redact_config_text
from iiscors.wsgi import CorsMiddleware, ExcInfo, StartResponse, WSGIEnvironment

ASSETS = Path(__file__).resolve().parent
#: The page's files, served from the package (names as the page requests them).
PAGE_FILES: Mapping[str, tuple[str, str]] = {
    "/": ("playground_page.html", "text/html; charset=utf-8"),
    "/playground.js": ("playground_page.js", "text/javascript; charset=utf-8"),
    "/playground.css": ("playground_page.css", "text/css; charset=utf-8"),
}
#: How much of a configuration file the page shows.
MAX_CONFIG_BYTES = 256 * 1024
#: How many API requests the ``seen`` log keeps.
SEEN_LIMIT = 200


@dataclass(frozen=True)
class SeenRequest:
    """One request as it reached the API server, and the status it was answered."""

    seq: int
    method: str
    path: str
    origin: str | None
    preflight: bool
    status: int | None

    def json(self) -> dict[str, Any]:
        return {"seq": self.seq, "method": self.method, "path": self.path,
                "origin": self.origin, "preflight": self.preflight, "status": self.status}


class RecordingApi:
    """The API server's application: the CORS middleware, with a log of what reached it.

    :param middleware: the API: an application wrapped in :class:`CorsMiddleware`.
    :param allowed_hosts: names besides loopback the server may be addressed by
        (:class:`~iiscors.serving.hostguard.AllowedHosts`); any other Host gets 421.
    """

    def __init__(self, middleware: CorsMiddleware, allowed_hosts: Iterable[str] = ()) -> None:
        self.middleware = middleware
        self.hosts = AllowedHosts(allowed_hosts)
        self._lock = threading.Lock()
        self._seen: deque[SeenRequest] = deque(maxlen=SEEN_LIMIT)
        self._seq = 0

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        if not self.hosts.permits_environ(environ):
            return misdirected(start_response)  # DNS rebinding: not logged, not answered
        method = str(environ.get("REQUEST_METHOD", "GET"))
        with self._lock:
            self._seq += 1
            seq = self._seq
        status: list[int] = []

        def recording(status_line: str, headers: list[tuple[str, str]],
                      exc_info: ExcInfo | None = None) -> Callable[[bytes], object]:
            status[:] = [int(status_line.split(" ", 1)[0])]
            return start_response(status_line, headers, exc_info)

        try:
            return self.middleware(environ, recording)
        finally:
            record = SeenRequest(
                seq=seq, method=method, path=str(environ.get("PATH_INFO", "")),
                origin=environ.get("HTTP_ORIGIN"),
                preflight=method == "OPTIONS"
                and bool(environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")),
                status=status[0] if status else None)
            with self._lock:
                self._seen.append(record)

    def seen(self, after: int) -> tuple[int, list[SeenRequest]]:
        """The last sequence number handed out, and the requests logged after ``after``."""
        with self._lock:
            return self._seq, sorted((r for r in self._seen if r.seq > after),
                                     key=lambda r: r.seq)


def _json_response(start_response: StartResponse, status: str,
                   payload: Mapping[str, Any]) -> list[bytes]:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    start_response(status, [("Content-Type", "application/json; charset=utf-8"),
                            ("Content-Length", str(len(body))), ("Cache-Control", "no-store"),
                            ("X-Content-Type-Options", "nosniff")])
    return [body]


class PlaygroundPage:
    """The page server's application: the page, its assets, and the JSON endpoints.

    :param api: the API server's application (for its configuration and its request log).
    :param api_base: the API's address as the page's script fetches it
        (``http://127.0.0.1:8080``).
    :param allowed_hosts: names besides loopback the server may be addressed by; any other
        Host gets 421 on every path (:mod:`iiscors.serving.hostguard`).
    """

    def __init__(self, api: RecordingApi, api_base: str,
                 allowed_hosts: Iterable[str] = ()) -> None:
        self.api = api
        self.api_base = api_base
        self.hosts = AllowedHosts(allowed_hosts)

    def csp(self) -> str:
        return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                f"connect-src 'self' {self.api_base}; base-uri 'none'; form-action 'none'; "
                "frame-ancestors 'none'")

    @staticmethod
    def page_origin(environ: WSGIEnvironment) -> str:
        """The origin the browser loaded the page from (and so sends as Origin)."""
        scheme = str(environ.get("wsgi.url_scheme", "http"))
        host = environ.get("HTTP_HOST")
        if not host:
            host = f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT')}"
        return f"{scheme}://{host}"

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        if not self.hosts.permits_environ(environ):
            return misdirected(start_response)  # DNS rebinding: every endpoint, the page too
        path = str(environ.get("PATH_INFO", "") or "/")
        method = str(environ.get("REQUEST_METHOD", "GET"))
        if method not in ("GET", "HEAD"):
            return _json_response(start_response, "405 Method Not Allowed",
                                  {"error": "only GET is served here"})
        try:
            if path in PAGE_FILES:
                return self._asset(start_response, *PAGE_FILES[path])
            query = parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
            if path == "/__iiscors/explain":
                return self._explain(environ, start_response, query)
            if path == "/__iiscors/config":
                return _json_response(start_response, "200 OK", self.config_json(environ))
            if path == "/__iiscors/seen":
                return self._seen(start_response, query)
        except PlaygroundInputError as exc:
            return _json_response(start_response, "400 Bad Request", {"error": str(exc)})
        return _json_response(start_response, "404 Not Found", {"error": "not found"})

    def _asset(self, start_response: StartResponse, name: str, mimetype: str) -> list[bytes]:
        body = (ASSETS / name).read_bytes()
        start_response("200 OK", [("Content-Type", mimetype), ("Content-Length", str(len(body))),
                                  ("Cache-Control", "no-store"),
                                  ("X-Content-Type-Options", "nosniff"),
                                  ("Content-Security-Policy", self.csp()),
                                  ("Referrer-Policy", "no-referrer")])
        return [body]

    @staticmethod
    def _one(query: Mapping[str, list[str]], name: str, default: str | None = None) -> str:
        values = query.get(name)
        if not values:
            if default is None:
                raise PlaygroundInputError(f"missing query parameter {name!r}")
            return default
        if len(values) > 1:
            raise PlaygroundInputError(f"query parameter {name!r} given more than once")
        return values[0]

    def _explain(self, environ: WSGIEnvironment, start_response: StartResponse,
                 query: Mapping[str, list[str]]) -> list[bytes]:
        unknown = sorted(set(query) - {"method", "path", "headers", "credentials", "body"})
        if unknown:
            raise PlaygroundInputError(f"unknown query parameter {unknown[0]!r}")
        middleware = self.api.middleware
        middleware.check_reload()  # explain the configuration the next API request will use
        payload = explain_fetch(
            middleware.config, self.page_origin(environ),
            method=self._one(query, "method"), path=self._one(query, "path"),
            headers=self._one(query, "headers", ""),
            credentials=self._one(query, "credentials", "same-origin"),
            body=self._one(query, "body", ""))
        return _json_response(start_response, "200 OK", payload)

    def _seen(self, start_response: StartResponse,
              query: Mapping[str, list[str]]) -> list[bytes]:
        after_text = self._one(query, "after", "0")
        if not after_text.isdigit() or len(after_text) > 18:
            raise PlaygroundInputError("after must be a non-negative integer")
        last, seen = self.api.seen(int(after_text))
        return _json_response(start_response, "200 OK",
                              {"last": last, "requests": [r.json() for r in seen]})

    @staticmethod
    def _file_text(path: Path) -> str:
        """A configuration file as the page shows it: at most MAX_CONFIG_BYTES, redacted."""
        try:
            data = read_regular_file(path, MAX_CONFIG_BYTES + 1)  # never blocks on a FIFO
        except OSError as exc:
            return f"(cannot read {path}: {exc.strerror or exc})"
        text = data[:MAX_CONFIG_BYTES].decode("utf-8", errors="replace")
        # Only the CORS sections as written: a connection string's password is no business of
        # the page (issue 12 item 9).  Cut first: a cut token is masked (fails closed).
        shown = redact_config_text(text)
        return shown + "\n… (cut)" if len(data) > MAX_CONFIG_BYTES else shown

    def config_json(self, environ: WSGIEnvironment) -> dict[str, Any]:
        """The active configuration's files (as text, redacted), warnings, the API and page
        origins."""
        middleware = self.api.middleware
        middleware.check_reload()
        config = middleware.config
        files = [{"name": str(path), "text": self._file_text(path)} for path in config.paths]
        if not files:
            files = [{"name": name, "text": "(given as bytes; no file to show)"}
                     for name in config.files]
        return {"api": self.api_base, "origin": self.page_origin(environ), "files": files,
                "warnings": [str(d) for d in config.diagnostics],
                "reload": middleware.reload}

