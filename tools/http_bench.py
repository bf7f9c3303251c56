#!/usr/bin/env python
"""Over-HTTP benchmark: gunicorn with and without iiscors under the same load (issue 6).

Starts two gunicorn servers on 127.0.0.1 (free ports), one serving a bare Werkzeug app and one
the same app behind iiscors, checks that each answers CORS as expected, then loads them in
turns with ``wrk`` (a Lua script adds the Origin and preflight headers) or, when wrk is not
installed or ``--python-load`` is given, a bounded Python load generator. Prints the
throughput of each, the ratio (target >= 0.95) and p50/p99 latency. Only loopback traffic; both
servers are stopped on exit, whatever happens.

Usage::

    python tools/http_bench.py                    # 10,000-origin web.config, 48 rounds of 1 s
    python tools/http_bench.py --quick            # 2 rounds of 3 s
    python tools/http_bench.py --mix --json out.json --check

The load generator and the server share this machine's CPUs: compare the two servers with
each other, not with figures from another machine.  Many short rounds in turns, rather than a
few long ones, let a drift in the (shared) machine's speed hit both servers alike: the
per-round ratios of back-to-back runs are reported with their median.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The sibling module is found through the sys.path entry above.
from _benchlib import (
    REQUESTS,
    BenchRequest,
    Scenario,
    exact_scenario,
    free_loopback_port,
    gunicorn_argv,
    request_headers,
)

TOOLS = Path(__file__).resolve().parent
TARGET_THROUGHPUT_RATIO = 0.95
MODES = ("bare", "iiscors")


@dataclass
class Server:
    mode: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path


def start_server(
    mode: str, config_path: Path, workers: int, worker_class: str, tmp: Path
) -> Server:
    port = free_loopback_port()
    log = tmp / f"gunicorn-{mode}.log"
    env = dict(os.environ, IISCORS_BENCH_MODE=mode, IISCORS_BENCH_CONFIG=str(config_path))
    argv = gunicorn_argv(port, "_benchlib:make_server_app()", workers=workers,
                         worker_class=worker_class)
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(mode, port, proc, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"gunicorn ({mode}) exited: {log.read_text(errors='replace')[-2000:]}"
            )
        try:
            fetch(port, "GET", {})
            return server
        except OSError:
            time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"gunicorn ({mode}) did not answer within 30 s")


def worker_cpu_seconds(server: Server) -> float | None:
    """User + system CPU seconds of the gunicorn workers so far (Linux ``/proc``), else None.

    CPU time is what the server spent on the requests, whatever else the shared machine did
    meanwhile: time stolen by other guests, or the load generator waiting, is not counted.
    """
    pid = server.proc.pid
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ticks = 0
        for child in children:
            # Fields after the command's closing parenthesis: utime and stime are the 12th and
            # 13th (fields 14 and 15 of proc(5)).
            fields = Path(f"/proc/{child}/stat").read_text().rpartition(")")[2].split()
            ticks += int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK") if children else None


def stop_server(server: Server) -> None:
    """SIGTERM to the gunicorn master we started (it stops its workers), SIGKILL if it hangs."""
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(timeout=5)


def fetch(
    port: int, method: str, headers: dict[str, str]
) -> tuple[int, list[tuple[str, str]], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, "/", headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


def verify(server: Server, scenario: Scenario) -> list[str]:
    """The CORS answers over HTTP: iiscors adds ACAO (204 for preflights), the bare app never."""
    problems = []
    for request in REQUESTS:
        status, headers, _ = fetch(server.port, request.method, request_headers(scenario, request))
        acao = [v for k, v in headers if k.lower() == "access-control-allow-origin"]
        allowed = server.mode == "iiscors" and request.origin == "allowed"
        if allowed and acao != [scenario.allowed_origin]:
            problems.append(f"{server.mode} {request.name}: expected ACAO, got {acao!r}")
        if not allowed and acao:
            problems.append(f"{server.mode} {request.name}: unexpected ACAO {acao!r}")
        if allowed and request.preflight and status != 204:
            problems.append(f"{server.mode} {request.name}: expected 204, got {status}")
        if status >= 500:
            problems.append(f"{server.mode} {request.name}: status {status}")
    return problems


# --- load generation --------------------------------------------------------------------------


def lua_script(scenario: Scenario, requests: list[BenchRequest]) -> str:
    """A wrk script cycling through ``requests``; done() prints one JSON line of results."""
    formatted = []
    for request in requests:
        headers = {k: v for k, v in request_headers(scenario, request).items() if k != "host"}
        pairs = ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items())
        formatted.append(f'wrk.format("{request.method}", "/", {{{pairs}}})')
    return (
        "-- generated by tools/http_bench.py\n"
        "local reqs = {}\n"
        "local i = 0\n"
        "init = function(args)\n"
        + "".join(f"  reqs[{n + 1}] = {f}\n" for n, f in enumerate(formatted))
        + "end\n"
        "request = function()\n"
        "  i = i % #reqs + 1\n"
        "  return reqs[i]\n"
        "end\n"
        "done = function(summary, latency, requests)\n"
        "  local e = summary.errors\n"
        '  io.write(string.format("WRKJSON {\\"requests\\": %d, \\"duration_us\\": %d, '
        '\\"errors\\": %d, \\"non_2xx_3xx\\": %d, '
        '\\"p50_us\\": %d, \\"p99_us\\": %d, \\"max_us\\": %d}\\n",\n'
        "    summary.requests, summary.duration,\n"
        "    e.connect + e.read + e.write + e.timeout, e.status,\n"
        "    latency:percentile(50), latency:percentile(99), latency.max))\n"
        "end\n"
    )


@dataclass
class Run:
    mode: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    #: CPU seconds the server's workers spent during the run (None where /proc cannot tell)
    cpu_s: float | None = None


def run_wrk(
    wrk: str,
    port: int,
    script: Path,
    duration: float,
    connections: int,
    threads: int,
    mode: str,
) -> Run:
    argv = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration:g}s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}/",
    ]
    proc = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=duration + 60)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(
            f"wrk failed ({proc.returncode}): {proc.stdout[-1000:]} {proc.stderr[-1000:]}"
        )
    data = json.loads(line[len("WRKJSON ") :])
    return Run(
        mode,
        data["requests"] / (data["duration_us"] / 1e6),
        data["p50_us"] / 1e3,
        data["p99_us"] / 1e3,
        data["errors"] + data["non_2xx_3xx"],
        data["requests"],
    )


@dataclass
class _LoadState:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


#: The Python load generator stops after this many requests in all.
PYTHON_LOAD_MAX_REQUESTS = 200_000


def run_python_load(
    port: int,
    scenario: Scenario,
    requests: list[BenchRequest],
    duration: float,
    connections: int,
    mode: str,
) -> Run:
    """Bounded fallback: ``connections`` threads, each one keep-alive connection, until the
    deadline or :data:`PYTHON_LOAD_MAX_REQUESTS` in all. Python's client is much slower than
    wrk: the ratio stays meaningful, the absolute throughput does not."""
    deadline = time.monotonic() + duration
    states = [_LoadState() for _ in range(connections)]
    prepared = [
        (r.method, {k: v for k, v in request_headers(scenario, r).items() if k != "host"})
        for r in requests
    ]
    limit = PYTHON_LOAD_MAX_REQUESTS // connections
    t0 = time.perf_counter()
    threads = [
        threading.Thread(target=_python_client, args=(port, prepared, deadline, limit, s),
                         daemon=True)
        for s in states
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 30)
    elapsed = time.perf_counter() - t0
    lat = sorted(x for s in states for x in s.latencies)
    if not lat:
        raise RuntimeError("the Python load generator completed no request")
    return Run(
        mode,
        len(lat) / elapsed,
        lat[len(lat) // 2] * 1e3,
        lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3,
        sum(s.errors for s in states),
        len(lat),
    )


def _python_client(port: int, prepared: list[tuple[str, dict[str, str]]], deadline: float,
                   limit: int, state: _LoadState) -> None:
    """One connection of :func:`run_python_load`: the prepared requests in turn."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    i = 0
    try:
        while time.monotonic() < deadline and len(state.latencies) < limit:
            method, headers = prepared[i % len(prepared)]
            i += 1
            t0 = time.perf_counter()
            try:
                conn.request(method, "/", headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status >= 400 or resp.will_close:
                    # gunicorn's sync worker closes after each response: reconnect.
                    state.errors += resp.status >= 400
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            except OSError:
                state.errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            state.latencies.append(time.perf_counter() - t0)
    finally:
        conn.close()


# --- main -------------------------------------------------------------------------------------


def summarize(runs: list[Run]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in MODES:
        mine = [r for r in runs if r.mode == mode]
        out[mode] = {
            "rps_median": statistics.median(r.rps for r in mine),
            "rps_min": min(r.rps for r in mine),
            "rps_max": max(r.rps for r in mine),
            "p50_ms_median": statistics.median(r.p50_ms for r in mine),
            "p99_ms_median": statistics.median(r.p99_ms for r in mine),
            "p99_ms_max": max(r.p99_ms for r in mine),
            "errors": sum(r.errors for r in mine),
            "requests": sum(r.requests for r in mine),
        }
    out["throughput_ratio"] = out["iiscors"]["rps_median"] / out["bare"]["rps_median"]
    # Per-round ratios (bare and iiscors ran back to back) show how much of the spread is drift.
    pairs = list(
        zip(
            [r for r in runs if r.mode == "bare"],
            [r for r in runs if r.mode == "iiscors"],
            strict=True,
        )
    )
    out["round_ratios"] = [i.rps / b.rps for b, i in pairs]
    out["round_ratio_median"] = statistics.median(out["round_ratios"])
    # Server CPU per request, over all rounds: the low-noise view of the same comparison.
    for mode in MODES:
        mine = [r for r in runs if r.mode == mode]
        cpu = [r.cpu_s for r in mine]
        out[mode]["cpu_us_per_request"] = (
            None if any(c is None for c in cpu)
            else sum(c for c in cpu if c is not None) / sum(r.requests for r in mine) * 1e6)
    bare_cpu, iiscors_cpu = (out[m]["cpu_us_per_request"] for m in MODES)
    out["cpu_ratio"] = None if not bare_cpu or iiscors_cpu is None else bare_cpu / iiscors_cpu
    return out


def render(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        f"# gunicorn over loopback: {meta['load']}, {meta['rounds']} rounds "
        f"of {meta['duration']:g} s, {meta['connections']} connections, "
        f"{meta['workers']} {meta['worker_class']} worker(s), "
        f"{meta['origins']:,}-origin web.config, requests: {meta['requests']}",
        "",
        "| server | req/s median | min–max | p50 ms | p99 ms (median) | p99 ms (worst) | errors "
        "| server CPU µs/request |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mode in MODES:
        s = summary[mode]
        name = "werkzeug bare" if mode == "bare" else "werkzeug + iiscors"
        cols = [
            name,
            f"{s['rps_median']:,.0f}",
            f"{s['rps_min']:,.0f}–{s['rps_max']:,.0f}",
            f"{s['p50_ms_median']:.2f}",
            f"{s['p99_ms_median']:.2f}",
            f"{s['p99_ms_max']:.2f}",
            str(s["errors"]),
            "–" if s["cpu_us_per_request"] is None else f"{s['cpu_us_per_request']:.0f}",
        ]
        lines.append("| " + " | ".join(cols) + " |")
    ratios = ", ".join(f"{r:.3f}" for r in summary["round_ratios"])
    ratio = summary["throughput_ratio"]
    verdict = "PASS" if ratio >= TARGET_THROUGHPUT_RATIO else "FAIL"
    lines += [
        "",
        f"Throughput ratio iiscors / bare: **{ratio:.3f}** (ratio of the medians; median of "
        f"the per-round ratios {summary['round_ratio_median']:.3f}; per round: {ratios}); "
        f"target >= {TARGET_THROUGHPUT_RATIO}: {verdict}",
    ]
    if summary["cpu_ratio"] is not None:
        bare, ours = summary["bare"]["cpu_us_per_request"], summary["iiscors"]["cpu_us_per_request"]
        lines += [
            "",
            f"Server CPU per request: bare {bare:.0f} µs, with iiscors {ours:.0f} µs "
            f"({ours - bare:+.0f} µs): the throughput the CPU allows, iiscors / bare, "
            f"is {summary['cpu_ratio']:.3f} (not disturbed by the machine's drift).",
        ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="gunicorn with and without iiscors under the same load")
    p.add_argument("--origins", type=int, default=10_000,
                   help="exact origins in the web.config (default 10000)")
    p.add_argument("--duration", type=float, help="seconds per run (default 1, --quick 3)")
    p.add_argument("--rounds", type=int,
                   help="runs per server, taken in turns (default 48, --quick 2)")
    p.add_argument("--connections", type=int, default=4, help="concurrent connections (default 4)")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    p.add_argument("--workers", type=int, default=1, help="gunicorn workers per server (default 1)")
    p.add_argument("--worker-class", default="sync", help="gunicorn worker class (default sync)")
    p.add_argument("--mix", action="store_true",
                   help="cycle through all five request kinds instead of allowed GETs")
    p.add_argument("--python-load", action="store_true",
                   help="use the Python load generator even if wrk is installed")
    p.add_argument("--quick", action="store_true", help="2 rounds of 3 s")
    p.add_argument("--json", metavar="FILE",
                   help="write the results as JSON to FILE ('-': stdout, instead of the table)")
    p.add_argument("--check", action="store_true",
                   help=f"exit 1 when the throughput ratio is below {TARGET_THROUGHPUT_RATIO}")
    return p.parse_args(argv)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Load:
    """What loads the servers: wrk with its script, or the Python load generator."""

    args: argparse.Namespace
    scenario: Scenario
    requests: list[BenchRequest]
    wrk: str | None
    script: Path

    def run(self, server: Server, seconds: float) -> Run:
        if self.wrk:
            return run_wrk(self.wrk, server.port, self.script, seconds, self.args.connections,
                           self.args.threads, server.mode)
        return run_python_load(server.port, self.scenario, self.requests, seconds,
                               self.args.connections, server.mode)


def measure(servers: list[Server], load: Load, duration: float, rounds: int) -> list[Run]:
    """A warm-up of each server, then ``rounds`` runs of each, in turns."""
    runs = []
    for server in servers:  # warm-up, not recorded
        load.run(server, 1)
    for r in range(rounds):
        # Alternate which server goes first, so a drift in the machine's speed hits both.
        for server in servers if r % 2 == 0 else servers[::-1]:
            cpu_before = worker_cpu_seconds(server)
            run = load.run(server, duration)
            cpu_after = worker_cpu_seconds(server)
            if cpu_before is not None and cpu_after is not None:
                run.cpu_s = cpu_after - cpu_before
            runs.append(run)
            log(f"round {r + 1} {server.mode}: {run.rps:,.0f} req/s, "
                f"p99 {run.p99_ms:.2f} ms, errors {run.errors}")
    return runs


def serve_and_measure(args: argparse.Namespace, scenario: Scenario, requests: list[BenchRequest],
                      wrk: str | None, duration: float, rounds: int) -> list[Run] | None:
    """Both servers started and checked, then measured; None when an answer is wrong."""
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="iiscors-http-bench-") as tmpdir:
        tmp = Path(tmpdir)
        config = tmp / "web.config"
        config.write_bytes(scenario.webconfig)
        script = tmp / "cors.lua"
        script.write_text(lua_script(scenario, requests), encoding="utf-8")
        try:
            for mode in MODES:
                servers.append(start_server(mode, config, args.workers, args.worker_class, tmp))
                log(f"{mode}: gunicorn pid {servers[-1].proc.pid} on 127.0.0.1:{servers[-1].port}")
            problems = [msg for s in servers for msg in verify(s, scenario)]
            for msg in problems:
                log(f"NOT VERIFIED: {msg}")
            if problems:
                return None
            load = Load(args, scenario, requests, wrk, script)
            return measure(servers, load, duration, rounds)
        finally:
            for server in servers:
                stop_server(server)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    duration = args.duration or (3.0 if args.quick else 1.0)
    rounds = args.rounds or (2 if args.quick else 48)
    scenario = exact_scenario(args.origins)
    requests = list(REQUESTS) if args.mix else [r for r in REQUESTS if r.name == "allowed GET"]
    wrk = None if args.python_load else shutil.which("wrk")
    meta: dict[str, Any] = {
        "load": "wrk" if wrk else "python load generator",
        "duration": duration,
        "rounds": rounds,
        "connections": args.connections,
        "workers": args.workers,
        "worker_class": args.worker_class,
        "origins": args.origins,
        "requests": "all five kinds in turn" if args.mix else "allowed GET from the last origin",
        "python": sys.version.split()[0],
    }
    runs = serve_and_measure(args, scenario, requests, wrk, duration, rounds)
    if runs is None:
        return 1
    summary = summarize(runs)
    if args.json:
        text = json.dumps({"meta": meta, "summary": summary, "runs": [r.__dict__ for r in runs]},
                          indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n", encoding="utf-8")
    if args.json != "-":
        print(render(summary, meta))
    if args.check and summary["throughput_ratio"] < TARGET_THROUGHPUT_RATIO:
        ratio = summary["throughput_ratio"]
        log(f"TARGET MISSED: throughput ratio {ratio:.3f} < {TARGET_THROUGHPUT_RATIO}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
