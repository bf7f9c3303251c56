"""``--serve``: ``iiscors serve --root DIR`` and ``iiscors serve CONFIG --proxy URL`` under load
(issue 12): by default 60 s at 64 keep-alive connections on 127.0.0.1 each.

The command is launched as it would be by hand (``python -m iiscors serve ... --host 127.0.0.1
--port N``, plus ``--serve-args``); the tool waits for the port to accept connections and parses
nothing the server prints, so it runs whatever server ``iiscors serve`` uses.  For ``--proxy``
the tool first starts its own backend (:mod:`loadtesting.backend`) on another loopback port.

After a warm-up, the RSS of the serving process (with any children it forks) is read, the load
runs, and the RSS is read again.  Passes with zero errors (every response as
:mod:`loadtesting.serve_mix` expects, no timeout, no connection error, no traceback in the
server's output, the server still running) and an RSS growth under the limit (5 % by default).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from _benchlib import free_loopback_port

from loadtesting.client import Stats, load
from loadtesting.mix import WEB_CONFIG, PlannedMix
from loadtesting.processes import error_lines, launched, tree_rss_kib
from loadtesting.serve_mix import proxy_plan, root_plan, write_site

#: What ``--serve`` can load: the static site and the reverse proxy.
TARGETS = ("root", "proxy")
SERVE_COMMAND = (sys.executable, "-m", "iiscors", "serve")
BACKEND = Path(__file__).resolve().with_name("backend.py")


@dataclass(frozen=True)
class ServeOptions:
    duration: float
    connections: int
    warmup: float
    max_growth_pct: float = 5.0
    serve_args: tuple[str, ...] = ()  # appended to every `iiscors serve` command


@dataclass
class ServeResult:
    target: str
    command: list[str]
    duration_s: float
    connections: int
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    error_samples: list[str]
    by_kind: dict[str, int]
    rss_launch_kib: int  # once the port accepted, before any request
    rss_start_kib: int  # after the warm-up: the baseline of the growth
    rss_end_kib: int
    rss_growth_pct: float
    max_rss_growth_pct: float
    ok: bool


@contextmanager
def backend(tmp: Path) -> Iterator[str]:
    """:mod:`loadtesting.backend` running on a free loopback port; yields its URL."""
    port = free_loopback_port()
    argv = [sys.executable, str(BACKEND), str(port)]
    with launched(argv, tmp / "backend.log", port):
        yield f"http://127.0.0.1:{port}"


def serve_command(target: str, tmp: Path, port: int, backend_url: str | None,
                  extra: Sequence[str]) -> list[str]:
    """The `iiscors serve` command line for ``target``, its files written under ``tmp``."""
    if target == "root":
        site = tmp / "site"
        site.mkdir()
        write_site(site)
        what = ["--root", str(site)]
    else:
        config = tmp / "web.config"
        config.write_bytes(WEB_CONFIG)
        what = [str(config), "--proxy", str(backend_url)]
    return [*SERVE_COMMAND, *what, "--host", "127.0.0.1", "--port", str(port), *extra]


def run_serve(target: str, options: ServeOptions, log: Callable[[str], None]) -> ServeResult:
    """Launch `iiscors serve` for ``target`` ("root" or "proxy") and load it."""
    mix = PlannedMix(root_plan if target == "root" else proxy_plan)
    counter = itertools.count()
    with tempfile.TemporaryDirectory(prefix=f"iiscors-serve-{target}-") as tmp_name, \
            ExitStack() as stack:
        tmp = Path(tmp_name)
        url = stack.enter_context(backend(tmp)) if target == "proxy" else None
        port = free_loopback_port()
        argv = serve_command(target, tmp, port, url, options.serve_args)
        server_log = tmp / "serve.log"
        proc = stack.enter_context(launched(argv, server_log, port))
        launch = tree_rss_kib(proc.pid)
        log(f"{target}: `{' '.join(argv[1:])}` accepts on 127.0.0.1:{port}; warming up "
            f"{options.warmup:g} s over {options.connections} connections")
        warm = asyncio.run(load(port, options.warmup, options.connections, mix, counter))
        start = tree_rss_kib(proc.pid)
        log(f"{target}: loading {options.duration:g} s")
        stats = asyncio.run(load(port, options.duration, options.connections, mix, counter))
        end = tree_rss_kib(proc.pid)
        if proc.poll() is not None:
            stats.error(f"`iiscors serve` exited during the run ({proc.returncode})")
        stack.close()  # stop the server and the backend before reading their logs
        for line in error_lines(server_log)[:5]:
            stats.error(f"server output: {line}")
    stats.absorb_errors(warm)
    return result_of(target, argv, options, stats, (launch, start, end))


def growth_pct(start_kib: int, end_kib: int) -> float:
    """RSS growth from ``start_kib`` to ``end_kib``, in percent of the start (inf if unknown)."""
    return (end_kib - start_kib) / start_kib * 100 if start_kib > 0 else float("inf")


def result_of(target: str, argv: list[str], options: ServeOptions, stats: Stats,
              rss: tuple[int, int, int]) -> ServeResult:
    launch, start, end = rss
    growth = growth_pct(start, end)
    requests = len(stats.latencies)
    return ServeResult(
        target=target,
        command=argv,
        duration_s=options.duration,
        connections=options.connections,
        requests=requests,
        requests_per_s=requests / options.duration,
        p50_ms=stats.p50_ms(),
        p99_ms=stats.p99_ms(),
        errors=stats.errors,
        error_samples=stats.samples,
        by_kind=stats.by_kind,
        rss_launch_kib=launch,
        rss_start_kib=start,
        rss_end_kib=end,
        rss_growth_pct=growth,
        max_rss_growth_pct=options.max_growth_pct,
        ok=stats.errors == 0 and requests > 0 and growth < options.max_growth_pct,
    )


def render_serve(r: ServeResult) -> str:
    lines = [
        f"serve {r.target:<6} `{' '.join(r.command[1:])}`",
        f"requests   {r.requests} in {r.duration_s:g} s over {r.connections} connections",
        f"throughput {r.requests_per_s:.0f} requests/s",
        f"latency    p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms",
        f"errors     {r.errors} (must be 0)",
        f"server RSS {r.rss_start_kib / 1024:.1f} MiB after the warm-up -> "
        f"{r.rss_end_kib / 1024:.1f} MiB at the end: {r.rss_growth_pct:+.2f} % "
        f"(must be < {r.max_rss_growth_pct:g} %; {r.rss_launch_kib / 1024:.1f} MiB at launch)",
        f"mix        {r.by_kind}",
    ]
    lines += [f"  error: {s}" for s in r.error_samples]
    lines.append("PASS" if r.ok else "FAIL")
    return "\n".join(lines)
