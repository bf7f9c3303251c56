"""``--reload-edits``: what a hot reload costs the requests around it (issue 17).

gunicorn on 127.0.0.1 serves the load app behind iiscors with a large web.config (10,000
realistic rules by default), under allowed GETs over N connections.  Each pass runs the same
load twice, in turns: once untouched, once while the web.config is rewritten ``edits`` times
(atomic renames, evenly spread).  Every answer must come whole from one version: each version
writes its name into every rule's ``exposeHeaders`` and into a customHeaders ``X-Version`` (C1),
so a mixture would show.  Reported per run: requests, p50, p99 and max latency, the requests
served by each version, the reloads the worker logged.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from loadtesting.app import CONFIG_ENV, LOG_ENV, MAX_BYTES_ENV, RELOAD_ENV
from loadtesting.client import Stats, load
from loadtesting.gunicorn_server import gunicorn
from loadtesting.mix import Planned, Response, http_head


def version_config(rules: int, tag: str) -> bytes:
    """``rules`` realistic rules (credentials, a method list), each naming version ``tag``."""
    body = "".join(
        f'<add origin="https://app{i:05d}.example.com" allowCredentials="true">'
        f'<allowMethods><add method="GET"/></allowMethods>'
        f'<exposeHeaders><add header="X-{tag}"/></exposeHeaders></add>\n'
        for i in range(1, rules + 1))
    return ('<?xml version="1.0" encoding="utf-8"?>\n<configuration><system.webServer>'
            f'<cors enabled="true" failUnlistedOrigins="true">\n{body}</cors>'
            f'<httpProtocol><customHeaders><add name="X-Version" value="{tag}"/>'
            "</customHeaders></httpProtocol></system.webServer></configuration>\n").encode()


class VersionMix:
    """Allowed GETs from the configured origins, in a stride that visits them all; each answer
    must be one version's whole answer, counted by version."""

    def __init__(self, rules: int) -> None:
        self.rules = rules
        self.by_version: dict[str, int] = {}

    def origin(self, n: int) -> str:
        return f"https://app{(n * 7919) % self.rules + 1:05d}.example.com"

    def plan(self, n: int) -> Planned:
        origin = self.origin(n)
        return Planned("allowed GET", http_head("GET", "/", [("Origin", origin)]), (200,), origin)

    def check(self, n: int, planned: Planned, started: float, response: Response) -> str | None:
        if response.status != 200:
            return f"status {response.status}"
        get = [(k, v) for k, v in response.headers]
        versions = [v for k, v in get if k == "x-version"]
        expose = [v for k, v in get if k == "access-control-expose-headers"]
        acao = [v for k, v in get if k == "access-control-allow-origin"]
        if acao != [planned.acao] or len(versions) != 1 or expose != [f"X-{versions[0]}"]:
            return f"a mixed or wrong answer: {get}"
        self.by_version[versions[0]] = self.by_version.get(versions[0], 0) + 1
        return None

    def finished(self) -> bool:
        return False


@dataclass
class RunFigures:
    edits: int
    requests: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    error_samples: list[str]
    by_version: dict[str, int]
    reloads_logged: int


@dataclass
class ReloadOptions:
    rules: int
    edits: int
    duration: float
    connections: int
    threads: int
    reload_interval: float
    passes: int


@dataclass
class ReloadResult:
    options: ReloadOptions
    runs: list[RunFigures] = field(default_factory=list)
    ok: bool = False


def run_once(options: ReloadOptions, edits: int, tmp: Path, log: Callable[[str], None]
             ) -> RunFigures:
    """One load of ``options.duration`` on a fresh server, with ``edits`` rewrites."""
    config, log_file = tmp / "web.config", tmp / f"iiscors-{edits}.log"
    config.write_bytes(version_config(options.rules, "v0"))
    deployed = time.time() - 3600  # not racy: the first check does not rebuild it again
    os.utime(config, (deployed, deployed))
    log_file.write_text("")
    env = {CONFIG_ENV: str(config), RELOAD_ENV: str(options.reload_interval),
           LOG_ENV: str(log_file), MAX_BYTES_ENV: str(4 * config.stat().st_size)}
    mix = VersionMix(options.rules)
    with gunicorn(tmp, env, 1, options.threads) as server:
        warm = asyncio.run(load(server.port, 2.0, options.connections, mix, itertools.count()))
        mix.by_version.clear()
        editor = threading.Thread(target=rewrite, daemon=True,
                                  args=(config, options, edits))
        log(f"  load {options.duration:g} s over {options.connections} connections, "
            f"{edits} edits")
        editor.start()
        stats = asyncio.run(load(server.port, options.duration, options.connections, mix,
                                 itertools.count(10**9)))
        editor.join(options.duration + 60)
        errors = server.error_lines()
    stats.absorb_errors(warm)
    for line in errors:
        stats.error(f"gunicorn log: {line}")
    reloads = sum("reloaded" in line for line in log_file.read_text().splitlines())
    return figures(stats, edits, mix.by_version, reloads)


def rewrite(config: Path, options: ReloadOptions, edits: int) -> None:
    """``edits`` versions, written by rename at evenly spread times of the load."""
    if not edits:
        return
    step = options.duration / (edits + 1)
    start = time.monotonic()
    for k in range(1, edits + 1):
        time.sleep(max(0.0, start + k * step - time.monotonic()))
        data = version_config(options.rules, f"v{k}")
        temporary = config.with_name("web.config.new")
        temporary.write_bytes(data)
        temporary.replace(config)


def figures(stats: Stats, edits: int, by_version: dict[str, int], reloads: int) -> RunFigures:
    latencies = stats.latencies
    return RunFigures(edits, len(latencies), stats.p50_ms(), stats.p99_ms(),
                      max(latencies, default=0.0) * 1e3, stats.errors, stats.samples,
                      dict(sorted(by_version.items(), key=lambda kv: int(kv[0][1:]))), reloads)


def run_reload(options: ReloadOptions, log: Callable[[str], None]) -> ReloadResult:
    """``passes`` pairs of runs, untouched and edited, in turns (the order swaps each pass)."""
    result = ReloadResult(options)
    with tempfile.TemporaryDirectory(prefix="iiscors-reload-") as tmp_name:
        for index in range(options.passes):
            order = (0, options.edits) if index % 2 == 0 else (options.edits, 0)
            for edits in order:
                log(f"pass {index + 1}/{options.passes}:")
                result.runs.append(run_once(options, edits, Path(tmp_name), log))
    # Every answer whole from one version (the mix checks it), and the edits were applied; an
    # edit made while the previous one was still being built is folded into the next rebuild,
    # so there may be fewer reloads than edits.
    result.ok = all(r.errors == 0 and r.requests for r in result.runs) and all(
        r.reloads_logged >= 1 and len(r.by_version) > 1 for r in result.runs if r.edits)
    return result


def render_reload(r: ReloadResult) -> str:
    o = r.options
    lines = [f"{o.rules:,} rules, {o.connections} connections, gunicorn 1 worker x {o.threads} "
             f"threads, reload_interval {o.reload_interval:g} s, {o.duration:g} s per run",
             "| edits | requests | p50 ms | p99 ms | max ms | reloads logged | errors |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for run in r.runs:
        lines.append(f"| {run.edits} | {run.requests:,} | {run.p50_ms:.2f} | {run.p99_ms:.2f} "
                     f"| {run.max_ms:.1f} | {run.reloads_logged} | {run.errors} |")
    for kind in (0, o.edits):
        runs = [run for run in r.runs if run.edits == kind]
        if len(runs) > 1:
            lines.append(f"medians, {kind} edits: p50 "
                         f"{statistics.median(x.p50_ms for x in runs):.2f}, p99 "
                         f"{statistics.median(x.p99_ms for x in runs):.2f}, max "
                         f"{statistics.median(x.max_ms for x in runs):.1f} ms")
    for run in r.runs:
        if run.edits:
            lines.append(f"served by version ({run.edits} edits): {run.by_version}")
        lines += [f"  error: {s}" for s in run.error_samples]
    lines.append("PASS" if r.ok else "FAIL")
    return "\n".join(lines)
