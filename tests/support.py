"""Shared test helpers: the one place test modules share code (no test module imports another).

Every room folder imports this module as ``support`` (pyproject: ``pythonpath = ["tests"]``).

- paths: :data:`ROOT`, :data:`SAMPLES`, :data:`CORPUS`;
- :func:`web_config`: a whole web.config from named parts;
- WSGI: :func:`environ_for` is werkzeug's ``create_environ``, :func:`call` and
  :func:`call_environ` run an app with werkzeug's ``run_wsgi_app``; :class:`Recorder` is an
  app that records its calls;
- ASGI: :func:`asgi_scope`, :func:`call_asgi` and :func:`asgi_response` (the same inside a
  running event loop), which pass header names exactly as given
  (never lower-cased here: the ASGI spec does not require lower-case names, so the middleware
  must not depend on them);
- both adapters: :class:`Req`, :class:`App`, :class:`Adapter`, :data:`WSGI`, :data:`ASGI`,
  :data:`ADAPTERS`, for a test that runs the same request through either;
- real servers on 127.0.0.1: :func:`running` (a :class:`Server`), :func:`request`,
  :func:`eventually`, :func:`free_port`, :func:`python`, :func:`serve_command`.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import create_environ, run_wsgi_app

from iiscors import CorsMiddleware as WsgiCors
from iiscors import check_config, load_config
from iiscors.asgi import CorsMiddleware as AsgiCors

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_configs"
#: ../shared beside the clone, as on the developers' machines and in CI
CORPUS = ROOT.parent / "shared" / "corpus" / "webconfigs"

HeaderList = list[tuple[str, str]]
#: request headers: a mapping, or pairs (a name may repeat, as a browser may send it twice)
RequestHeaders = Mapping[str, str] | Iterable[tuple[str, str]]


def web_config(cors: str = "", *, server: str = "", outside: str = "") -> bytes:
    """A whole web.config.

    :param cors: the ``<cors>`` section (or any content) of ``<system.webServer>``;
    :param server: more ``<system.webServer>`` content after it (``<httpProtocol>``,
        ``<modules>``);
    :param outside: content after ``<system.webServer>``, inside ``<configuration>``
        (``<location>`` elements, a misplaced ``<cors>``).
    """
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n<system.webServer>\n'
            f"{cors}\n{server}\n</system.webServer>\n{outside}\n</configuration>\n").encode()


@dataclass
class Response:
    """What an adapter answered; ``app_called`` is known when :class:`Adapter` ran it."""

    status: int
    headers: HeaderList
    body: bytes
    app_called: bool | None = None

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def cors(self) -> dict[str, str]:
        """Access-Control-* and Vary headers, one value each (asserted unique)."""
        found: dict[str, str] = {}
        for name, value in self.headers:
            if name.lower().startswith("access-control-") or name.lower() == "vary":
                assert name not in found, f"duplicate header {name}"
                found[name] = value
        return found

    def cors_and_custom(self) -> HeaderList:
        """Access-Control-*, Vary and X-* headers (customHeaders), in order, names lower-cased."""
        return [(n.lower(), v) for n, v in self.headers
                if n.lower().startswith(("access-control-", "vary", "x-"))]


# -- WSGI ----------------------------------------------------------------------------------------

def environ_for(method: str = "GET", path: str = "/", headers: RequestHeaders | None = None,
                *, host: str = "api.contoso.com", scheme: str = "https",
                path_info: str | None = None) -> dict[str, Any]:
    """A WSGI environ from werkzeug's ``create_environ``.

    A header given twice becomes one value joined with ``", "``, as WSGI servers join it.
    ``path`` is text (werkzeug puts its UTF-8 bytes into ``PATH_INFO`` as latin-1 characters,
    PEP 3333); ``path_info`` sets ``PATH_INFO`` verbatim, for bytes that are not UTF-8.
    """
    environ: dict[str, Any] = create_environ(
        path, f"{scheme}://{host}", method=method, headers=list(_pairs(headers)))
    if path_info is not None:
        environ["PATH_INFO"] = path_info
    return environ


def _pairs(headers: RequestHeaders | None) -> Iterable[tuple[str, str]]:
    if headers is None:
        return ()
    return headers.items() if isinstance(headers, Mapping) else headers


def call_environ(app: Any, environ: dict[str, Any]) -> Response:
    """Run a WSGI app on ``environ`` (werkzeug's ``run_wsgi_app``, body read and closed)."""
    body, status, headers = run_wsgi_app(app, environ, buffered=True)
    return Response(int(status.split()[0]), headers.to_wsgi_list(), b"".join(body))


def call(app: Any, method: str = "GET", path: str = "/", headers: RequestHeaders | None = None,
         **environ: Any) -> Response:
    """One request to a WSGI app; ``environ`` takes :func:`environ_for`'s keywords."""
    return call_environ(app, environ_for(method, path, headers, **environ))


@dataclass
class Recorder:
    """A WSGI app that records its calls and answers with a fixed status and headers."""

    status: str = "200 OK"
    headers: HeaderList = field(default_factory=lambda: [("Content-Type", "text/plain")])
    body: bytes = b"app body"
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.calls.append(environ)
        start_response(self.status, list(self.headers))
        return [self.body]


def record_calls(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[Any]:
    """Wrap ``owner.name`` so that each call's first argument is recorded (the real one still
    answers); the list they are recorded in."""
    real = getattr(owner, name)
    asked: list[Any] = []

    def recording(first: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(first)
        return real(first, *args, **kwargs)

    monkeypatch.setattr(owner, name, recording)
    return asked


# -- ASGI ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Req:
    """One request, for either adapter."""

    method: str = "GET"
    path: str = "/"
    headers: tuple[tuple[str, str], ...] = ()
    host: str = "api.contoso.com"
    scheme: str = "https"


def asgi_scope(req: Req) -> dict[str, Any]:
    """An ASGI ``http`` scope for ``req``: header names encoded exactly as given."""
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": req.method, "scheme": req.scheme, "path": req.path,
            "raw_path": req.path.encode("utf-8"), "root_path": "", "query_string": b"",
            "headers": [(b"host", req.host.encode("latin-1")), *(
                (n.encode("latin-1"), v.encode("latin-1")) for n, v in req.headers)]}


async def asgi_response(app: Any, scope: dict[str, Any]) -> Response:
    """Run an ASGI app on ``scope`` with an empty request body, inside a running event loop;
    the start message's headers come back decoded as latin-1, names as the app sent them."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)
    start = sent[0]
    assert start["type"] == "http.response.start"
    headers = [(bytes(n).decode("latin-1"), bytes(v).decode("latin-1"))
               for n, v in start["headers"]]
    return Response(start["status"], headers, b"".join(m.get("body", b"") for m in sent[1:]))


def call_asgi(app: Any, scope: dict[str, Any]) -> Response:
    """:func:`asgi_response` in an event loop of its own."""
    return asyncio.run(asgi_response(app, scope))


# -- both adapters -------------------------------------------------------------------------------

@dataclass
class App:
    """What the wrapped application answers: status, headers; counts its calls."""

    status: int = 200
    headers: HeaderList = field(default_factory=lambda: [("Content-Type", "text/plain")])
    body: bytes = b"app body"
    calls: int = 0

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.calls += 1
        start_response(f"{self.status} Status", list(self.headers))
        return [self.body]

    async def asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.calls += 1
        await send({"type": "http.response.start", "status": self.status,
                    "headers": [(n.encode("latin-1"), v.encode("latin-1"))
                                for n, v in self.headers]})
        await send({"type": "http.response.body", "body": self.body})


@dataclass(frozen=True)
class Adapter:
    """One of the two middlewares, with the app and driver of its protocol."""

    name: str
    middleware: Callable[..., Any]
    app: Callable[[App], Any]
    run: Callable[[Any, Req], Response]

    def build(self, config: Any, spec: App | None = None, **options: Any) -> tuple[Any, App]:
        spec = spec if spec is not None else App()
        return self.middleware(self.app(spec), config, **options), spec

    def call(self, middleware: Any, spec: App, req: Req) -> Response:
        before = spec.calls
        response = self.run(middleware, req)
        response.app_called = spec.calls > before
        return response


def _run_wsgi(middleware: Any, req: Req) -> Response:
    return call(middleware, req.method, req.path, req.headers, host=req.host, scheme=req.scheme)


def _run_asgi(middleware: Any, req: Req) -> Response:
    return call_asgi(middleware, asgi_scope(req))


WSGI = Adapter("wsgi", WsgiCors, lambda spec: spec.wsgi, _run_wsgi)
ASGI = Adapter("asgi", AsgiCors, lambda spec: spec.asgi, _run_asgi)
ADAPTERS = [pytest.param(WSGI, id="wsgi"), pytest.param(ASGI, id="asgi")]


# -- real servers on 127.0.0.1 -------------------------------------------------------------------

#: the ready line of ``iiscors serve`` (and of this project's test servers)
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)/")


@dataclass
class Server:
    """A running server process and everything it printed so far."""

    process: subprocess.Popen[str]
    lines: queue.Queue[str]
    output: list[str] = field(default_factory=list)
    #: the port it was told to listen on (None: read from its ``listening on`` line)
    given_port: int | None = None

    def text(self) -> str:
        self.collect()
        return "".join(self.output)

    def collect(self, wait: float = 0.0) -> None:
        """Move what the process printed into :attr:`output` (waiting up to ``wait`` s)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                self.output.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())
                                                  if wait else 0))
            except queue.Empty:
                return

    def wait_for(self, needle: str, timeout: float = 20) -> str:
        """The first line containing ``needle``, waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.output:
                if needle in line:
                    return line
            if self.process.poll() is not None and self.lines.empty():
                raise AssertionError(f"exited {self.process.returncode}: {''.join(self.output)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} in {timeout}s: {''.join(self.output)}")
            with suppress(queue.Empty):
                self.output.append(self.lines.get(timeout=0.1))

    @property
    def port(self) -> int:
        if self.given_port is not None:
            return self.given_port
        found = LISTENING.search(self.wait_for("listening on"))
        assert found, self.output
        return int(found.group(1))


def replace_file(path: Path, data: bytes) -> None:
    """Write ``path`` as a deploy does: a new file renamed over the old one, so that a reload
    thread never reads it half-written."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def free_port() -> int:
    """A port of 127.0.0.1 free right now (for servers that cannot be told to pick one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pump(stream: Iterable[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def _answers(port: int) -> bool:
    try:
        request(port, "GET", "/", timeout=2)
    except OSError:
        return False
    return True


def _wait_ready(server: Server, ready: str, timeout: float) -> None:
    """Until the ready line is printed or, for a server given its port, until it answers."""
    if server.given_port is None:
        server.wait_for(ready, timeout)
        return
    deadline = time.monotonic() + timeout
    while not _answers(server.given_port):
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the server did not start: {server.text()}")
        time.sleep(0.2)


@contextmanager
def running(args: list[str], port: int | None = None, *, cwd: Path | None = None,
            ready: str = "listening on", env: dict[str, str] | None = None,
            timeout: float = 60, stderr_to: Path | None = None) -> Iterator[Server]:
    """Start a server process and wait until it is ready: until it prints a line containing
    ``ready`` or, when it was given ``port``, until it answers HTTP there.  Always stop it after
    (SIGTERM, then SIGKILL) and close its pipe.  Its standard error is read with its standard
    output, or written to ``stderr_to``.  ``PYTHONPATH`` starts with this checkout, so that
    the iiscors under test is the one a server imports."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    with (open(stderr_to, "w") if stderr_to is not None else nullcontext()) as errors:
        process = subprocess.Popen(
            args, cwd=cwd, stdout=subprocess.PIPE, text=True,
            stderr=errors if errors is not None else subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path, **(env or {})})
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    reader = threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True)
    reader.start()
    server = Server(process, lines, given_port=port)
    try:
        _wait_ready(server, ready, timeout)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        reader.join(5)
        process.stdout.close()


def request(port: int, method: str = "GET", path: str = "/",
            headers: Mapping[str, str] | None = None, body: bytes | None = None,
            timeout: float = 30) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One HTTP request to 127.0.0.1:``port`` over a fresh connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def eventually(check: Callable[[], bool], timeout: float = 15) -> bool:
    """Whether ``check()`` becomes true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def python(*args: str) -> list[str]:
    """A command line that runs this interpreter."""
    return [sys.executable, *args]


def serve_command(*args: str) -> list[str]:
    """``iiscors serve`` on a port the system picks (read it from :attr:`Server.port`)."""
    return python("-m", "iiscors", "serve", "--port", "0", *args)


def located_places(path: Path) -> tuple[object, ...]:
    """Everything located about the web.config at ``path``: its diagnostics, and its rules'
    places (what a change to the loader's reading must leave as it was)."""
    diagnostics = check_config(path, max_bytes=1 << 22)
    try:
        config = load_config(path, max_bytes=1 << 22)
    except Exception:  # a broken file: its diagnostics say it all
        return (diagnostics,)
    return (diagnostics, [(rule, rule.location) for section in config.scopes.values()
                          for rule in section.rules])


def start_tags(text: str) -> list[int]:
    """Where each start tag of ``text`` begins, as the Locator finds them (its runs, joined)."""
    from iiscors.config.loader import _start_tag_runs
    return [offset for run in _start_tag_runs(text) for offset in run]
