"""``iiscors playground``: send a request from your own browser and compare with ``explain``.

Two loopback servers, two origins:

- the **API** (the bundled demo API, or ``--app module:attr``) wrapped in
  :class:`~iiscors.CorsMiddleware` with a web.config (default: the demo configuration);
- the **page** on a second port, so its ``fetch()`` calls to the API are cross-origin.  It
  serves the playground page (``playground_page.html/.js/.css``, no external resources) and
  three JSON endpoints next to it:

  - ``GET /__iiscors/explain?method=&path=&headers=&credentials=&body=`` — what the browser
    will send for that ``fetch()`` (simple, or preflight + actual request) and, for each request,
    the very :class:`~iiscors.policy.core.Decision` the middleware acts on, rendered by
    :func:`iiscors.policy.explanation.decision_json` (no second evaluator);
  - ``GET /__iiscors/config`` — the active web.config text, the API's address, the page origin;
  - ``GET /__iiscors/seen?after=N`` — the requests that reached the API server since N, with
    the status they got, so the page can tell "blocked by CORS" (the server answered, the
    browser refused to hand the response over) from "nothing reached the server".

Bad input to the explain endpoint is a 400 with a JSON ``error`` message, never a traceback.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import click
from werkzeug.serving import WSGIRequestHandler, make_server

from iiscors.config.diagnostics import ConfigError
from iiscors.config.load import Config
from iiscors.policy.core import CorsRequest, Decision, Outcome
from iiscors.policy.explanation import decision_json
from iiscors.serving.network import is_loopback
from iiscors.wsgi import (
    CorsMiddleware,
    ExcInfo,
    StartResponse,
    WSGIEnvironment,
)

ASSETS = Path(__file__).resolve().parent
#: The page's files, served from the package (names as the page requests them).
PAGE_FILES: Mapping[str, tuple[str, str]] = {
    "/": ("playground_page.html", "text/html; charset=utf-8"),
    "/playground.js": ("playground_page.js", "text/javascript; charset=utf-8"),
    "/playground.css": ("playground_page.css", "text/css; charset=utf-8"),
}
CREDENTIALS_MODES = ("omit", "same-origin", "include")
#: Limits on the explain endpoint's input (a person types these; anything larger is a mistake).
MAX_HEADER_LINES = 50
MAX_FIELD_CHARS = 8192
#: How much of a configuration file the page shows.
MAX_CONFIG_CHARS = 256 * 1024
#: How many API requests the ``seen`` log keeps.
SEEN_LIMIT = 200

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: fetch() upper-cases these methods whatever case they are typed in; others are kept as typed.
_NORMALIZED_METHODS = frozenset(("DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"))
#: fetch() refuses these methods outright (TypeError).
_FORBIDDEN_METHODS = frozenset(("CONNECT", "TRACE", "TRACK"))
_SAFELISTED_METHODS = frozenset(("GET", "HEAD", "POST"))
#: Fetch's forbidden request-header names: a page script cannot set them; fetch() drops them.
_FORBIDDEN_HEADERS = frozenset((
    "accept-charset", "accept-encoding", "access-control-request-headers",
    "access-control-request-method", "connection", "content-length", "cookie", "cookie2",
    "date", "dnt", "expect", "host", "keep-alive", "origin", "referer", "set-cookie", "te",
    "trailer", "transfer-encoding", "upgrade", "via"))
_FORBIDDEN_PREFIXES = ("proxy-", "sec-")
_SAFELISTED_CONTENT_TYPES = frozenset((
    "application/x-www-form-urlencoded", "multipart/form-data", "text/plain"))
_UNSAFE_BYTES = frozenset('"():<>?@[\\]{}\x7f') | {chr(c) for c in range(0x20) if c != 0x09}
_LANGUAGE_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                            " *,-.;=")
_SIMPLE_RANGE = re.compile(r"bytes=(?:[0-9]+-[0-9]*)")


class PlaygroundInputError(ValueError):
    """The explain endpoint's input is not a request ``fetch()`` would send (answered 400)."""


# -- what the browser sends ------------------------------------------------------------------


@dataclass(frozen=True)
class BrowserRequest:
    """What Chromium sends for one ``fetch()`` (Fetch standard, CORS protocol).

    ``preflight_headers`` is the Access-Control-Request-Headers value (lower-cased, sorted,
    comma-joined as Chromium sends it) or None when no header needs permission.
    """

    method: str
    headers: tuple[tuple[str, str], ...]
    dropped: tuple[str, ...]
    needs_preflight: bool
    preflight_headers: str | None
    why_preflight: tuple[str, ...] = field(default=())


def parse_header_lines(text: str) -> list[tuple[str, str]]:
    """``Name: value`` lines (blank lines ignored) as fetch() would accept them.

    :raises PlaygroundInputError: a line has no colon, an invalid name or an unsendable value.
    """
    headers: list[tuple[str, str]] = []
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_HEADER_LINES:
        raise PlaygroundInputError(f"at most {MAX_HEADER_LINES} header lines")
    for number, line in enumerate(lines, 1):
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon:
            raise PlaygroundInputError(
                f"header line {number} has no colon; write it as Name: value")
        if not _TOKEN.fullmatch(name):
            raise PlaygroundInputError(
                f"header line {number}: {name!r} is not a valid header name (fetch() throws "
                "a TypeError)")
        value = value.strip(" \t")
        if any(ord(c) > 0xFF for c in value) or any(c in "\0\r\n" for c in value):
            raise PlaygroundInputError(
                f"header line {number}: the value of {name} has a character fetch() cannot "
                "send (NUL, CR, LF or beyond ISO-8859-1)")
        headers.append((name, value))
    return headers


def normalize_method(method: str) -> str:
    """The method as fetch() sends it.

    :raises PlaygroundInputError: not a token, or one fetch() refuses.
    """
    if not _TOKEN.fullmatch(method):
        raise PlaygroundInputError(f"{method!r} is not a valid method (fetch() throws a "
                                   "TypeError)")
    upper = method.upper()
    if upper in _FORBIDDEN_METHODS:
        raise PlaygroundInputError(f"fetch() refuses the method {upper} (a forbidden method)")
    return upper if upper in _NORMALIZED_METHODS else method


def _forbidden(name: str) -> bool:
    lower = name.lower()
    return lower in _FORBIDDEN_HEADERS or lower.startswith(_FORBIDDEN_PREFIXES)


def _safelisted(name: str, value: str) -> bool:
    """The Fetch standard's CORS-safelisted request-header (name, value)."""
    if len(value.encode("latin-1")) > 128:
        return False
    lower = name.lower()
    if lower == "accept":
        return not any(c in _UNSAFE_BYTES for c in value)
    if lower in ("accept-language", "content-language"):
        return all(c in _LANGUAGE_CHARS for c in value)
    if lower == "content-type":
        if any(c in _UNSAFE_BYTES for c in value):
            return False
        essence = value.split(";", 1)[0].strip(" \t").lower()
        return essence in _SAFELISTED_CONTENT_TYPES
    if lower == "range":
        return _SIMPLE_RANGE.fullmatch(value) is not None
    return False


def browser_request(method: str, headers: Iterable[tuple[str, str]]) -> BrowserRequest:
    """What Chromium sends for ``fetch(url, {method, headers})`` in ``cors`` mode.

    :raises PlaygroundInputError: the method is one fetch() refuses.
    """
    sent_method = normalize_method(method)
    combined: dict[str, tuple[str, str]] = {}
    dropped: list[str] = []
    for name, value in headers:
        if _forbidden(name):
            dropped.append(name)
            continue
        key = name.lower()
        if key in combined:  # Headers.append() joins repeated names with ", "
            first, previous = combined[key]
            combined[key] = (first, f"{previous}, {value}")
        else:
            combined[key] = (name, value)
    sent = tuple(combined.values())
    why: list[str] = []
    if sent_method not in _SAFELISTED_METHODS:
        why.append(f"{sent_method} is not a CORS-safelisted method (GET, HEAD, POST)")
    unsafe = {name.lower() for name, value in sent if not _safelisted(name, value)}
    safelisted_size = sum(len(name) + len(value) for name, value in sent
                          if name.lower() not in unsafe)
    if safelisted_size > 1024:
        unsafe = {name.lower() for name, _ in sent}
        why.append("the safelisted headers' values add up to more than 1024 bytes")
    for name in sorted(unsafe):
        why.append(f"{name} is not a CORS-safelisted request header (with this value)")
    return BrowserRequest(
        method=sent_method, headers=sent, dropped=tuple(dropped),
        needs_preflight=bool(why),
        preflight_headers=",".join(sorted(unsafe)) or None,
        why_preflight=tuple(why))


# -- explain ---------------------------------------------------------------------------------


def _header(decision: Decision, name: str) -> str | None:
    for key, value in decision.headers:
        if key.lower() == name.lower():
            return value
    return None


def browser_notes(decision: Decision, plan: BrowserRequest, credentials: str,
                  preflight: bool) -> list[str]:
    """Checks the browser makes on top of what the middleware decides (hints, not a verdict)."""
    if decision.outcome is not Outcome.ALLOWED:
        return []
    notes: list[str] = []
    allow_origin = _header(decision, "Access-Control-Allow-Origin")
    if credentials == "include":
        if allow_origin == "*":
            notes.append("credentials: include — the browser refuses "
                         "Access-Control-Allow-Origin: * for a credentialed request")
        if _header(decision, "Access-Control-Allow-Credentials") != "true":
            notes.append("credentials: include — the browser requires "
                         "Access-Control-Allow-Credentials: true, which is not sent")
    if preflight:
        methods = _header(decision, "Access-Control-Allow-Methods")
        listed = [m.strip() for m in (methods or "").split(",") if m.strip()]
        wildcard = "*" in listed and credentials != "include"
        if (plan.method not in _SAFELISTED_METHODS and plan.method not in listed
                and not wildcard):
            notes.append(f"the browser requires {plan.method} in "
                         "Access-Control-Allow-Methods, which does not list it")
        allowed = {h.strip().lower() for h in
                   (_header(decision, "Access-Control-Allow-Headers") or "").split(",")}
        star = "*" in allowed and credentials != "include"
        for name in (plan.preflight_headers or "").split(","):
            if name and name not in allowed and not (star and name != "authorization"):
                notes.append(f"the browser requires {name} in Access-Control-Allow-Headers, "
                             "which does not list it")
    return notes


def explain_fetch(config: Config, origin: str, method: str, path: str, headers: str,
                  credentials: str, body: str = "") -> dict[str, Any]:
    """The explain endpoint's JSON: the browser's requests for one ``fetch()`` and, for each,
    :func:`iiscors.policy.explanation.decision_json` of the decision the middleware acts on.

    :raises PlaygroundInputError: the input is not a request fetch() would send.
    """
    for label, value in (("method", method), ("path", path), ("headers", headers),
                         ("body", body)):
        if len(value) > MAX_FIELD_CHARS:
            raise PlaygroundInputError(f"{label} is longer than {MAX_FIELD_CHARS} characters")
    if credentials not in CREDENTIALS_MODES:
        raise PlaygroundInputError(
            f"credentials must be one of {', '.join(CREDENTIALS_MODES)}, not {credentials!r}")
    if not path.startswith("/") or path.startswith("//"):
        raise PlaygroundInputError("path must start with a single / (e.g. /api/items)")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in path):
        raise PlaygroundInputError("path must not contain spaces or control characters")
    plan = browser_request(method, parse_header_lines(headers))
    if body and plan.method in ("GET", "HEAD"):
        raise PlaygroundInputError(f"a {plan.method} request cannot have a body (fetch() "
                                   "throws a TypeError)")
    path_info = path.split("?", 1)[0].split("#", 1)[0]
    scope = config.scope_of(path_info)
    preflight_json: dict[str, Any] | None = None
    preflight_allowed = True
    if plan.needs_preflight:
        request = CorsRequest(method="OPTIONS", origin=origin, request_method=plan.method,
                              request_headers=plan.preflight_headers, path=path_info)
        decision = config.decide(request)
        preflight_json = decision_json(decision, request, scope)
        preflight_json["browser_notes"] = browser_notes(decision, plan, credentials, True)
        preflight_allowed = (decision.outcome is Outcome.ALLOWED
                             and not preflight_json["browser_notes"])
    request = CorsRequest(method=plan.method, origin=origin, path=path_info)
    decision = config.decide(request)
    actual_json = decision_json(decision, request, scope)
    actual_json["browser_notes"] = browser_notes(decision, plan, credentials, False)
    return {
        "origin": origin,
        "credentials": credentials,
        "method": plan.method,
        "path": path,
        "simple": not plan.needs_preflight,
        "why_preflight": list(plan.why_preflight),
        "sent_headers": [[name, value] for name, value in plan.headers],
        "dropped_headers": list(plan.dropped),
        "preflight": preflight_json,
        "actual_sent": preflight_allowed,
        "actual": actual_json,
    }


# -- the servers' applications ---------------------------------------------------------------


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
    """The API server's application: the CORS middleware, with a log of what reached it."""

    def __init__(self, middleware: CorsMiddleware) -> None:
        self.middleware = middleware
        self._lock = threading.Lock()
        self._seen: deque[SeenRequest] = deque(maxlen=SEEN_LIMIT)
        self._seq = 0

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
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
    """

    def __init__(self, api: RecordingApi, api_base: str) -> None:
        self.api = api
        self.api_base = api_base

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

    def config_json(self, environ: WSGIEnvironment) -> dict[str, Any]:
        """The active configuration's files (as text), warnings, the API and page origins."""
        middleware = self.api.middleware
        middleware.check_reload()
        config = middleware.config
        files = []
        for path in config.paths:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                text = f"(cannot read {path}: {exc.strerror})"
            if len(text) > MAX_CONFIG_CHARS:
                text = text[:MAX_CONFIG_CHARS] + "\n… (cut)"
            files.append({"name": str(path), "text": text})
        if not files:
            files = [{"name": name, "text": "(given as bytes; no file to show)"}
                     for name in config.files]
        return {"api": self.api_base, "origin": self.page_origin(environ), "files": files,
                "warnings": [str(d) for d in config.diagnostics],
                "reload": middleware.reload}


# -- running it ------------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without the access log (for tests)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def _base(host: str, port: int) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


class Playground:
    """The two servers, started in threads (the command runs them; tests may too).

    :param middleware: the API: an application wrapped in :class:`CorsMiddleware`.
    :param host: the interface both servers listen on.
    :param api_port: the API's port (0: any free port).
    :param page_port: the page's port (0: any free port).
    """

    def __init__(self, middleware: CorsMiddleware, host: str = "127.0.0.1",
                 api_port: int = 0, page_port: int = 0, *, quiet: bool = False) -> None:
        handler: type[WSGIRequestHandler] = _QuietHandler if quiet else WSGIRequestHandler
        self.api = RecordingApi(middleware)
        self.api_server = make_server(host, api_port, self.api, threaded=True,
                                      request_handler=handler)
        try:
            self.api_url = _base(host, self.api_server.server_port)
            self.page = PlaygroundPage(self.api, self.api_url)
            self.page_server = make_server(host, page_port, self.page, threaded=True,
                                           request_handler=handler)
        except BaseException:
            self.api_server.server_close()
            raise
        self.page_url = _base(host, self.page_server.server_port) + "/"
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for server in (self.api_server, self.page_server):
            thread = threading.Thread(target=server.serve_forever, daemon=True,
                                      name="iiscors-playground")
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        for server in (self.api_server, self.page_server):
            if self._threads:
                server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)


#: The configuration used when none is given: lets the page's http origin in, refuses it on
#: /api/me, so both outcomes can be tried at once.
PLAYGROUND_CONFIG = Path(__file__).resolve().parent / "demo" / "playground.config"


def build_api(config: str | None, app: str | None) -> tuple[CorsMiddleware, str]:
    """The API the playground serves: the demo (or ``app``) behind ``config`` (or the
    playground's own configuration)."""
    from iiscors.serving.app import build

    return build(config or str(PLAYGROUND_CONFIG), None, app, None)


@click.command()
@click.argument("config", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--app", "app", metavar="MODULE:ATTRIBUTE",
              help="The WSGI application to wrap [default: the demo API].")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface both servers listen on (loopback unless you mean otherwise).")
@click.option("--api-port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="The API's port (0: any free port).")
@click.option("--page-port", type=click.IntRange(0, 65535), default=8081, show_default=True,
              help="The playground page's port (0: any free port).")
def playground(config: str | None, app: str | None, host: str, api_port: int,
               page_port: int) -> None:
    """Send requests to the API from your own browser and see, side by side, what the
    browser concluded and what `iiscors explain` says (rule, line, reason).

    \b
      iiscors playground                         # the demo API and configuration
      iiscors playground web.config --app myproject.wsgi:application
    """
    try:
        middleware, description = build_api(config, app)
    except ConfigError as exc:
        for diagnostic in exc.diagnostics:
            click.echo(str(diagnostic), err=True)
        sys.exit(1)
    for diagnostic in middleware.config.diagnostics:
        click.echo(str(diagnostic), err=True)
    try:
        running = Playground(middleware, host, api_port, page_port)
    except OSError as exc:
        click.echo(f"iiscors: cannot listen on {host}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    page_origin = running.page_url.rstrip("/")
    click.echo(f"iiscors: API:        {running.api_url}/  ({description})")
    click.echo(f"iiscors: playground: {running.page_url}  (open it in your browser; its "
               f"origin is {page_origin})")
    if config is None:
        click.echo(f"iiscors: using {PLAYGROUND_CONFIG}: {page_origin} may call /api/items "
                   "(allowed) and is refused on /api/me (403). Pass your own web.config to try "
                   "it instead.")
    if not is_loopback(host):
        click.echo("iiscors: warning: listening beyond loopback; this is a development "
                   "server", err=True)
    sys.stdout.flush()
    running.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.close()
