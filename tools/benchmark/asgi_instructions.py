#!/usr/bin/env python
"""Instructions per ASGI call, counted by callgrind: the adapter's cost without the VM's noise.

Issue 17's judge for changes of a few hundred instructions, which no timer on a shared VM can
see.  One process per application under valgrind's callgrind (``PYTHONHASHSEED=0``): for each
request kind it warms up, then runs a short and a long series of calls, each between two
profile dumps (``--dump-before=getppid``: the child marks a boundary with ``os.getppid()``,
which nothing else on the path calls), the setups outside them, after ``gc.freeze()`` (the
collections the calls trigger walk their own garbage, not the 10,000-origin policy).
Instructions per call = (long series − short series) / (their difference in calls): what is
spent once per series (the loop's start, the dump's own call) cancels out.  Each call is
driven by hand (``coroutine.send(None)``; nothing on the path suspends) with a trivial
receive and send, on a copy of the same scope, as the benchmarks call it.  "first sight"
cycles through more origins than the answers tables keep, carried on from series to series.

Usage::

    python tools/benchmark/asgi_instructions.py                     # the working tree's
    python tools/benchmark/asgi_instructions.py --base first        # a commit's iiscors
    python tools/benchmark/asgi_instructions.py --app starlette --requests "allowed GET"
    python tools/benchmark/asgi_instructions.py --bare              # the bare apps alone

Repeated runs of the same code agree within about 50 instructions per call.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

TOOLS = Path(__file__).resolve().parents[1]
REPO = TOOLS.parent
sys.path.insert(0, str(TOOLS))

from _benchlib import REQUESTS, exact_scenario  # noqa: E402  (after the path above)

#: The request kinds measured, in order ("first sight": an allowed GET, a new origin per call).
KINDS = ("allowed GET", "no-origin GET", "allowed preflight", "unlisted GET",
         "denied preflight", "first sight")
#: Calls of each series: the short one and the long one (their difference is what is counted).
SHORT, LONG = 500, 5500
WARM_UP = 300

#: an ASGI application (the bare one, or the middleware around it)
App = Callable[[Any, Any, Any], Coroutine[Any, Any, None]]


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    return None


def drive(app: App, scopes: list[dict[str, Any]], calls: int, start: int) -> int:
    """``calls`` calls of ``app``, on copies of ``scopes`` in turn from ``start``, each run to
    its end by hand (no event loop: nothing on the path suspends); the next call's place (a
    first-sight cycle goes on where it stopped: its origins were not seen lately)."""
    count = len(scopes)
    for i in range(start, start + calls):
        coroutine = app(scopes[i % count].copy(), _receive, _send)
        try:
            coroutine.send(None)
        except StopIteration:
            continue
        raise RuntimeError("the application suspended: this harness cannot count it")
    return (start + calls) % count


def mark() -> None:
    """A dump boundary: callgrind dumps (and zeroes) its counts before ``getppid``."""
    os.getppid()


def scopes_for(kind: str) -> list[dict[str, Any]]:
    """The scopes a series of ``kind`` calls in turn."""
    from benchmark.ab import first_sight_scopes
    from benchmark.answers import asgi_scope

    scenario = exact_scenario(10_000)
    if kind == "first sight":
        return first_sight_scopes(scenario)
    return [asgi_scope(scenario, {r.name: r for r in REQUESTS}[kind])]


def child(app_kind: str, bare: bool, kinds: list[str]) -> None:
    """Run under callgrind: the series, one dump boundary around each; prints their order."""
    from benchmark.ab import asgi_app

    app: App = asgi_app(app_kind)
    if not bare:
        from iiscors.asgi import CorsMiddleware

        print(f"iiscors from {Path(sys.modules['iiscors'].__file__ or '').parent}",
              file=sys.stderr)
        scenario = exact_scenario(10_000)
        app = CorsMiddleware(app, scenario.webconfig, max_bytes=scenario.max_bytes)
    series = []
    for kind in kinds:
        scopes = scopes_for(kind)
        place = drive(app, scopes, WARM_UP, 0)
        # what exists now is never collected: the collections the calls trigger cost what
        # their own garbage costs, not a walk of the 10,000-origin policy and the scenario
        gc.collect()
        gc.freeze()
        for calls in (SHORT, LONG):
            mark()  # the dump before this one holds what came before the series
            place = drive(app, scopes, calls, place)
            mark()  # and this one the series alone
            series.append((kind, calls))
    print(json.dumps(series))


def dump_totals(out: Path) -> Iterator[int]:
    """The instruction totals of callgrind's dumps ``out.N``, in order (N from 1)."""
    n = 1
    while (part := out.with_name(f"{out.name}.{n}")).exists():
        for line in part.read_text().splitlines():
            if line.startswith(("totals:", "summary:")):
                yield int(line.split()[1])
                break
        n += 1


def measure(app_kind: str, bare: bool, kinds: list[str], base: str | None,
            tree: Path | None = None) -> dict[str, float]:
    """Instructions per call of each of ``kinds``, around ``app_kind`` (callgrind)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        if tree is not None:  # an experiment: a directory that holds an ``iiscors``
            env["PYTHONPATH"] = str(tree)
        elif base is not None:
            from benchmark.ab import extract

            extract(base, Path(tmp))
            env["PYTHONPATH"] = tmp
        else:
            env["PYTHONPATH"] = str(REPO)
        out = Path(tmp) / "cg.out"
        command = ["valgrind", "--tool=callgrind", "--dump-before=getppid",
                   f"--callgrind-out-file={out}", sys.executable, __file__, "--child",
                   "--app", app_kind, *(["--bare"] if bare else []),
                   *(arg for kind in kinds for arg in ("--requests", kind))]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        series = json.loads(done.stdout.strip().splitlines()[-1])
        totals = list(dump_totals(out))
    # dumps by pairs: what came before a series (the start, a setup, nothing), then the series
    counts = {(kind, calls): totals[2 * i + 1] for i, (kind, calls) in enumerate(series)}
    return {kind: (counts[(kind, LONG)] - counts[(kind, SHORT)]) / (LONG - SHORT)
            for kind in kinds}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--app", choices=("starlette", "trivial", "both"), default="both")
    p.add_argument("--requests", action="append", choices=KINDS,
                   help="a request kind (repeatable; default: all)")
    p.add_argument("--base", help="a commit whose iiscors is measured (default: this tree's)")
    p.add_argument("--tree", type=Path,
                   help="a directory whose iiscors is measured (an experiment's copy)")
    p.add_argument("--bare", action="store_true", help="the bare application, no middleware")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    kinds = args.requests or list(KINDS)
    if args.child:
        child(args.app, args.bare, kinds)
        return 0
    label = "bare" if args.bare else str(args.base or args.tree or "working tree")
    for app_kind in ("starlette", "trivial") if args.app == "both" else (args.app,):
        for kind, per_call in measure(app_kind, args.bare, kinds, args.base,
                                                 args.tree).items():
            print(f"{label:14s} {app_kind:9s} {kind:18s} {per_call:10,.0f} instructions per call",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
