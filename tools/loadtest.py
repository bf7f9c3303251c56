#!/usr/bin/env python
"""Load test: gunicorn on 127.0.0.1 serving an app behind iiscors, under a mixed CORS load with
unique origins (issue 7).

What it does:

1. writes a strict web.config (``https://*.contoso.com`` with credentials, an exact
   ``allowed="false"`` rule, ``failUnlistedOrigins="true"``) to a temporary directory;
2. starts gunicorn (``gthread`` workers) on a free loopback port, serving this module's
   :func:`make_app` (a tiny WSGI app wrapped in :class:`iiscors.CorsMiddleware`);
3. warms up for ``--warmup`` seconds, reads every worker's RSS (``/proc/<pid>/status``),
   loads the server for ``--duration`` seconds over ``--connections`` keep-alive connections
   (an asyncio client speaking raw HTTP/1.1), then reads the RSS again;
4. every response is checked: allowed origins get 200/204 with their own origin echoed,
   unlisted, malformed and denied origins get 403 without CORS headers, requests without Origin
   get 200 without CORS headers.  Any other answer, or a connection error, is an error.

Each request carries a new origin (``https://u<n>.contoso.com``, ``https://u<n>.evil.example``,
...), so an unbounded per-origin cache in the middleware would show up as memory growth.  (The
bounded memo of allowed origins' answers, ~0.5 MiB when full, fills and empties again and again
here and stays well inside the limit; its own bound is tested in ``tests/test_answers.py``.)

Reports requests/s, p50/p99 latency, errors (must be 0) and the workers' RSS before/after
(growth must stay under ``--max-rss-growth-mb``, default 5).  Exit status 0 when both hold, 1
otherwise, 2 on a usage or start-up problem.  Only loopback traffic; gunicorn is stopped on exit.

Usage::

    python tools/loadtest.py                          # 60 s, 64 connections (the issue's run)
    python tools/loadtest.py --duration 5 --connections 16 --json result.json
    python tools/loadtest.py --workers 2 --threads 16

The client shares the machine's CPUs with the server: throughput figures are for comparing runs
on one machine, not absolute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _benchlib import free_loopback_port, gunicorn_argv

TOOLS = Path(__file__).resolve().parent
CONFIG_ENV = "IISCORS_LOADTEST_CONFIG"
RELOAD_ENV = "IISCORS_LOADTEST_RELOAD_INTERVAL"
LOG_ENV = "IISCORS_LOADTEST_LOG"
#: the served app's log lines: ``iiscors-log <pid> <LEVEL> <message>``
LOG_FORMAT = "iiscors-log %(process)d %(levelname)s %(message)s"

WEB_CONFIG = b"""<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <system.webServer>
    <cors enabled="true" failUnlistedOrigins="true">
      <add origin="https://*.contoso.com" allowCredentials="true" maxAge="600">
        <allowHeaders allowAllRequestedHeaders="true"><add header="content-type" /></allowHeaders>
        <allowMethods><add method="GET" /><add method="POST" /></allowMethods>
        <exposeHeaders><add header="x-request-id" /></exposeHeaders>
      </add>
      <add origin="https://blocked.contoso.com" allowed="false" />
    </cors>
  </system.webServer>
</configuration>
"""


# --- the served app (imported by gunicorn workers) ----------------------------------------------


def _inner_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = b"hello"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _with_worker(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """Outside iiscors: an ``X-Worker: <pid>`` on every response, the middleware's own 204 and
    403 included, so that a client can tell which worker process answered."""
    pid = str(os.getpid())

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            return start_response(status, [*headers, ("X-Worker", pid)], *exc_info)

        return app(environ, start)

    return wrapped


def make_app() -> Any:
    """gunicorn entry point: ``loadtest:make_app()`` with ``IISCORS_LOADTEST_CONFIG`` set.

    ``IISCORS_LOADTEST_RELOAD_INTERVAL`` sets ``reload_interval``.  ``IISCORS_LOADTEST_LOG``
    (--faults) names a file that receives the ``iiscors`` log (INFO and up), one line per record
    prefixed with the worker's pid (:data:`LOG_FORMAT`), appended with ``O_APPEND`` by every
    worker; every response then also says which worker answered (``X-Worker``).
    """
    import logging

    from iiscors import CorsMiddleware
    from iiscors.reload import DEFAULT_RELOAD_INTERVAL

    log_path = os.environ.get(LOG_ENV)
    if log_path:
        handler = logging.FileHandler(log_path, mode="a", encoding="utf-8")
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger = logging.getLogger("iiscors")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    interval = float(os.environ.get(RELOAD_ENV, DEFAULT_RELOAD_INTERVAL))
    app = CorsMiddleware(_inner_app, Path(os.environ[CONFIG_ENV]), reload_interval=interval)
    return _with_worker(app) if log_path else app


# --- the request mix --------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    kind: str
    head: bytes
    status: tuple[int, ...]
    acao: str | None  # the Access-Control-Allow-Origin expected, None: no CORS headers


def plan(n: int) -> Planned:
    """The n-th request of the mix; every origin is unique to its request."""
    kind = n % 7
    if kind == 0:
        origin = f"https://u{n}.contoso.com"
        return Planned("actual-allowed", _head("GET", origin), (200,), origin)
    if kind == 1:
        origin = f"https://u{n}.api.contoso.com"
        extra = (
            b"Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: x-a, x-b\r\n"
        )
        return Planned("preflight-allowed", _head("OPTIONS", origin, extra), (204,), origin)
    if kind == 2:
        origin = f"https://u{n}.evil.example"
        return Planned("actual-unlisted", _head("GET", origin), (403,), None)
    if kind == 3:
        origin = f"https://u{n}.evil.example"
        extra = b"Access-Control-Request-Method: PUT\r\n"
        return Planned("preflight-unlisted", _head("OPTIONS", origin, extra), (403,), None)
    if kind == 4:
        return Planned("no-origin", _head("GET", None), (200,), None)
    if kind == 5:
        return Planned("denied-exact", _head("GET", "https://blocked.contoso.com"), (403,), None)
    origin = f"https://u{n}.contoso.com.evil.example/p?{n}"  # not a serialized origin (B6)
    return Planned("malformed", _head("POST", origin), (403,), None)


def _head(method: str, origin: str | None, extra: bytes = b"") -> bytes:
    lines = f"{method} / HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
    if origin is not None:
        lines += f"Origin: {origin}\r\n".encode()
    if method == "POST":
        lines += b"Content-Length: 0\r\n"
    return lines + extra + b"\r\n"


# --- the client -------------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    samples: list[str] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.samples) < 10:
            self.samples.append(message)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, list[tuple[str, str]], bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    values = dict(headers)
    keep = values.get("connection", "").lower() != "close"
    if "content-length" in values:
        await reader.readexactly(int(values["content-length"]))
    elif values.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif status not in (204, 304):
        await reader.read()
        keep = False
    return status, headers, keep


def _check(planned: Planned, status: int, headers: list[tuple[str, str]]) -> str | None:
    if status not in planned.status:
        return f"{planned.kind}: status {status}, expected {planned.status}"
    acao = [v for k, v in headers if k == "access-control-allow-origin"]
    if planned.acao is None:
        cors = [k for k, _ in headers if k.startswith("access-control-")]
        if cors:
            return f"{planned.kind}: unexpected CORS headers {cors}"
    elif acao != [planned.acao]:
        return f"{planned.kind}: Access-Control-Allow-Origin {acao!r}, expected {planned.acao!r}"
    return None


async def _connection(
    port: int, stop_at: float, counter: list[int], stats: Stats, faults: FaultMix | None = None
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.monotonic() < stop_at and not (faults is not None and faults.done.is_set()):
        if writer is None:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError as exc:
                stats.error(f"connect: {exc}")
                await asyncio.sleep(0.05)
                continue
        assert reader is not None
        n = counter[0]
        counter[0] += 1
        planned = plan(n) if faults is None else faults.plan(n)
        started = time.monotonic()
        start = time.perf_counter()
        try:
            writer.write(planned.head)
            await writer.drain()
            status, headers, keep = await asyncio.wait_for(_read_response(reader), 10)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            stats.error(f"{planned.kind}: {type(exc).__name__}: {exc}")
            writer.close()
            writer = None
            continue
        stats.latencies.append(time.perf_counter() - start)
        stats.by_kind[planned.kind] = stats.by_kind.get(planned.kind, 0) + 1
        if faults is None:
            problem = _check(planned, status, headers)
        else:
            problem = faults.check(n, started, status, headers)
        if problem:
            stats.error(problem)
        if not keep:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def _load(
    port: int, seconds: float, connections: int, counter: list[int], faults: FaultMix | None = None
) -> Stats:
    """Load for ``seconds`` (with ``faults``: until ``faults.done`` is set, at most that long)."""
    stats = Stats()
    stop_at = time.monotonic() + seconds
    await asyncio.gather(
        *(_connection(port, stop_at, counter, stats, faults) for _ in range(connections))
    )
    return stats


# --- faults (--faults): the web.config rewritten while the server is under load ------------

#: The good versions: each response says which version produced it twice, in the rule's
#: Access-Control-* headers and in a customHeaders ``X-Version`` (C1, on every response), so a
#: response mixing two versions shows.  The load starts on A, flips between A and B, ends on C.
FAULT_VERSIONS: dict[str, bytes] = {
    "A": b"""<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <system.webServer>
    <cors enabled="true" failUnlistedOrigins="true">
      <add origin="https://*.contoso.com" maxAge="100">
        <allowHeaders><add header="x-a" /></allowHeaders>
        <allowMethods><add method="PUT" /></allowMethods>
        <exposeHeaders><add header="x-a" /></exposeHeaders>
      </add>
    </cors>
    <httpProtocol><customHeaders><add name="X-Version" value="A" /></customHeaders></httpProtocol>
  </system.webServer>
</configuration>
""",
    "B": b"""<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <system.webServer>
    <cors enabled="true" failUnlistedOrigins="false">
      <add origin="https://*.contoso.com" allowCredentials="true" maxAge="200">
        <allowHeaders><add header="x-b" /></allowHeaders>
        <allowMethods><add method="DELETE" /></allowMethods>
        <exposeHeaders><add header="x-b" /></exposeHeaders>
      </add>
      <add origin="https://*.fabrikam.com" />
    </cors>
    <httpProtocol><customHeaders><add name="X-Version" value="B" /></customHeaders></httpProtocol>
  </system.webServer>
</configuration>
""",
    "C": b"""<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <system.webServer>
    <cors enabled="true" failUnlistedOrigins="true">
      <add origin="https://*.contoso.com" maxAge="300">
        <allowHeaders allowAllRequestedHeaders="true" />
        <allowMethods><add method="PUT" /><add method="DELETE" /></allowMethods>
        <exposeHeaders><add header="x-c" /></exposeHeaders>
      </add>
      <add origin="https://*.fabrikam.com" allowed="false" />
    </cors>
    <httpProtocol><customHeaders><add name="X-Version" value="C" /></customHeaders></httpProtocol>
  </system.webServer>
</configuration>
""",
}

#: Version A with an attribute IIS does not know (E201): unusable.
BAD_EDIT = FAULT_VERSIONS["A"].replace(
    b'<add origin="https://*.contoso.com" maxAge="100">',
    b'<add origin="https://*.contoso.com" maxAge="100" bogus="1">',
)

#: The injector's steps, in order (see :class:`FaultInjector`).
FAULT_STEPS = (
    "bad-edit",  # BAD_EDIT written atomically over A
    "truncated",  # that file truncated in place to half its size (one truncate(2))
    "deleted",  # unlinked
    "bad-edit-again",  # BAD_EDIT again, in the same unusable episode: nothing new to log
    "flip",  # B and A alternately, written atomically, many times per second, ending on B
    "bad-edit-after-flip",  # BAD_EDIT again, in a new episode: logged again
    "restore",  # C written atomically
)

#: What each bad state is expected to log, in each worker and each unusable episode:
#: this header line once, then each of its diagnostics once (iiscors.reload).
UNUSABLE_HEADER = (
    "iiscors: {path} is unusable after an edit; the last good configuration keeps serving"
)


def state_diagnostics(path: Path) -> dict[str, list[str]]:
    """The diagnostic log lines (``iiscors: <diagnostic>``) each bad content produces at
    ``path``, computed in-process.  Call it while ``path`` does not exist (for ``deleted``)."""
    from iiscors.config.load import SourceFile, analyse

    if path.exists():
        raise ValueError(f"{path} must not exist yet")

    def lines(source: bytes | str) -> list[str]:
        config, diagnostics = analyse([SourceFile(source, name=str(path))])
        if config is not None:
            raise AssertionError("a bad state is usable")
        return [f"iiscors: {d}" for d in diagnostics]

    return {
        "bad-edit": lines(BAD_EDIT),
        "truncated": lines(BAD_EDIT[: len(BAD_EDIT) // 2]),
        "deleted": lines(str(path)),
    }


@dataclass(frozen=True)
class FaultRequest:
    kind: str
    method: str
    headers: tuple[tuple[str, str], ...]

    def head(self) -> bytes:
        lines = f"{self.method} / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        lines += "".join(f"{name}: {value}\r\n" for name, value in self.headers)
        return (lines + "\r\n").encode("latin-1")

    def environ(self) -> dict[str, Any]:
        import io

        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.method,
            "PATH_INFO": "/",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(),
        }
        for name, value in self.headers:
            key = name.upper().replace("-", "_")
            environ[key if key == "CONTENT_LENGTH" else f"HTTP_{key}"] = value
        return environ


def fault_request(n: int) -> FaultRequest:
    """The n-th request of the fault mix: every version answers each one differently."""
    kind = n % 7
    contoso = ("Origin", f"https://u{n}.contoso.com")
    if kind == 0:
        return FaultRequest("actual-contoso", "GET", (contoso,))
    if kind == 1:
        return FaultRequest("preflight-put", "OPTIONS", (
            contoso, ("Access-Control-Request-Method", "PUT"),
            ("Access-Control-Request-Headers", "x-a")))
    if kind == 2:
        return FaultRequest("preflight-delete", "OPTIONS", (
            contoso, ("Access-Control-Request-Method", "DELETE"),
            ("Access-Control-Request-Headers", "x-b")))
    if kind == 3:
        return FaultRequest("actual-fabrikam", "GET", (("Origin", f"https://u{n}.fabrikam.com"),))
    if kind == 4:
        return FaultRequest("no-origin", "GET", ())
    if kind == 5:
        return FaultRequest("actual-unlisted", "GET", (("Origin", f"https://u{n}.evil.example"),))
    return FaultRequest("post-contoso", "POST", (contoso, ("Content-Length", "0")))


Signature = tuple[int, tuple[tuple[str, str], ...]]


def signature(status: int, headers: Iterable[tuple[str, str]]) -> Signature:
    """What a version decides about a response: its status, its Access-Control-* and Vary
    headers and its X-Version, in order-independent form."""
    kept = sorted(
        (name.lower(), value.strip())
        for name, value in headers
        if name.lower().startswith("access-control-") or name.lower() in ("vary", "x-version")
    )
    return status, tuple(kept)


class Oracle:
    """Each good version's answer, computed by an in-process middleware that never reloads."""

    def __init__(self) -> None:
        from iiscors import CorsMiddleware

        self._middlewares = {
            tag: CorsMiddleware(_inner_app, data, reload=False)
            for tag, data in FAULT_VERSIONS.items()
        }

    def expected(self, request: FaultRequest, tag: str) -> Signature:
        answer: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            answer[:] = [int(status.split()[0]), headers]
            return lambda _: None

        body = self._middlewares[tag](request.environ(), start_response)
        for _ in body:
            pass
        return signature(answer[0], answer[1])

    def versions(self, request: FaultRequest, status: int,
                 headers: Iterable[tuple[str, str]]) -> list[str]:
        """The good versions whose whole answer this response is (one, or none if it is wrong)."""
        got = signature(status, headers)
        return [tag for tag in self._middlewares if self.expected(request, tag) == got]


class FaultMix:
    """The ``--faults`` request mix and its check: each response must be the whole answer of
    exactly one good version (:class:`Oracle`); ``served`` records, per response, (started,
    ended, version, worker)."""

    def __init__(self) -> None:
        self.oracle = Oracle()
        self.done = threading.Event()
        self.served: list[tuple[float, float, str, int | None]] = []

    def plan(self, n: int) -> Planned:
        request = fault_request(n)
        head = request.head()
        if n % 4 == 0:  # reconnect now and then: keep-alive connections stick to one worker
            head = head[:-2] + b"Connection: close\r\n\r\n"
        return Planned(request.kind, head, (), None)

    def check(self, n: int, started: float, status: int,
              headers: list[tuple[str, str]]) -> str | None:
        request = fault_request(n)
        matches = self.oracle.versions(request, status, headers)
        if len(matches) != 1:
            return f"{request.kind}: {status} {headers} is the answer of {matches or 'no version'}"
        pid = next((int(v) for k, v in headers if k.lower() == "x-worker"), None)
        self.served.append((started, time.monotonic(), matches[0], pid))
        return None


def atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class LogWatch:
    """The served app's log file (``IISCORS_LOADTEST_LOG``), parsed: ``(pid, level, message)``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self) -> list[tuple[int, str, str]]:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        found = []
        for line in text.splitlines():
            prefix, _, rest = line.partition(" ")
            pid, _, rest = rest.partition(" ")
            level, _, message = rest.partition(" ")
            if prefix == "iiscors-log" and pid.isdigit():
                found.append((int(pid), level, message))
        return found


@dataclass
class FaultState:
    name: str
    started: float  # time.monotonic() when the step was installed
    mark: int = 0  # the log's length (records) just before
    ended: float = float("nan")  # when the next one was
    writes: int = 1


Settle = Callable[["FaultState"], None]


class FaultInjector:
    """Runs :data:`FAULT_STEPS` against ``path`` (which holds version A), calling
    ``settle(state)`` after each step to hold it (sleep, or wait until every worker logged it);
    the flip step writes B and A alternately at ``flip_hz`` for ``flip_seconds``, ending on B,
    before its settle.  ``states`` records what was installed when; ``mark()`` (the log's
    length) is taken just before each step.
    """

    _mark = 0

    def __init__(self, path: Path, settle: Settle, *, flip_seconds: float = 2.0,
                 flip_hz: float = 50.0, mark: Callable[[], int] = lambda: 0) -> None:
        self.path = path
        self.settle = settle
        self.mark = mark
        self.flip_seconds = flip_seconds
        self.flip_hz = flip_hz
        self.states: list[FaultState] = []

    def _install(self, name: str) -> FaultState:
        now = time.monotonic()
        if self.states:
            self.states[-1].ended = now
        state = FaultState(name, now, self._mark)
        self.states.append(state)
        return state

    def run(self) -> list[FaultState]:
        for step in FAULT_STEPS:
            self._mark = self.mark()
            if step in ("bad-edit", "bad-edit-again", "bad-edit-after-flip"):
                atomic_write(self.path, BAD_EDIT)
                state = self._install(step)
            elif step == "truncated":
                os.truncate(self.path, len(BAD_EDIT) // 2)
                state = self._install(step)
            elif step == "deleted":
                self.path.unlink()
                state = self._install(step)
            elif step == "flip":
                state = self._install(step)
                state.writes = 0
                stop = time.monotonic() + self.flip_seconds
                while time.monotonic() < stop or state.writes % 2 == 0:
                    state.writes += 1
                    atomic_write(self.path, FAULT_VERSIONS["B" if state.writes % 2 else "A"])
                    time.sleep(1 / self.flip_hz)
            else:
                atomic_write(self.path, FAULT_VERSIONS["C"])
                state = self._install(step)
            self.settle(state)
        self.states[-1].ended = time.monotonic()
        return self.states


def settle_on_log(watch: LogWatch, workers: Callable[[], list[int]], expected: dict[str, list[str]],
                  *, hold: float, timeout: float = 15.0,
                  problems: list[str] | None = None) -> Settle:
    """A settle that waits until every worker logged the step's diagnostics (bad states whose
    lines are in ``expected``) or a reload (the flip and the restore), then holds the step
    ``hold`` more seconds, so that repeated checks of an identical bad state would show."""

    def settle(state: FaultState) -> None:
        step = state.name
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = set(workers())
            fresh = watch.records()[state.mark:]
            if step in expected:
                wanted = set(expected[step])
                done = {pid for pid in pids
                        if wanted <= {m for p, _, m in fresh if p == pid}}
            elif step in ("flip", "restore"):
                done = {p for p, _, m in fresh if "reloaded" in m or "usable again" in m}
            else:
                break
            if pids and pids <= done:
                break
            time.sleep(0.05)
        else:
            if problems is not None:
                problems.append(f"{step}: not every worker logged it within {timeout:g} s")
        time.sleep(hold)

    return settle


# --- the server -------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _wait_ready(port: int, proc: subprocess.Popen[bytes], workers: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if (
                    sock.recv(12).startswith(b"HTTP/1.1 200")
                    and len(_children(proc.pid)) >= workers
                ):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer within 30 s: {log.read_text(errors='replace')}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the gunicorn master we started (it stops its workers), SIGKILL if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@dataclass
class Result:
    duration_s: float
    connections: int
    workers: int
    threads: int
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    error_samples: list[str]
    by_kind: dict[str, int]
    rss_before_kib: dict[str, int]
    rss_after_kib: dict[str, int]
    max_rss_growth_kib: int
    ok: bool


def _gunicorn_argv(port: int, workers: int, threads: int) -> list[str]:
    return gunicorn_argv(port, "loadtest:make_app()", workers=workers, worker_class="gthread",
                         threads=threads, keep_alive=30)


@dataclass
class FaultResult:
    connections: int
    workers: int
    reload_interval: float
    requests: int
    errors: int
    error_samples: list[str]
    by_version: dict[str, int]
    states: list[dict[str, Any]]
    log_problems: list[str]
    ok: bool


def expected_log(path: Path, diagnostics: dict[str, list[str]]) -> dict[str, int]:
    """What each worker logs over the whole run, by line (see :data:`FAULT_STEPS`): the header
    for each bad state that brings new diagnostics (bad-edit-again brings none: same episode),
    the bad edit's diagnostics in two episodes, the others' in one."""
    want = {UNUSABLE_HEADER.format(path=path): 4}
    for step, times in (("bad-edit", 2), ("truncated", 1), ("deleted", 1)):
        for line in diagnostics[step]:
            want[line] = want.get(line, 0) + times
    return want


def run_faults(
    connections: int,
    workers: int,
    threads: int,
    interval: float,
    flip_seconds: float,
    hold: float,
    log: Callable[[str], None],
) -> FaultResult:
    """Serve under load while :class:`FaultInjector` rewrites the web.config (``--faults``)."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="iiscors-faults-") as tmp_name:
        tmp = Path(tmp_name)
        config = tmp / "web.config"
        diagnostics = state_diagnostics(config)
        config.write_bytes(FAULT_VERSIONS["A"])
        watch = LogWatch(tmp / "iiscors.log")
        port = free_loopback_port()
        gunicorn_log = tmp / "gunicorn.log"
        env = dict(
            os.environ,
            **{CONFIG_ENV: str(config), RELOAD_ENV: str(interval), LOG_ENV: str(watch.path)},
        )
        with gunicorn_log.open("wb") as out:
            proc = subprocess.Popen(
                _gunicorn_argv(port, workers, threads), stdout=out, stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            _wait_ready(port, proc, workers, gunicorn_log)
            pids = _children(proc.pid)
            mix = FaultMix()
            expected = {**diagnostics, "bad-edit-after-flip": diagnostics["bad-edit"]}
            settle = settle_on_log(watch, lambda: pids, expected, hold=hold, problems=problems)
            injector = FaultInjector(
                config, settle, flip_seconds=flip_seconds, mark=lambda: len(watch.records())
            )
            grace = max(1.0, 10 * interval)

            def inject() -> None:
                try:
                    time.sleep(0.5)  # every worker serves A under load first
                    injector.run()
                    time.sleep(grace + 0.5)  # the restored version has to show
                except Exception as exc:
                    problems.append(f"injector: {type(exc).__name__}: {exc}")
                finally:
                    mix.done.set()

            log(f"gunicorn on 127.0.0.1:{port} ({workers} gthread workers x {threads} threads), "
                f"reload_interval {interval:g} s; loading over {connections} connections while "
                f"the web.config goes through {', '.join(FAULT_STEPS)}")
            thread = threading.Thread(target=inject, daemon=True)
            thread.start()
            stats = asyncio.run(_load(port, 600, connections, [0], mix))
            mix.done.set()
            thread.join(30)
            if set(_children(proc.pid)) != set(pids):
                stats.error(f"worker set changed during the run: {pids} -> {_children(proc.pid)}")
        finally:
            _stop(proc)
        for line in gunicorn_log.read_text(errors="replace").splitlines():
            if "[ERROR]" in line or "Traceback" in line:
                stats.error(f"gunicorn log: {line}")
        records = watch.records()
    states = injector.states
    # What each state saw: responses by version (by their start), log lines by worker.
    marks = [state.mark for state in states] + [len(records)]
    counted = expected_log(config, diagnostics)
    rows = []
    for index, state in enumerate(states):
        served: dict[str, int] = {}
        for started, _, version, _ in mix.served:
            if state.started <= started < state.ended:
                served[version] = served.get(version, 0) + 1
        logged: dict[str, int] = {}
        for pid, _, message in records[marks[index] : marks[index + 1]]:
            if message in counted:
                logged[str(pid)] = logged.get(str(pid), 0) + 1
        rows.append({"state": state.name, "seconds": round(state.ended - state.started, 3),
                     "writes": state.writes, "served": served, "logged_lines": logged})
    # The checks: whole-run log counts per worker, last good kept, restored version served.
    got: dict[int, dict[str, int]] = {pid: {} for pid in pids}
    for pid, level, message in records:
        if message in counted:
            got.setdefault(pid, {})[message] = got.get(pid, {}).get(message, 0) + 1
        elif level == "ERROR":
            problems.append(f"unexpected error logged by {pid}: {message}")
    for pid, lines in got.items():
        if lines != counted:
            problems.append(f"worker {pid} logged {lines}, expected {counted}")
    flip = next(state for state in states if state.name == "flip")
    if any(v != "A" for _, ended, v, _ in mix.served if ended < flip.started):
        problems.append("a version other than A was served before the flip")
    restore = states[-1]
    late = {v for started, _, v, _ in mix.served if started >= restore.started + grace}
    if late != {"C"}:
        problems.append(f"served {grace:g} s after the restore: {late or 'nothing'}")
    by_version: dict[str, int] = {}
    for _, _, version, _ in mix.served:
        by_version[version] = by_version.get(version, 0) + 1
    errors = stats.errors
    return FaultResult(
        connections=connections,
        workers=workers,
        reload_interval=interval,
        requests=len(stats.latencies),
        errors=errors,
        error_samples=stats.samples,
        by_version=by_version,
        states=rows,
        log_problems=problems,
        ok=errors == 0 and not problems and bool(mix.served),
    )


def render_faults(r: FaultResult) -> str:
    lines = [
        f"requests   {r.requests} over {r.connections} connections, {r.workers} workers, "
        f"reload_interval {r.reload_interval:g} s",
        f"failed     {r.errors} (must be 0)",
        f"versions   {r.by_version}",
        "states     (responses by version, by start; diagnostic log lines by worker)",
    ]
    for row in r.states:
        writes = f" ({row['writes']} writes)" if row["writes"] > 1 else ""
        lines.append(
            f"  {row['state']:<20} {row['seconds']:7.2f} s{writes}  served {row['served']}  "
            f"logged {row['logged_lines']}"
        )
    lines += [f"  error: {s}" for s in r.error_samples]
    lines += [f"  problem: {p}" for p in r.log_problems]
    lines.append("PASS" if r.ok else "FAIL")
    return "\n".join(lines)


def run(
    duration: float,
    connections: int,
    workers: int,
    threads: int,
    warmup: float,
    max_growth_mb: float,
    log: Callable[[str], None],
) -> Result:
    with tempfile.TemporaryDirectory(prefix="iiscors-loadtest-") as tmp_name:
        tmp = Path(tmp_name)
        config = tmp / "web.config"
        config.write_bytes(WEB_CONFIG)
        port = free_loopback_port()
        gunicorn_log = tmp / "gunicorn.log"
        argv = _gunicorn_argv(port, workers, threads)
        env = dict(os.environ, **{CONFIG_ENV: str(config)})
        with gunicorn_log.open("wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            _wait_ready(port, proc, workers, gunicorn_log)
            counter = [0]
            log(
                f"gunicorn on 127.0.0.1:{port} ({workers} gthread workers x {threads} threads); "
                f"warming up {warmup:g} s"
            )
            warm = asyncio.run(_load(port, warmup, connections, counter))
            pids = _children(proc.pid)
            before = {str(p): _rss_kib(p) for p in pids}
            log(f"loading {duration:g} s over {connections} connections")
            stats = asyncio.run(_load(port, duration, connections, counter))
            after = {str(p): _rss_kib(p) for p in pids if Path(f"/proc/{p}").exists()}
            if set(_children(proc.pid)) != set(pids):
                stats.error(f"worker set changed during the run: {pids} -> {_children(proc.pid)}")
        finally:
            _stop(proc)
        server_errors = [
            line
            for line in gunicorn_log.read_text(errors="replace").splitlines()
            if "[ERROR]" in line or "Traceback" in line
        ]
        for line in server_errors[:5]:
            stats.error(f"gunicorn log: {line}")
    stats.errors += warm.errors
    stats.samples.extend(warm.samples[:5])
    lat = sorted(stats.latencies)
    growth = max((after.get(p, 0) - before[p] for p in before), default=0)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else 0.0
    ok = stats.errors == 0 and growth < max_growth_mb * 1024 and bool(lat)
    return Result(
        duration_s=duration,
        connections=connections,
        workers=workers,
        threads=threads,
        requests=len(lat),
        requests_per_s=len(lat) / duration if duration else 0.0,
        p50_ms=statistics.median(lat) * 1e3 if lat else 0.0,
        p99_ms=p99 * 1e3,
        errors=stats.errors,
        error_samples=stats.samples,
        by_kind=stats.by_kind,
        rss_before_kib=before,
        rss_after_kib=after,
        max_rss_growth_kib=growth,
        ok=ok,
    )


def render(r: Result, max_growth_mb: float) -> str:
    rss = ", ".join(
        f"pid {p}: {r.rss_before_kib[p] / 1024:.1f} -> {r.rss_after_kib.get(p, 0) / 1024:.1f} MiB"
        for p in r.rss_before_kib
    )
    lines = [
        f"requests   {r.requests} in {r.duration_s:g} s over {r.connections} connections",
        f"throughput {r.requests_per_s:.0f} requests/s",
        f"latency    p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms",
        f"errors     {r.errors} (must be 0)",
        f"worker RSS {rss}; max growth {r.max_rss_growth_kib} KiB "
        f"(must be < {max_growth_mb:g} MiB)",
        f"mix        {r.by_kind}",
    ]
    lines += [f"  error: {s}" for s in r.error_samples]
    lines.append("PASS" if r.ok else "FAIL")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (60)")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections (64)")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers (1)")
    parser.add_argument("--threads", type=int, default=16, help="threads per worker (16)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="seconds before the RSS baseline (default: min(5, duration/3))",
    )
    parser.add_argument("--max-rss-growth-mb", type=float, default=5.0)
    parser.add_argument("--json", type=Path, help="also write the result as JSON here")
    parser.add_argument(
        "--faults",
        action="store_true",
        help="rewrite the web.config under load (bad edit, truncated, deleted, atomic flips, "
        "restore); the schedule sets the length, --duration is ignored",
    )
    parser.add_argument("--reload-interval", type=float, default=0.2, help="--faults: (0.2)")
    parser.add_argument(
        "--flip-seconds", type=float, default=2.0, help="--faults: seconds of flips (2)"
    )
    parser.add_argument(
        "--hold",
        type=float,
        default=None,
        help="--faults: seconds each state is held once every worker logged it "
        "(default: 5 reload intervals, at least 0.5)",
    )
    args = parser.parse_args(argv)
    if args.faults:
        if args.connections < 1 or args.workers < 1 or args.threads < 1:
            parser.error("connections, workers and threads must be positive")
        if args.reload_interval <= 0 or args.flip_seconds <= 0:
            parser.error("--reload-interval and --flip-seconds must be positive")
        hold = args.hold if args.hold is not None else max(0.5, 5 * args.reload_interval)
        try:
            faults = run_faults(
                args.connections,
                args.workers,
                args.threads,
                args.reload_interval,
                args.flip_seconds,
                hold,
                lambda m: print(m, file=sys.stderr, flush=True),
            )
        except RuntimeError as exc:
            print(f"loadtest: {exc}", file=sys.stderr)
            return 2
        print(render_faults(faults))
        if args.json:
            args.json.write_text(json.dumps(asdict(faults), indent=2))
        return 0 if faults.ok else 1
    if args.duration <= 0 or args.connections < 1 or args.workers < 1 or args.threads < 1:
        parser.error("duration, connections, workers and threads must be positive")
    warmup = args.warmup if args.warmup is not None else min(5.0, args.duration / 3)
    try:
        result = run(
            args.duration,
            args.connections,
            args.workers,
            args.threads,
            warmup,
            args.max_rss_growth_mb,
            lambda m: print(m, file=sys.stderr, flush=True),
        )
    except RuntimeError as exc:
        print(f"loadtest: {exc}", file=sys.stderr)
        return 2
    print(render(result, args.max_rss_growth_mb))
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
