"""The command line of the load tests (``python tools/loadtest.py``).

Three modes, all on 127.0.0.1 only, every process they start stopped on exit:

- by default, issue 7's CORS load against gunicorn (:mod:`loadtesting.cors_run`);
- ``--faults``, the same while the web.config is rewritten (:mod:`loadtesting.fault_run`);
- ``--serve [root|proxy|both]``, ``iiscors serve`` itself under load (:mod:`loadtesting.serve_run`);
- ``--reload-edits N``, the latency of requests while a large web.config is edited N times,
  against the same load without edits (:mod:`loadtesting.reload_run`).

Exit status 0 when every check holds, 1 otherwise, 2 on a usage or start-up problem.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from loadtesting.cors_run import render, run
from loadtesting.fault_run import FaultOptions, render_faults, run_faults
from loadtesting.reload_run import ReloadOptions, render_reload, run_reload
from loadtesting.serve_run import TARGETS, ServeOptions, render_serve, run_serve


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Load tests of iiscors on 127.0.0.1: gunicorn behind iiscors (default), "
        "with the web.config rewritten under load (--faults), or `iiscors serve` (--serve)."
    )
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load (60)")
    p.add_argument("--connections", type=int, default=64, help="keep-alive connections (64)")
    p.add_argument("--workers", type=int, default=1, help="gunicorn workers (1)")
    p.add_argument("--threads", type=int, default=16, help="threads per gunicorn worker (16)")
    p.add_argument("--warmup", type=float, default=None,
                   help="seconds before the RSS baseline (default: min(5, duration/3))")
    p.add_argument("--max-rss-growth-mb", type=float, default=5.0,
                   help="gunicorn: limit of each worker's RSS growth (5)")
    p.add_argument("--json", type=Path, help="also write the result as JSON here")
    fault_options(p.add_argument_group("--faults"))
    serve_options(p.add_argument_group("--serve"))
    reload_options(p.add_argument_group("--reload-edits"))
    return p


def reload_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--reload-edits", type=int, metavar="N",
        help="edit a large web.config N times during --duration (issue 17: 20 in 60 s) and "
        "compare the latency with the same load without edits")
    group.add_argument("--rules", type=int, default=10_000,
                       help="--reload-edits: rules in the web.config (10000)")
    group.add_argument("--passes", type=int, default=1,
                       help="--reload-edits: pairs of runs, without and with edits, in turns (1)")


def fault_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--faults", action="store_true",
        help="rewrite the web.config under load (bad edit, truncated, deleted, atomic flips, "
        "restore); the schedule sets the length, --duration is ignored")
    group.add_argument("--reload-interval", type=float, default=None,
                       help="--faults (0.2) and --reload-edits (1): the middleware's "
                       "reload_interval")
    group.add_argument("--flip-seconds", type=float, default=2.0,
                       help="--faults: seconds of flips (2)")
    group.add_argument("--hold", type=float, default=None,
                       help="--faults: seconds each state is held once every worker logged it "
                       "(default: 5 reload intervals, at least 0.5)")


def serve_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--serve", nargs="?", const="both", choices=[*TARGETS, "both"],
        help="load `iiscors serve --root DIR` and/or `iiscors serve CONFIG --proxy URL` (its "
        "own backend) for --duration each; --workers/--threads do not apply")
    group.add_argument("--serve-args", default="", metavar="ARGS",
                       help="--serve: more arguments for `iiscors serve`, e.g. '--threads 16'")
    group.add_argument("--max-rss-growth-pct", type=float, default=5.0,
                       help="--serve: limit of the server's RSS growth, in percent (5)")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def write_json(path: Path | None, data: Any) -> None:
    if path is not None:
        path.write_text(json.dumps(data, indent=2))


def main_faults(args: argparse.Namespace, p: argparse.ArgumentParser) -> int:
    if args.connections < 1 or args.workers < 1 or args.threads < 1:
        p.error("connections, workers and threads must be positive")
    interval = 0.2 if args.reload_interval is None else args.reload_interval
    if interval <= 0 or args.flip_seconds <= 0:
        p.error("--reload-interval and --flip-seconds must be positive")
    hold = args.hold if args.hold is not None else max(0.5, 5 * interval)
    options = FaultOptions(args.connections, args.workers, args.threads, interval,
                           args.flip_seconds, hold)
    result = run_faults(options, log)
    print(render_faults(result))
    write_json(args.json, asdict(result))
    return 0 if result.ok else 1


def main_serve(args: argparse.Namespace, p: argparse.ArgumentParser) -> int:
    if args.duration <= 0 or args.connections < 1 or args.max_rss_growth_pct <= 0:
        p.error("duration, connections and --max-rss-growth-pct must be positive")
    options = ServeOptions(args.duration, args.connections, warmup_of(args),
                           args.max_rss_growth_pct, tuple(shlex.split(args.serve_args)))
    targets = TARGETS if args.serve == "both" else (args.serve,)
    results = [run_serve(target, options, log) for target in targets]
    print("\n\n".join(render_serve(r) for r in results))
    ok = all(r.ok for r in results)
    write_json(args.json, {"results": [asdict(r) for r in results], "ok": ok})
    return 0 if ok else 1


def main_cors(args: argparse.Namespace, p: argparse.ArgumentParser) -> int:
    if args.duration <= 0 or args.connections < 1 or args.workers < 1 or args.threads < 1:
        p.error("duration, connections, workers and threads must be positive")
    result = run(args.duration, args.connections, args.workers, args.threads, warmup_of(args),
                 args.max_rss_growth_mb, log)
    print(render(result, args.max_rss_growth_mb))
    write_json(args.json, asdict(result))
    return 0 if result.ok else 1


def main_reload(args: argparse.Namespace, p: argparse.ArgumentParser) -> int:
    if args.duration <= 0 or args.connections < 1 or args.threads < 1 or args.rules < 1:
        p.error("duration, connections, threads and rules must be positive")
    if args.reload_edits < 1 or args.passes < 1:
        p.error("--reload-edits and --passes must be positive")
    interval = 1.0 if args.reload_interval is None else args.reload_interval
    if interval <= 0:
        p.error("--reload-interval must be positive")
    options = ReloadOptions(args.rules, args.reload_edits, args.duration, args.connections,
                            args.threads, interval, args.passes)
    result = run_reload(options, log)
    print(render_reload(result))
    write_json(args.json, asdict(result))
    return 0 if result.ok else 1


def warmup_of(args: argparse.Namespace) -> float:
    return float(args.warmup) if args.warmup is not None else min(5.0, args.duration / 3)


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if sum(bool(x) for x in (args.faults, args.serve, args.reload_edits)) > 1:
        p.error("give one of --faults, --serve and --reload-edits")
    mode = (main_faults if args.faults else main_serve if args.serve
            else main_reload if args.reload_edits else main_cors)
    try:
        return mode(args, p)
    except RuntimeError as exc:
        print(f"loadtest: {exc}", file=sys.stderr)
        return 2
