"""The CORS load test of issue 7: gunicorn on 127.0.0.1 serving an app behind iiscors, under
issue 7's mix with unique origins (:func:`loadtesting.mix.cors_plan`).

Warms up, reads every worker's RSS (``/proc/<pid>/status``), loads the server for the duration,
then reads the RSS again.  Passes with zero errors and every worker's RSS growth under the
limit (5 MB by default).
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loadtesting.app import CONFIG_ENV
from loadtesting.client import Stats, load
from loadtesting.gunicorn_server import gunicorn
from loadtesting.mix import WEB_CONFIG, PlannedMix, cors_plan
from loadtesting.processes import rss_kib


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
    mix, counter = PlannedMix(cors_plan), itertools.count()
    with tempfile.TemporaryDirectory(prefix="iiscors-loadtest-") as tmp_name:
        tmp = Path(tmp_name)
        config = tmp / "web.config"
        config.write_bytes(WEB_CONFIG)
        with gunicorn(tmp, {CONFIG_ENV: str(config)}, workers, threads) as server:
            log(f"gunicorn on 127.0.0.1:{server.port} ({workers} gthread workers x {threads} "
                f"threads); warming up {warmup:g} s")
            warm = asyncio.run(load(server.port, warmup, connections, mix, counter))
            pids = server.workers()
            before = {str(p): rss_kib(p) for p in pids}
            log(f"loading {duration:g} s over {connections} connections")
            stats = asyncio.run(load(server.port, duration, connections, mix, counter))
            after = {str(p): rss_kib(p) for p in pids if Path(f"/proc/{p}").exists()}
            if set(server.workers()) != set(pids):
                stats.error(f"worker set changed during the run: {pids} -> {server.workers()}")
        for line in server.error_lines()[:5]:
            stats.error(f"gunicorn log: {line}")
    stats.absorb_errors(warm)
    growth = max((after.get(p, 0) - before[p] for p in before), default=0)
    ok = stats.errors == 0 and growth < max_growth_mb * 1024 and bool(stats.latencies)
    return result_of(stats, duration, connections, workers, threads, before, after, growth, ok)


def result_of(stats: Stats, duration: float, connections: int, workers: int, threads: int,
              before: dict[str, int], after: dict[str, int], growth: int, ok: bool) -> Result:
    requests = len(stats.latencies)
    return Result(
        duration_s=duration,
        connections=connections,
        workers=workers,
        threads=threads,
        requests=requests,
        requests_per_s=requests / duration if duration else 0.0,
        p50_ms=stats.p50_ms(),
        p99_ms=stats.p99_ms(),
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
