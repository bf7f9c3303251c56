"""The strict configuration of the hostile-request suites and the invariants every response keeps.

Shared by ``test_hostile_requests.py`` and ``test_properties.py`` (issue 7; contract B5-B15).
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from werkzeug.test import create_environ

__all__ = [
    "ALLOWED_HEADERS_CONFIGURED",
    "RecordingApp",
    "Response",
    "call_wsgi",
    "invariant_violations",
    "may_be_allowed",
    "raw_request",
    "serve",
    "strict_config",
]

ALLOWED_HEADERS_CONFIGURED = "content-type"
ALLOWED_METHODS_CONFIGURED = "GET,POST"
EXPOSED_HEADERS_CONFIGURED = "x-request-id"
MAX_AGE = "600"


def strict_config(fail_unlisted: bool) -> bytes:
    """``https://*.contoso.com`` with credentials, and an exact ``allowed="false"`` rule."""
    fail = "true" if fail_unlisted else "false"
    return f"""<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <system.webServer>
    <cors enabled="true" failUnlistedOrigins="{fail}">
      <add origin="https://*.contoso.com" allowCredentials="true" maxAge="{MAX_AGE}">
        <allowHeaders allowAllRequestedHeaders="true">
          <add header="{ALLOWED_HEADERS_CONFIGURED}" />
        </allowHeaders>
        <allowMethods><add method="GET" /><add method="POST" /></allowMethods>
        <exposeHeaders><add header="{EXPOSED_HEADERS_CONFIGURED}" /></exposeHeaders>
      </add>
      <add origin="https://blocked.contoso.com" allowed="false" />
    </cors>
  </system.webServer>
</configuration>
""".encode()


# Contract B5/B6: the wildcard matches one or more labels (ASCII letters, digits, '-', '_',
# single dots, no empty label) followed by ".contoso.com", compared case-sensitively, no port,
# at most 2,048 bytes in all.  This is an over-approximation oracle: whatever the middleware
# allows must match it, so a match outside it is a false allow.
_WILDCARD = re.compile(r"https://[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.contoso\.com")


def may_be_allowed(origin: str | None) -> bool:
    if origin is None or origin == "https://blocked.contoso.com":  # B4: exact rule wins
        return False
    return len(origin.encode("latin-1", "replace")) <= 2048 and bool(_WILDCARD.fullmatch(origin))


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_CTL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    app_called: bool = False
    raw: bytes = b""

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    def cors_headers(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.headers if k.lower().startswith("access-control-")]

    def vary_tokens(self) -> set[str]:
        return {t.strip().lower() for v in self.get_all("Vary") for t in v.split(",")}


def invariant_violations(resp: Response, origin: str | None) -> list[str]:
    """Issue 7's invariants: never a 5xx, never a false allow, never an echoed value holding a
    control character, space or comma, never more than one ACAO value; headers well-formed."""
    problems: list[str] = []
    if resp.status >= 500:
        problems.append(f"5xx status {resp.status}")
    for name, value in resp.headers:
        if not _TOKEN.fullmatch(name):
            problems.append(f"invalid header name {name!r}")
        if not _FIELD_VALUE.fullmatch(value):
            problems.append(f"invalid header value {name}: {value!r}")
    acao = resp.get_all("Access-Control-Allow-Origin")
    if len(acao) > 1 or any("," in v for v in acao):
        problems.append(f"more than one Access-Control-Allow-Origin value: {acao!r}")
    for value in acao:
        if _CTL.search(value) or " " in value or "," in value:
            problems.append(f"echoed origin holds a control character, space or comma: {value!r}")
        if value != origin:
            problems.append(f"Access-Control-Allow-Origin {value!r} is not the request's Origin")
        if not may_be_allowed(origin):
            problems.append(f"false allow of {origin!r}")
    for value in resp.get_all("Access-Control-Allow-Headers"):
        if re.search(r"[\x00-\x08\x0a-\x1f\x7f]", value):  # B14 lets tabs through, nothing else
            problems.append(f"Access-Control-Allow-Headers holds a control character: {value!r}")
    if resp.cors_headers() and not acao:
        problems.append(f"CORS headers without Access-Control-Allow-Origin: {resp.cors_headers()}")
    return problems


# ---------------------------------------------------------------------------------------------
# In-process WSGI


class RecordingApp:
    """A WSGI app that answers 200 ``app`` and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        self.calls += 1
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-App", "1")])
        return [b"app"]


def call_wsgi(
    app: Callable[..., Iterable[bytes]],
    recorder: RecordingApp,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    path: str = "/",
) -> Response:
    """Call a WSGI app with header values set verbatim in the environ (no validation, so CR/LF
    and NUL reach the middleware as a careless server would pass them).

    ``start_response`` is written out here, not werkzeug's ``run_wsgi_app`` (tests/support.py):
    werkzeug's ``Headers`` raises on a CR/LF in a response header and turns a bytes value into
    its ``repr``, which would hide exactly what the invariants below look for."""
    environ = create_environ(path=path, method=method, base_url="http://testserver")
    for name, value in (headers or {}).items():
        key = "HTTP_" + name.upper().replace("-", "_")
        environ[key] = value
    captured: dict[str, Any] = {}

    def start_response(
        status: str, response_headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        captured["status"] = status
        captured["headers"] = list(response_headers)
        return lambda data: None

    before = recorder.calls
    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    for name, value in captured["headers"]:
        assert isinstance(name, str) and isinstance(value, str), "PEP 3333: headers are str"
    return Response(
        status=int(captured["status"].split(" ", 1)[0]),
        headers=captured["headers"],
        body=body,
        app_called=recorder.calls > before,
    )


# ---------------------------------------------------------------------------------------------
# A real server on loopback


@dataclass
class Server:
    host: str
    port: int
    kind: str
    stop: Callable[[], None] = field(repr=False)


@contextmanager
def serve(app: Callable[..., Iterable[bytes]], kind: str) -> Iterator[Server]:
    """Run ``app`` on 127.0.0.1 in a thread with werkzeug's dev server or waitress."""
    if kind == "werkzeug":
        from werkzeug.serving import make_server

        srv = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        try:
            yield Server("127.0.0.1", srv.server_port, kind, srv.shutdown)
        finally:
            srv.shutdown()
            srv.server_close()
    elif kind == "waitress":
        from waitress.server import create_server

        wsrv: Any = create_server(app, host="127.0.0.1", port=0, threads=4)
        thread = threading.Thread(target=wsrv.run, daemon=True)
        thread.start()
        try:
            yield Server("127.0.0.1", wsrv.effective_port, kind, wsrv.close)
        finally:
            wsrv.close()
    else:
        raise ValueError(kind)


def raw_request(server: Server, head: bytes, timeout: float = 10.0) -> Response:
    """Send ``head`` (request line and header lines, CRLF-separated, without the final blank
    line) verbatim, then read the whole response (``Connection: close``)."""
    data = head + b"\r\nConnection: close\r\n\r\n"
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    head_bytes, _, body = raw.partition(b"\r\n\r\n")
    lines = head_bytes.split(b"\r\n")
    status_line = lines[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise AssertionError(f"no HTTP response: {raw[:200]!r}")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            headers.append(("<malformed>", line.decode("latin-1")))
            continue
        headers.append((name, value.strip(" \t")))
    return Response(status=int(parts[1]), headers=headers, body=body, raw=raw)
