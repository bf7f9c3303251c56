"""``serve --proxy`` attacked for real (issue 12, items 5-8): the reverse proxy runs under a
real WSGI server on 127.0.0.1 (waitress, and Werkzeug's threaded server where the server's
behaviour matters) in front of a real backend on 127.0.0.1 that records exactly what reached
it: the request line, the headers, and the body's length and SHA-256.

- item 5: a request path is judged by one CORS scope and served by the backend from another
  (``/public/..%2fprivate/secret.txt``), or escapes the target's path prefix;
- item 6: the request body is buffered whole, and a chunked body arrives empty;
- item 7: the client's own forwarding headers and Connection-named headers reach the backend;
- item 8: what cannot be sent as it is (non-ASCII queries, control characters) gives 500, and
  a backend that misbehaves (slow, closing early, injecting header lines) is not contained.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import posixpath
import socket
import socketserver
import subprocess
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_to_bytes, urlsplit

import pytest
import waitress
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.serving import make_server

from iiscors.serving.proxy import ReverseProxy
from iiscors.wsgi import CorsMiddleware, text_path

ROOT = Path(__file__).resolve().parents[2]
APP = "https://app.example"
PARTNER = "https://partner.example"
MIB = 1 << 20

#: The scenario of issue 12 item 5: ``public`` lets a partner read with credentials; ``private``
#: (and the rest of the site) lets only the site's own front end read, and refuses others (403).
CONFIG = (
    '<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n'
    '<system.webServer><cors enabled="true" failUnlistedOrigins="true">'
    f'<add origin="{APP}"/></cors></system.webServer>\n'
    '<location path="public"><system.webServer><cors enabled="true" failUnlistedOrigins="true">'
    f'<add origin="{PARTNER}" allowCredentials="true"/></cors></system.webServer></location>\n'
    '<location path="private"><system.webServer><cors enabled="true" failUnlistedOrigins="true">'
    f'<clear/><add origin="{APP}"/></cors></system.webServer></location>\n'
    '</configuration>\n').encode()


# -- the backend: a tiny threaded HTTP/1.1 server that records what it received ----------------

@dataclass
class Received:
    """One request as the backend read it off the wire."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body_length: int
    body_sha256: str
    complete: bool

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


#: A reply is raw bytes to write, or a number of seconds to wait before the next piece.
Reply = Callable[[Received], Iterable["bytes | float"]]


def normalising_reply(received: Received) -> Iterable[bytes | float]:
    """What many backends do: decode the path and remove dot segments, then serve that."""
    path = posixpath.normpath(unquote(urlsplit(received.target).path).replace("\\", "/"))
    body = f"served {path}".encode()
    return [b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode() + body]


def raw_reply(data: bytes) -> Reply:
    return lambda _received: [data]


class _BackendHandler(socketserver.StreamRequestHandler):
    server: _BackendServer

    def handle(self) -> None:
        line = self.rfile.readline(70000).decode("latin-1").rstrip("\r\n")
        if not line:
            return
        method, target, _ = line.split(" ", 2)
        headers: list[tuple[str, str]] = []
        while (raw := self.rfile.readline(70000)) not in (b"\r\n", b"\n", b""):
            name, _, value = raw.decode("latin-1").partition(":")
            headers.append((name, value.strip()))
        received = Received(method, target, headers, 0, "", True)
        self.server.backend.received.append(received)
        if self.server.backend.read_body:
            self._read_body(received)
        try:
            for piece in self.server.backend.reply(received):
                if isinstance(piece, float):
                    time.sleep(piece)
                else:
                    self.wfile.write(piece)
                    self.wfile.flush()
        except OSError:  # the proxy hung up
            self.server.backend.write_errors += 1
            return
        if self.server.backend.keep_alive:  # what follows: b"" once the proxy closes it
            with suppress(OSError):
                self.server.backend.afterwards.append(self.rfile.readline(100))

    def _read_body(self, received: Received) -> None:
        digest = hashlib.sha256()
        backend = self.server.backend
        for chunk in _body_chunks(self.rfile, received):
            digest.update(chunk)
            received.body_length += len(chunk)
            if received.body_length >= MIB:
                backend.first_mib.set()
        received.body_sha256 = digest.hexdigest()

    def finish(self) -> None:
        with suppress(OSError):
            super().finish()


def _body_chunks(rfile: Any, received: Received) -> Iterator[bytes]:
    """The request body, dechunked; ``received.complete`` says whether it all arrived."""
    if "chunked" in ",".join(received.header("Transfer-Encoding")).lower():
        while size_line := rfile.readline(1000):
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                rfile.readline(1000)
                return
            while size:
                chunk = rfile.read(min(size, 65536))
                if not chunk:
                    break
                size -= len(chunk)
                yield chunk
            rfile.readline(10)
        received.complete = False
        return
    remaining = int((received.header("Content-Length") or ["0"])[0])
    while remaining:
        chunk = rfile.read(min(remaining, 65536))
        if not chunk:
            received.complete = False
            return
        remaining -= len(chunk)
        yield chunk


class _BackendServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    backend: Backend


class Backend:
    """The backend on 127.0.0.1: records each request, answers with ``reply``."""

    def __init__(self, reply: Reply = normalising_reply) -> None:
        self.reply = reply
        self.received: list[Received] = []
        self.first_mib = threading.Event()
        self.write_errors = 0
        self.read_body = True
        self.keep_alive = False
        self.afterwards: list[bytes] = []
        self._server = _BackendServer(("127.0.0.1", 0), _BackendHandler)
        self._server.backend = self
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def backend() -> Iterator[Backend]:
    server = Backend()
    yield server
    server.close()


# -- the proxy under a real WSGI server, and a raw client ------------------------------------

@contextmanager
def served(app: Any, kind: str = "waitress") -> Iterator[int]:
    """Run ``app`` on 127.0.0.1 under waitress or Werkzeug's threaded server; yield its port."""
    if kind == "werkzeug":
        dev = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=dev.serve_forever, daemon=True)
        thread.start()
        try:
            yield dev.server_port
        finally:
            dev.shutdown()
            dev.server_close()
        return
    server: Any = waitress.create_server(app, host="127.0.0.1", port=0, threads=4,
                                         channel_timeout=30)
    thread = threading.Thread(target=_quietly, args=(server.run,), daemon=True)
    thread.start()
    try:
        yield server.effective_port
    finally:
        server.close()
        server.task_dispatcher.shutdown(timeout=2)


def _quietly(run: Callable[[], None]) -> None:
    with suppress(OSError, ValueError):  # the loop notices its closed socket
        run()


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    complete: bool

    def get(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def cors(self) -> list[str]:
        return [k for k, _ in self.headers if k.lower().startswith("access-control-")]


def send(port: int, raw: bytes, *, method: str = "GET", timeout: float = 15.0) -> Answer:
    """Write ``raw`` on a fresh connection and read one response; an incomplete body is
    reported (``complete=False``) rather than raised."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        try:
            body, complete = response.read(), True
        except http.client.IncompleteRead as exc:
            body, complete = exc.partial, False
        return Answer(response.status, response.getheaders(), body, complete)


def request(port: int, method: str, target: bytes | str,
            headers: dict[str, str] | None = None, body: bytes = b"") -> Answer:
    """One request with ``Connection: close``; ``target`` is sent byte for byte."""
    raw_target = target.encode("latin-1") if isinstance(target, str) else target
    lines = [method.encode() + b" " + raw_target + b" HTTP/1.1", b"Host: proxy.test",
             b"Connection: close"]
    lines += [f"{k}: {v}".encode("latin-1") for k, v in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}".encode())
    return send(port, b"\r\n".join(lines) + b"\r\n\r\n" + body, method=method)


def cors_proxy(target: str, **options: Any) -> CorsMiddleware:
    """What ``serve --proxy`` runs today: the proxy wrapped in the middleware."""
    return CorsMiddleware(ReverseProxy(target, **options), CONFIG, reload=False)


def call(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Call a WSGI app directly (for environs no server would produce)."""
    result: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        result.update(status=status, headers=headers)
        return lambda _data: None

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return result["status"], result["headers"], body


def environ(path: str = "/", query: str = "", method: str = "GET",
            **extra: Any) -> dict[str, Any]:
    import io
    base: dict[str, Any] = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
        "SCRIPT_NAME": "", "SERVER_NAME": "proxy.test", "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "proxy.test",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": False,
        "wsgi.run_once": False}
    base.update(extra)
    return base


# -- item 5: the path the CORS decision used is the path the backend gets --------------------

#: Paths a browser sends as written, each judged today by ``public``'s rules (a partner with
#: credentials) while a normalising backend serves something under ``private`` or above.
ESCAPES = [
    "/public/..%2fprivate/secret.txt",
    "/public/..%2Fprivate/secret.txt",
    "/public/%2e%2e/private/secret.txt",
    "/public/.%2E/private/secret.txt",
    "/public/../private/secret.txt",
    "/public/./../private/secret.txt",
    "/public/..%5cprivate/secret.txt",
    "/public/..\\private/secret.txt",
    "/public/..;/private/secret.txt",          # servlet containers cut ';params' off segments
    "/public/%252e%252e/private/secret.txt",    # double escaping (IIS: allowDoubleEscaping)
    "/public/%u002e%u002e/private/secret.txt",  # IIS's %uXXXX escapes
    "/public/%EF%BC%8E%EF%BC%8E/private/secret.txt",  # fullwidth dots, NFKC '..'
    "/public/%C0%AE%C0%AE/private/secret.txt",  # overlong UTF-8 dots: not UTF-8 at all
    "/public/x%00/../../private/secret.txt",
    "/public/%2e%2e%2fprivate/secret.txt",
    "/public%2f..%2fprivate/secret.txt",
]


@pytest.mark.parametrize("path", ESCAPES)
def test_a_path_escaping_its_scope_never_reaches_the_backend(backend: Backend, path: str) -> None:
    """Today ``/public/..%2fprivate/secret.txt`` is 200 with the partner allowed with
    credentials, and the backend serves /private/secret.txt.  The proxy must refuse it (400)
    without asking the backend, so no scope's answer ever covers another scope's resource."""
    with served(cors_proxy(backend.url)) as port:
        answer = request(port, "GET", path, {"Origin": PARTNER})
    assert answer.status == 400, (answer.status, answer.body)
    assert backend.received == []
    assert b"private" not in answer.body


@pytest.mark.parametrize("path", ESCAPES)
def test_the_path_guard_refuses_before_any_cors_decision(backend: Backend, path: str) -> None:
    """Outside the middleware, as IIS's request filtering runs before its CORS module: the
    400 carries no Access-Control-* header at all, so a hostile page can read nothing."""
    from iiscors.serving.pathguard import PathGuard

    with served(PathGuard(cors_proxy(backend.url))) as port:
        answer = request(port, "GET", path, {"Origin": PARTNER})
    assert answer.status == 400, (answer.status, answer.body)
    assert answer.cors() == []
    assert backend.received == []


@pytest.mark.parametrize("kind", ["waitress", "werkzeug"])
def test_the_scoping_bypass_under_both_servers(backend: Backend, kind: str) -> None:
    """The reproduction of item 5, under waitress and under Werkzeug's server (each decodes
    ``%2f`` into PATH_INFO): the partner gets its allow with credentials only on public paths."""
    from iiscors.serving.pathguard import PathGuard

    with served(PathGuard(cors_proxy(backend.url)), kind) as port:
        attack = request(port, "GET", "/public/..%2fprivate/secret.txt", {"Origin": PARTNER})
        direct = request(port, "GET", "/private/secret.txt", {"Origin": PARTNER})
        fine = request(port, "GET", "/public/ok.txt", {"Origin": PARTNER})
    assert (attack.status, attack.cors()) == (400, [])
    assert direct.status == 403
    assert fine.status == 200
    assert fine.get("Access-Control-Allow-Credentials") == ["true"]
    assert [r.target for r in backend.received] == ["/public/ok.txt"]


@pytest.mark.parametrize(("sent", "forwarded"), [
    ("/public/ok.txt", "/public/ok.txt"),
    ("/public/caf%C3%A9.txt", "/public/caf%C3%A9.txt"),
    ("/public/a%20b.txt?x=1", "/public/a%20b.txt?x=1"),
    ("/public/a+b;", None),
    ("/public//ok.txt", "/public//ok.txt"),
    ("/PUBLIC/ok.txt", "/PUBLIC/ok.txt"),
    ("/public/...txt", "/public/...txt"),
    ("/public/..x/y", "/public/..x/y"),
])
def test_what_the_backend_gets_is_the_path_the_decision_used(
        backend: Backend, sent: str, forwarded: str | None) -> None:
    """The path is rebuilt from PATH_INFO (what the middleware judged) and encoded once."""
    with served(cors_proxy(backend.url)) as port:
        answer = request(port, "GET", sent, {"Origin": PARTNER})
    if forwarded is None:
        assert answer.status == 400
        assert backend.received == []
    else:
        assert answer.status == 200, answer.body
        assert [r.target for r in backend.received] == [forwarded]


def test_each_request_has_a_backend_connection_of_its_own() -> None:
    """A backend that would keep the connection open: the proxy still closes it after one
    exchange, so no client's request is ever read on a connection another client used."""
    keep_alive = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    server = Backend(raw_reply(keep_alive))
    server.keep_alive = True
    try:
        with served(cors_proxy(server.url)) as port:
            for _ in range(3):
                assert request(port, "GET", "/public/x").body == b"ok"
            deadline = time.monotonic() + 5
            while len(server.afterwards) < 3:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        server.close()
    assert server.afterwards == [b"", b"", b""]


#: Pieces of hostile request targets, as a browser or a client may write them.
PIECES = ["/", "//", ".", "..", "%2e", "%2E", "%2f", "%2F", "%5c", "\\", ";", ";x=1", "%3b",
          "%25", "%252e", "%u002e", "%00", "%0a", "%C0%AE", "%EF%BC%8E", "%EF%BC%8F", "%E2%80%A4",
          "%C3%A9", "%FF", "public", "private", "PRIVATE", "a", "+", "%20", "?", "#", "~", "%3F"]


def _backend_readings(target: str) -> list[list[str]]:
    """The segments of a forwarded target as different backends read them: decoded once
    with dot segments removed; decoded twice; with ``\\`` as a separator; with servlet
    ``;params`` cut off; split before decoding (``%2F`` kept in a name); and after NFKC, for
    which only the structure counts (the names it folds are a documented limit)."""
    path = target.partition("?")[0]
    once = unquote(path, errors="surrogateescape")
    readings = [once, unquote(once, errors="surrogateescape"), once.replace("\\", "/"),
                "/".join(segment.split(";")[0] for segment in once.split("/"))]
    split = [[s.casefold() for s in posixpath.normpath("/" + r).split("/") if s]
             for r in readings]
    split.append([unquote(s, errors="surrogateescape").casefold()
                  for s in path.split("/") if s])
    folded = unicodedata.normalize("NFKC", once)
    split.append([s.casefold() if s in (".", "..") else "?"
                  for s in posixpath.normpath("/" + folded).split("/") if s])
    return split


def test_every_forwarded_path_has_one_reading_and_it_is_the_judged_one() -> None:
    """Hypothesis builds targets from hostile pieces; each is decoded as waitress does
    (PATH_INFO) and given to the proxy.  Either the proxy refuses it (400, nothing sent), or
    every backend reading of what it sent has the segments the CORS decision used."""
    server = Backend(normalising_reply)
    proxy = ReverseProxy(server.url)

    @settings(max_examples=400, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=8))
    def check(pieces: list[str]) -> None:
        raw = "/" + "".join(pieces).partition("#")[0]
        raw_path, _, query = raw.partition("?")
        path_info = unquote_to_bytes(raw_path).decode("latin-1")
        sent = len(server.received)
        status, _, _ = call(proxy, environ(path_info, query, REQUEST_URI=raw))
        if status.startswith("400"):
            assert len(server.received) == sent
            return
        assert status.startswith("200"), status
        judged = [s for s in text_path(path_info).casefold().split("/") if s]
        *exact, structure = _backend_readings(server.received[-1].target)
        for reading in exact:
            assert reading == judged, (raw, server.received[-1].target)
        assert structure == ["?"] * len(judged), (raw, server.received[-1].target)

    try:
        check()
    finally:
        server.close()


def test_the_target_prefix_cannot_be_escaped(backend: Backend) -> None:
    """``--proxy http://host/app``: ``/../admin`` must not become ``/app/../admin``."""
    proxy = ReverseProxy(backend.url + "/app/")
    with served(proxy) as port:
        assert request(port, "GET", "/../admin").status == 400
        assert request(port, "GET", "/%2e%2e/admin").status == 400
        assert request(port, "GET", "/x/y?q=1").status == 200
    # PATH_INFO without its leading slash (OPTIONS *, a hand-made environ) would glue onto
    # the prefix: /appadmin.
    assert call(proxy, environ(path="admin"))[0].startswith("400")
    assert call(proxy, environ(path="*", method="OPTIONS"))[0].startswith("400")
    assert [r.target for r in backend.received] == ["/app/x/y?q=1"]


def test_a_raw_encoded_slash_is_refused_even_when_the_decoded_path_looks_harmless(
        backend: Backend) -> None:
    """``/public%2fdata`` decodes to /public/data, but a backend that keeps ``%2f`` sees one
    segment: refused, as the raw URI says it was encoded (REQUEST_URI from waitress)."""
    with served(cors_proxy(backend.url)) as port:
        assert request(port, "GET", "/public%2fdata").status == 400
        assert request(port, "GET", "/public%5Cdata").status == 400
    assert backend.received == []


# -- item 6: the body streams, and a chunked body arrives whole --------------------------------

def _chunked(data: bytes, size: int = 65536) -> bytes:
    pieces = [f"{len(data[i:i + size]):x}\r\n".encode() + data[i:i + size] + b"\r\n"
              for i in range(0, len(data), size)]
    return b"".join(pieces) + b"0\r\n\r\n"


@pytest.mark.parametrize("kind", ["waitress", "werkzeug"])
def test_a_chunked_body_arrives_whole(backend: Backend, kind: str) -> None:
    """Today Werkzeug's server hands a chunked body over without CONTENT_LENGTH, and the
    backend gets ``Content-Length: 0``."""
    data = os.urandom(3 * MIB + 17)
    with served(cors_proxy(backend.url), kind) as port:
        head = (b"POST /public/upload HTTP/1.1\r\nHost: proxy.test\r\nConnection: close\r\n"
                b"Origin: " + APP.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
        answer = send(port, head + _chunked(data), method="POST")
    assert answer.status == 200, answer.body
    [received] = backend.received
    assert (received.body_length, received.complete) == (len(data), True)
    assert received.body_sha256 == hashlib.sha256(data).hexdigest()
    assert received.header("Content-Length") in ([], [str(len(data))])
    assert received.header("Transfer-Encoding") in ([], ["chunked"])  # the proxy's framing


class _GatedInput:
    """A request body whose second MiB is only available once the backend has the first: a
    proxy that reads the whole body before sending any of it waits here forever."""

    def __init__(self, total: int, gate: threading.Event) -> None:
        self.left, self.gate, self.largest_read = total, gate, 0

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self.left:
            size = self.left
        self.largest_read = max(self.largest_read, size)
        if self.left <= 2 * MIB and not self.gate.wait(10):
            raise AssertionError("the proxy read past the first MiB before forwarding it")
        self.left -= size
        return b"x" * size


def test_the_request_body_streams_to_the_backend(backend: Backend) -> None:
    total = 3 * MIB
    body = _GatedInput(total, backend.first_mib)
    status, _, _ = call(ReverseProxy(backend.url), environ(
        "/upload", method="POST", CONTENT_LENGTH=str(total), **{"wsgi.input": body}))
    assert status.startswith("200")
    [received] = backend.received
    assert (received.body_length, received.complete) == (total, True)
    assert body.largest_read <= 65536


def test_a_chunked_environ_streams_until_the_input_ends(backend: Backend) -> None:
    """A server that dechunks (PEP 3333 ``wsgi.input_terminated``, no CONTENT_LENGTH): the
    backend gets the body chunked, whole."""
    import io
    data = os.urandom(MIB + 5)
    status, _, _ = call(ReverseProxy(backend.url), environ(
        "/upload", method="PUT", HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": io.BytesIO(data), "wsgi.input_terminated": True}))
    assert status.startswith("200")
    [received] = backend.received
    assert received.header("Transfer-Encoding") == ["chunked"]
    assert received.body_sha256 == hashlib.sha256(data).hexdigest()


def test_a_chunked_body_the_server_cannot_terminate_is_411(backend: Backend) -> None:
    """Without ``wsgi.input_terminated`` reading to EOF could hang: refuse, never guess."""
    status, _, _ = call(ReverseProxy(backend.url), environ(
        "/upload", method="POST", HTTP_TRANSFER_ENCODING="chunked"))
    assert status.startswith("411")
    assert backend.received == []


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", " 5"])
def test_a_malformed_content_length_is_400(backend: Backend, length: str) -> None:
    status, _, _ = call(ReverseProxy(backend.url), environ(
        "/upload", method="POST", CONTENT_LENGTH=length))
    assert status.startswith("400")
    assert backend.received == []


@pytest.mark.parametrize("kind", ["werkzeug", "waitress"])
def test_a_client_that_stops_sending_never_gives_the_backend_a_whole_looking_body(
        backend: Backend, kind: str) -> None:
    """1,000 bytes announced, 10 sent, then the client hangs up.  Werkzeug's server calls the
    app before the body has arrived: the backend must see an incomplete request.  waitress
    reads a whole request before it calls the app: the backend sees nothing."""
    with served(cors_proxy(backend.url), kind) as port:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"POST /public/x HTTP/1.1\r\nHost: proxy.test\r\nContent-Length: 1000"
                         b"\r\n\r\n0123456789")
            time.sleep(0.3)
        deadline = time.monotonic() + (5 if kind == "werkzeug" else 1)
        while not backend.received or backend.received[0].body_sha256 == "":
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    if kind == "waitress":
        assert backend.received == []
        return
    [received] = backend.received
    assert received.complete is False
    assert received.body_length == 10


def test_a_malformed_chunked_body_is_the_clients_fault(backend: Backend) -> None:
    """Werkzeug's server raises OSError on a bad chunk header while the proxy forwards the
    body: 400 (the client's), not 502, and the backend sees an incomplete body."""
    with served(cors_proxy(backend.url), "werkzeug") as port:
        answer = send(port, b"POST /public/x HTTP/1.1\r\nHost: p\r\nConnection: close\r\n"
                            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n\r\n",
                      method="POST")
        deadline = time.monotonic() + 5
        while not backend.received or backend.received[0].body_sha256 == "":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert answer.status == 400, answer.body
    assert backend.received[0].complete is False  # no last chunk: never a whole-looking body


def _memory(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


PROXY_APP = """
import os
from iiscors.serving.proxy import ReverseProxy
app = ReverseProxy(os.environ["PROXY_TARGET"])
"""

#: The proxy alone under each server, as ``serve`` (waitress) and a user (gunicorn) run it.
SERVERS = {
    "waitress": [sys.executable, "-m", "waitress", "--listen=127.0.0.1:0", "--threads=4",
                 "proxyapp:app"],
    "gunicorn": [sys.executable, "-m", "gunicorn", "--bind=127.0.0.1:0", "--workers=1",
                 "--threads=4", "proxyapp:app"],
}


@contextmanager
def proxy_process(kind: str, target: str, where: Path, *options: str,
                  source: str = PROXY_APP) -> Iterator[tuple[int, int]]:
    """The proxy in its own server process (so that its RSS is its own): yield the pid of
    the process that runs the app (gunicorn's worker) and the port."""
    (where / "proxyapp.py").write_text(source)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PROXY_TARGET": target}
    command = [*SERVERS[kind][:-1], *options, SERVERS[kind][-1]]
    process = subprocess.Popen(command, env=env, cwd=where, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        pid, port = process.pid, 0
        for line in process.stdout:
            if "Booting worker with pid:" in line:
                pid = int(line.rsplit(":", 1)[1])
            if port == 0 and ("Serving on http://" in line or "Listening at: http://" in line):
                port = int(line.split()[-1 if "Serving" in line else -2].rsplit(":", 1)[1])
            if port and (kind == "waitress" or pid != process.pid):
                break
        assert port, "the proxy did not start"
        threading.Thread(target=process.stdout.read, daemon=True).start()  # keep it drained
        yield pid, port
    finally:
        process.terminate()
        process.wait(10)


def _upload(port: int, total: int, *, chunked: bool) -> int:
    block = b"\xa5" * MIB
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Connection": "close"} if chunked else {"Content-Length": str(total)}
    connection.request("POST", "/upload", body=(block for _ in range(total // MIB)),
                       headers=headers, encode_chunked=chunked)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


def _report(what: str, elapsed: float, before: dict[str, int], after: dict[str, int]) -> int:
    growth = after["VmHWM"] - before["VmHWM"]
    print(f"\n{what} in {elapsed:.1f} s: VmHWM {before['VmHWM'] / MIB:.1f} -> "
          f"{after['VmHWM'] / MIB:.1f} MiB (+{growth / MIB:.1f} MiB)")
    return growth


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "chunked"), [("waitress", False), ("waitress", True),
                                               ("gunicorn", True)])
def test_a_400_mib_upload_raises_the_proxys_peak_rss_by_less_than_20_mib(
        backend: Backend, tmp_path: Path, kind: str, chunked: bool) -> None:
    """The acceptance check of issue 12: the proxy in its own server process, a backend that
    hashes and discards the body; peak RSS (VmHWM) before and after.  (waitress takes a body
    in whole before calling the app, spooling it to a file past 512 KiB; gunicorn hands the
    socket over, so there the body goes from one socket to the other.)"""
    total = 400 * MIB
    with proxy_process(kind, backend.url, tmp_path) as (pid, port):
        assert _upload(port, 4 * MIB, chunked=chunked) == 200  # warm every code path
        before = _memory(pid)
        started = time.monotonic()
        assert _upload(port, total, chunked=chunked) == 200
        elapsed = time.monotonic() - started
        after = _memory(pid)
    assert backend.received[-1].body_length == total
    assert backend.received[-1].body_sha256 == hashlib.sha256(b"\xa5" * total).hexdigest()
    framing = "chunked" if chunked else "with Content-Length"
    assert _report(f"{kind}: 400 MiB upload {framing}", elapsed, before, after) < 20 * MIB


def _download(total: int) -> Reply:
    def reply(received: Received) -> Iterator[bytes]:
        size = total if received.target == "/big" else MIB
        yield f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode()
        block = b"\x5a" * MIB
        for _ in range(size // MIB):
            yield block
    return reply


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "options"), [
    ("gunicorn", ()),
    # waitress keeps up to outbuf_high_watermark (16 MiB by default) of a response per
    # connection before it makes the app wait: its own buffer, measured apart from the proxy's.
    ("waitress", ("--outbuf-high-watermark=1048576",)),
])
def test_a_400_mib_download_raises_the_proxys_peak_rss_by_less_than_20_mib(
        tmp_path: Path, kind: str, options: tuple[str, ...]) -> None:
    total = 400 * MIB
    server = Backend(_download(total))
    try:
        with proxy_process(kind, server.url, tmp_path, *options) as (pid, port):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            connection.request("GET", "/warm")
            connection.getresponse().read()
            before = _memory(pid)
            started = time.monotonic()
            connection.request("GET", "/big")
            response = connection.getresponse()
            digest, length = hashlib.sha256(), 0
            while chunk := response.read(MIB):
                digest.update(chunk)
                length += len(chunk)
            elapsed = time.monotonic() - started
            after = _memory(pid)
            connection.close()
    finally:
        server.close()
    assert length == total
    assert digest.hexdigest() == hashlib.sha256(b"\x5a" * total).hexdigest()
    assert _report(f"{kind} {' '.join(options)}: 400 MiB download", elapsed, before,
                   after) < 20 * MIB


#: docs/serving.md's recipe for running the proxy under another WSGI server, word for word.
RECIPE = """
import os
from iiscors import CorsMiddleware
from iiscors.serving.pathguard import PathGuard
from iiscors.serving.proxy import ReverseProxy

app = PathGuard(CorsMiddleware(ReverseProxy(os.environ["PROXY_TARGET"]), "web.config"))
"""


def test_the_documented_gunicorn_recipe(backend: Backend, tmp_path: Path) -> None:
    assert RECIPE.split("\n", 2)[2].replace('os.environ["PROXY_TARGET"]', '"http://127.0.0.1:3000"'
                                              ) in (ROOT / "docs" / "serving.md").read_text()
    (tmp_path / "web.config").write_bytes(CONFIG)
    with proxy_process("gunicorn", backend.url, tmp_path, source=RECIPE) as (_, port):
        attack = request(port, "GET", "/public/..%2fprivate/secret.txt", {"Origin": PARTNER})
        fine = request(port, "POST", "/public/up", {"Origin": PARTNER}, b"data")
    assert (attack.status, attack.cors()) == (400, [])
    assert fine.status == 200
    assert fine.get("Access-Control-Allow-Origin") == [PARTNER]
    assert [(r.target, r.body_length) for r in backend.received] == [("/public/up", 4)]


# -- item 7: forwarding headers and Connection-named headers -----------------------------------

def test_the_clients_forwarding_headers_are_replaced_by_the_proxys(backend: Backend) -> None:
    spoofed = {"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Host": "evil.example",
               "X-Forwarded-Proto": "https", "Forwarded": "for=6.6.6.6;host=evil.example",
               "X-Forwarded-Port": "443", "X-Forwarded-Prefix": "/admin",
               "X-Forwarded-Server": "evil", "X-Forwarded-Ssl": "on",
               "X-Forwarded-Scheme": "https",
               "X-Real-IP": "6.6.6.6", "X-Original-URL": "/private/secret.txt",
               "X-Rewrite-URL": "/private/secret.txt", "X-Kept": "yes"}
    with served(cors_proxy(backend.url)) as port:
        assert request(port, "GET", "/public/ok.txt", spoofed).status == 200
    [received] = backend.received
    assert received.header("X-Forwarded-For") == ["127.0.0.1"]
    assert received.header("X-Forwarded-Host") == ["proxy.test"]
    assert received.header("X-Forwarded-Proto") == ["http"]
    assert received.header("Host") == [f"127.0.0.1:{backend.port}"]
    for name in ("Forwarded", "X-Forwarded-Port", "X-Forwarded-Prefix", "X-Real-IP",
                 "X-Original-URL", "X-Rewrite-URL", "X-Forwarded-Server", "X-Forwarded-Ssl",
                 "X-Forwarded-Scheme"):
        assert received.header(name) == [], name
    assert received.header("X-Kept") == ["yes"]


def test_a_trusted_proxy_chain_is_the_servers_to_resolve(backend: Backend) -> None:
    """waitress told to trust 127.0.0.1 puts the client it names in REMOTE_ADDR; the proxy
    forwards that one address, never the list the client wrote."""
    app = cors_proxy(backend.url)
    server: Any = waitress.create_server(app, host="127.0.0.1", port=0, threads=2,
                                         trusted_proxy="127.0.0.1",
                                         trusted_proxy_headers={"x-forwarded-for"})
    threading.Thread(target=_quietly, args=(server.run,), daemon=True).start()
    try:
        answer = request(server.effective_port, "GET", "/public/ok.txt",
                         {"X-Forwarded-For": "203.0.113.9"})
    finally:
        server.close()
        server.task_dispatcher.shutdown(timeout=2)
    assert answer.status == 200
    assert backend.received[0].header("X-Forwarded-For") == ["203.0.113.9"]


def test_headers_named_in_connection_are_dropped_on_the_way_in(backend: Backend) -> None:
    hop = {"Connection": "close, X-Secret-Hop, x-other", "X-Secret-Hop": "1", "X-Other": "2",
           "Keep-Alive": "timeout=5", "Proxy-Connection": "keep-alive", "TE": "trailers",
           "Upgrade": "websocket", "Expect": "100-continue", "Proxy-Authorization": "Basic x"}
    with served(cors_proxy(backend.url), "werkzeug") as port:
        assert request(port, "GET", "/public/ok.txt", hop).status == 200
    [received] = backend.received
    assert received.header("Connection") == ["close"]  # the proxy's own: one exchange
    names = {k.lower() for k, _ in received.headers} - {"connection"}
    assert names.isdisjoint({k.lower() for k in hop}), names


def test_headers_named_in_connection_are_dropped_on_the_way_out() -> None:
    reply = (b"HTTP/1.1 200 OK\r\nConnection: X-Internal, close\r\nX-Internal: secret\r\n"
             b"Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTrailers: x\r\n"
             b"Trailer: X-Sum\r\nUpgrade: h2c\r\nProxy-Authenticate: Basic\r\n"
             b"X-Kept: yes\r\nContent-Length: 2\r\n\r\nok")
    server = Backend(raw_reply(reply))
    try:
        with served(cors_proxy(server.url)) as port:
            answer = request(port, "GET", "/public/ok.txt")
    finally:
        server.close()
    assert (answer.status, answer.body) == (200, b"ok")
    assert answer.get("X-Internal") == [] and answer.get("Keep-Alive") == []
    for name in ("Proxy-Connection", "Trailers", "Trailer", "Upgrade", "Proxy-Authenticate"):
        assert answer.get(name) == [], name
    assert answer.get("X-Kept") == ["yes"]


# -- item 8: what cannot be sent as it is, and backends that misbehave --------------------------

@pytest.mark.parametrize(("query", "sent"), [
    ("q=\xe9", "q=%E9"),
    ("q=\x7f", "q=%7F"),
    ("q=a b", "q=a%20b"),
    ("q=\xc3\xa9&r=%C3%A9", "q=%C3%A9&r=%C3%A9"),
    ("q=\x00\r\n", "q=%00%0D%0A"),
    ("a=[1]&b={x}|y", "a=[1]&b={x}|y"),
    ("q=#frag", "q=%23frag"),
])
def test_a_query_is_percent_encoded_where_http_needs_it(
        backend: Backend, query: str, sent: str) -> None:
    """QUERY_STRING as Werkzeug's server hands over raw bytes (latin-1, PEP 3333): today
    ``InvalidURL``/``UnicodeEncodeError`` escape as a 500."""
    status, _, _ = call(ReverseProxy(backend.url), environ("/q", query))
    assert status.startswith("200"), status
    assert [r.target for r in backend.received] == [f"/q?{sent}"]


def test_any_query_is_forwarded_meaning_the_same() -> None:
    """Any bytes as QUERY_STRING: what the backend gets is printable ASCII without ``#``, and
    decodes to the same bytes as what the client sent."""
    server = Backend(normalising_reply)
    proxy = ReverseProxy(server.url)

    @settings(max_examples=300, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.binary(min_size=1, max_size=40) | st.lists(st.sampled_from(
        ["%", "%4", "%41", "%zz", "\xe9", " ", "#", "+", "=", "&", "%%", "\x7f"])).map(
            lambda parts: "".join(parts).encode("latin-1")))
    def check(query: bytes) -> None:
        status, _, _ = call(proxy, environ("/q", query.decode("latin-1")))
        assert status.startswith("200"), status
        sent = server.received[-1].target.partition("?")[2]
        assert all(0x21 <= ord(c) < 0x7F and c != "#" for c in sent), sent
        assert unquote_to_bytes(sent) == unquote_to_bytes(query)

    try:
        check()
    finally:
        server.close()


def test_a_non_ascii_query_through_werkzeugs_server(backend: Backend) -> None:
    """Werkzeug's server takes the raw byte 0xE9 for the character é and hands it over as
    UTF-8 (its "encoding dance"); either way the backend gets it percent-encoded, not a 500."""
    with served(cors_proxy(backend.url), "werkzeug") as port:
        answer = request(port, "GET", b"/public/q?q=\xe9\x7f", {"Origin": APP})
    assert answer.status == 200, answer.body
    assert [r.target for r in backend.received] == ["/public/q?q=%C3%A9%7F"]


@pytest.mark.parametrize("extra", [
    {"HTTP_X_BAD": "a\r\nX-Injected: 1"},
    {"HTTP_X_BAD": "a\nb"},
    {"HTTP_BAD_NAME\x00": "1"},
    {"REQUEST_METHOD": "GET\r\nX: y"},
    {"REQUEST_METHOD": "G T"},
    {"PATH_INFO": "/\u20ac"},                # not latin-1: no server should produce it
    {"HTTP_X_WIDE": "\u20ac"},
])
def test_what_cannot_be_sent_is_400_never_500(backend: Backend, extra: dict[str, str]) -> None:
    status, _, body = call(ReverseProxy(backend.url), environ("/q", **extra))
    assert status.startswith("400"), (status, body)
    assert backend.received == []


def test_an_unreachable_backend_is_502_with_cors_headers() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port_without_server = closed.getsockname()[1]
    with served(cors_proxy(f"http://127.0.0.1:{port_without_server}")) as port:
        answer = request(port, "POST", "/public/x", {"Origin": PARTNER}, b"body")
    assert answer.status == 502
    assert answer.get("Access-Control-Allow-Origin") == [PARTNER]


def test_a_backend_failure_is_logged_for_the_operator(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        target = f"http://127.0.0.1:{closed.getsockname()[1]}"
    with caplog.at_level(logging.WARNING, logger="iiscors"):
        assert call(ReverseProxy(target), environ("/x"))[0].startswith("502")
        assert call(ReverseProxy(target), environ("/../x"))[0].startswith("400")
    assert [r.getMessage() for r in caplog.records if r.name == "iiscors.serving.proxy"] == [
        f"proxy to {target[7:]}: 502 Bad Gateway: the backend did not answer"]


def test_a_slow_backend_is_504_with_cors_headers() -> None:
    server = Backend(lambda _r: [2.0, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])
    try:
        with served(cors_proxy(server.url, timeout=0.5)) as port:
            started = time.monotonic()
            answer = request(port, "GET", "/public/slow", {"Origin": PARTNER})
            assert time.monotonic() - started < 1.8
    finally:
        server.close()
    assert answer.status == 504
    assert answer.get("Access-Control-Allow-Origin") == [PARTNER]


@pytest.mark.parametrize("reply", [
    b"",                                           # closes without a word
    b"HTTP/1.1 abc OK\r\n\r\n",                    # no status code
    b"NOT HTTP\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n",  # more headers than http.client takes
    b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70000 + b"\r\n\r\n",
    b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
])
def test_a_backend_that_does_not_answer_http_is_502(reply: bytes) -> None:
    server = Backend(raw_reply(reply))
    try:
        with served(cors_proxy(server.url)) as port:
            answer = request(port, "GET", "/public/x", {"Origin": PARTNER})
    finally:
        server.close()
    assert answer.status == 502, answer
    assert answer.get("Access-Control-Allow-Origin") == [PARTNER]


@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n" + b"\x00"
    + b"",  # a chunk size that is not hex
])
def test_a_backend_that_breaks_off_mid_body_gives_a_broken_response(reply: bytes) -> None:
    """The client must be able to tell: the connection ends before the body is complete
    (never a clean end of a shorter body)."""
    server = Backend(raw_reply(reply))
    try:
        with served(cors_proxy(server.url)) as port:
            answer = request(port, "GET", "/public/x")
    finally:
        server.close()
    assert answer.status == 200
    assert answer.complete is False


@pytest.mark.parametrize(("method", "reply"), [
    ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
    ("GET", b"HTTP/1.1 204 No Content\r\n\r\n"),
    ("GET", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\n\r\n"),
    ("GET", b"HTTP/1.0 200 OK\r\n\r\nto the end"),  # no framing: the body runs to the close
])
def test_a_response_without_a_body_is_complete(method: str, reply: bytes) -> None:
    server = Backend(raw_reply(reply))
    try:
        with served(cors_proxy(server.url)) as port:
            answer = request(port, method, "/public/x")
    finally:
        server.close()
    assert answer.complete
    assert answer.body == (b"to the end" if b"HTTP/1.0" in reply else b"")


def test_a_client_that_leaves_mid_download_releases_the_backend() -> None:
    """The proxy closes its backend connection as soon as the WSGI server gives up on the
    client, instead of reading the rest of a 1 GiB answer."""
    failed = threading.Event()

    def endless(_received: Received) -> Iterator[bytes]:
        yield b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n"
        for _ in range(1024):
            yield b"z" * MIB
        failed.set()  # reached only if the whole GiB was taken

    server = Backend(endless)
    try:
        with served(cors_proxy(server.url)) as port:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(b"GET /public/big HTTP/1.1\r\nHost: p\r\n\r\n")
                assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            deadline = time.monotonic() + 10
            while server.write_errors == 0:
                assert time.monotonic() < deadline, "the backend is still being read"
                time.sleep(0.05)
    finally:
        server.close()
    assert not failed.is_set()


def test_a_backend_that_stalls_mid_body_is_cut_off_after_the_timeout() -> None:
    server = Backend(lambda _r: [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
                                 3.0, b"x" * 90])
    try:
        with served(cors_proxy(server.url, timeout=0.5)) as port:
            started = time.monotonic()
            answer = request(port, "GET", "/public/x")
            assert time.monotonic() - started < 2.5
    finally:
        server.close()
    assert (answer.status, answer.complete, answer.body) == (200, False, b"0123456789")


@pytest.mark.parametrize(("reply", "status", "value"), [
    # obs-fold: RFC 9112 §5.2 lets a proxy replace it with a space
    (b"X-A: foo\r\n bar", 200, "foo bar"),
    (b"X-A: foo\r\n\tbar", 200, "foo bar"),
    # a bare CR, a NUL, a control character, a nameless line: not HTTP, 502
    (b"X-A: foo\rX-Injected: 1", 502, None),
    (b"X-A: foo\x00bar", 502, None),
    (b"X-A: foo\x0bbar", 502, None),
    (b": nameless", 502, None),
    (b"Bad Name: 1", 502, None),
    (b"\tcontinuation-first", 502, None),
])
def test_a_backend_cannot_inject_response_headers(reply: bytes, status: int,
                                                  value: str | None) -> None:
    whole = b"HTTP/1.1 200 OK\r\n" + reply + b"\r\nContent-Length: 2\r\n\r\nok"
    server = Backend(raw_reply(whole))
    try:
        with served(cors_proxy(server.url)) as port:
            answer = request(port, "GET", "/public/x", {"Origin": PARTNER})
    finally:
        server.close()
    assert answer.status == status, answer
    assert answer.get("X-Injected") == []
    if value is not None:
        assert answer.get("X-A") == [value]
    assert answer.get("Access-Control-Allow-Origin") == [PARTNER]


@pytest.mark.parametrize(("framing", "status", "body"), [
    (b"Content-Length: 2\r\nContent-Length: 3\r\n\r\nokk", 502, None),
    (b"Content-Length: 2\r\nContent-Length: 2\r\n\r\nok", 200, b"ok"),
    (b"Content-Length: x2\r\n\r\nok", 502, None),
    (b"Transfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n2\r\nok\r\n0\r\n\r\n", 200,
     b"ok"),
])
def test_the_response_framing_the_client_gets_is_the_one_the_proxy_read(
        framing: bytes, status: int, body: bytes | None) -> None:
    """Two Content-Lengths that disagree are a smuggling attempt (RFC 9112 §6.3: 502); a
    Content-Length beside chunked must not be passed on with the dechunked body."""
    server = Backend(raw_reply(b"HTTP/1.1 200 OK\r\n" + framing))
    try:
        with served(cors_proxy(server.url)) as port:
            answer = request(port, "GET", "/public/x")
    finally:
        server.close()
    assert answer.status == status
    if body is not None:
        assert (answer.body, answer.complete) == (body, True)
        assert answer.get("Content-Length") in ([], [str(len(body))])


@pytest.mark.parametrize(("status_line", "status", "reason"), [
    (b"HTTP/1.1 404 Nicht gefunden", 404, "Nicht gefunden"),
    (b"HTTP/1.1 404 Nicht \xe9gefunden", 404, "Not Found"),
    (b"HTTP/1.1 299 \xff", 299, "Unknown"),
    (b"HTTP/1.1 404 Nicht\x00gefunden", 502, "Bad Gateway"),
])
def test_the_reason_phrase_is_relayed_only_when_plain(status_line: bytes, status: int,
                                                      reason: str) -> None:
    server = Backend(raw_reply(status_line + b"\r\nContent-Length: 0\r\n\r\n"))
    try:
        with served(cors_proxy(server.url)) as port, \
                socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /public/x HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n")
            head = sock.makefile("rb").readline()
    finally:
        server.close()
    assert head == f"HTTP/1.1 {status} {reason}\r\n".encode()


def test_a_backend_refusing_an_upload_early_is_answered() -> None:
    """A backend that answers 413 without reading the body, and closes: the proxy's write
    fails, and the client still gets the backend's answer, not a 502 (nor a 500, nor a hang)."""
    reply = b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbig"
    server = Backend(raw_reply(reply))
    server.read_body = False
    try:
        with served(cors_proxy(server.url)) as port:
            answer = request(port, "POST", "/public/up", {"Origin": PARTNER},
                             body=b"x" * (8 * MIB))
    finally:
        server.close()
    assert (answer.status, answer.body) == (413, b"big")
    assert answer.get("Access-Control-Allow-Origin") == [PARTNER]


def test_large_request_headers_are_forwarded_whole(backend: Backend) -> None:
    big = {f"X-Big-{i}": "v" * 4000 for i in range(40)}
    with served(cors_proxy(backend.url)) as port:
        assert request(port, "GET", "/public/h", big).status == 200
    [received] = backend.received
    assert all(received.header(name) == [value] for name, value in big.items())


def test_a_slow_but_steady_upload_arrives_whole(backend: Backend) -> None:
    """A slowloris-ish body (bounded: ten pieces 50 ms apart) is forwarded complete."""
    pieces = [os.urandom(1000) for _ in range(10)]
    with served(cors_proxy(backend.url), "werkzeug") as port, \
            socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"PUT /public/slow HTTP/1.1\r\nHost: p\r\nConnection: close\r\n"
                     b"Content-Length: 10000\r\n\r\n")
        for piece in pieces:
            time.sleep(0.05)
            sock.sendall(piece)
        response = http.client.HTTPResponse(sock, method="PUT")
        response.begin()
        assert response.status == 200
    [received] = backend.received
    assert received.body_sha256 == hashlib.sha256(b"".join(pieces)).hexdigest()


def test_the_target_url_must_be_plain(backend: Backend) -> None:
    for bad in ("ftp://x", "http://", "http://u:p@127.0.0.1:1", "http://127.0.0.1:1/?q=1",
                "http://127.0.0.1:1/#f", "http://127.0.0.1:99999"):
        with pytest.raises(ValueError):
            ReverseProxy(bad)

