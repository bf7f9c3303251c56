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
...), so a per-origin cache in the middleware would show up as memory growth.

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
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TOOLS = Path(__file__).resolve().parent
CONFIG_ENV = "IISCORS_LOADTEST_CONFIG"

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


def make_app() -> Any:
    """gunicorn entry point: ``loadtest:make_app()`` with ``IISCORS_LOADTEST_CONFIG`` set."""
    from iiscors import CorsMiddleware

    return CorsMiddleware(_inner_app, Path(os.environ[CONFIG_ENV]))


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


async def _connection(port: int, stop_at: float, counter: list[int], stats: Stats) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.monotonic() < stop_at:
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
        planned = plan(n)
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
        problem = _check(planned, status, headers)
        if problem:
            stats.error(problem)
        if not keep:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def _load(port: int, seconds: float, connections: int, counter: list[int]) -> Stats:
    stats = Stats()
    stop_at = time.monotonic() + seconds
    await asyncio.gather(*(_connection(port, stop_at, counter, stats) for _ in range(connections)))
    return stats


# --- the server -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
        port = _free_port()
        gunicorn_log = tmp / "gunicorn.log"
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "--chdir",
            str(TOOLS),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
            "loadtest:make_app()",
        ]
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
    args = parser.parse_args(argv)
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
