#!/usr/bin/env python
"""A/B of the request path in one process: a commit's iiscors against the working tree's.

Issue 17's method for changes of a few tenths of a µs on a shared VM whose speed moves by more
than that between minutes: both versions are imported into the same interpreter (the commit's
``iiscors`` and ``schemas`` extracted by ``git archive`` into a temporary directory, imported
first, then set aside in ``sys.modules`` terms so that the working tree's is imported too), and
their timers take turns within every round, beside the bare application.  Reported: the median
per-call µs of each and the median of the per-round differences against the bare app (added
µs).  Also the bytes a ``Policy`` keeps per configured origin (tracemalloc, 100,000 origins),
each version in turn.

Usage::

    python tools/benchmark/ab.py --base HEAD~3 [--rounds 9] [--sample-time 0.02] [--no-asgi]
    python tools/benchmark/ab.py --base main --only-asgi --asgi-app both   # the ASGI cells only

``--asgi-app trivial`` wraps an ASGI app of two ``send`` calls instead of Starlette: the
adapter's own cost, without Starlette's ~10 µs and its noise (issue 17's ASGI target).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

TOOLS = Path(__file__).resolve().parents[1]
REPO = TOOLS.parent
sys.path.insert(0, str(TOOLS))

from _benchlib import (  # noqa: E402  (after the path above)
    LOAD_SHAPES,
    REQUESTS,
    Scenario,
    exact_scenario,
    raw_wsgi_app,
    wildcard_scenario,
    wsgi_environ,
)

from benchmark.answers import asgi_scope  # noqa: E402
from benchmark.candidates import starlette_app  # noqa: E402
from benchmark.first_sight import (  # noqa: E402
    first_sight_count,
    first_sight_environs,
    first_sight_origins,
)
from benchmark.policy_memory import policy_bytes  # noqa: E402
from benchmark.timing import (  # noqa: E402
    CLOCK,
    Timer,
    _asgi_receive,
    _asgi_send,
    _time_asgi,
    calibrate,
    cycle_timer,
    repeat_timer,
    sample_in_turns,
)

#: The repeated requests timed beside each configuration's first sight.
REPEATS = ("allowed GET", "allowed preflight", "unlisted GET", "no-origin GET")
#: The ASGI requests, around a bare Starlette app (exact-10000).
ASGI_REQUESTS = ("allowed GET", "no-origin GET", "allowed preflight")
#: The response a trivial ASGI app sends, the same for every request (what Starlette's
#: PlainTextResponse sends, less Starlette).
TRIVIAL_START: dict[str, Any] = {
    "type": "http.response.start", "status": 200,
    "headers": [(b"content-length", b"2"), (b"content-type", b"text/plain; charset=utf-8")]}
TRIVIAL_BODY: dict[str, Any] = {"type": "http.response.body", "body": b"ok"}
#: The bare ASGI apps the adapter is measured around.
ASGI_APPS = ("starlette", "trivial")
#: Configured origins of the memory figure.
MEMORY_ORIGINS = 100_000


def extract(commit: str, into: Path) -> None:
    """``iiscors`` and ``schemas`` of ``commit``, as files under ``into``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "iiscors", "schemas"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)


def forget_iiscors() -> None:
    """Unload every iiscors module: the next import reads the other version (the objects
    already built keep their own modules' globals)."""
    for name in [m for m in sys.modules if m == "iiscors" or m.startswith("iiscors.")]:
        del sys.modules[name]


async def trivial_asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The least an ASGI application does: start its response and send its body."""
    await send(TRIVIAL_START)
    await send(TRIVIAL_BODY)


def asgi_app(kind: str) -> Any:
    """The bare ASGI app ``kind`` names: "starlette" or "trivial"."""
    return trivial_asgi_app if kind == "trivial" else starlette_app(None)


def build(scenarios: list[Scenario], asgi: bool) -> dict[str, Any]:
    """The middlewares of the version importable now, and its Policy class."""
    from iiscors import CorsMiddleware
    from iiscors.asgi import CorsMiddleware as AsgiMiddleware
    from iiscors.policy.core import Policy

    built: dict[str, Any] = {"Policy": Policy}
    for s in scenarios:
        built[s.name] = CorsMiddleware(raw_wsgi_app, s.webconfig, max_bytes=s.max_bytes)
    if asgi:
        s = scenarios[0]
        for kind in ASGI_APPS:
            built[f"asgi-{kind}"] = AsgiMiddleware(asgi_app(kind), s.webconfig,
                                                   max_bytes=s.max_bytes)
    return built


def versions(base: str, scenarios: list[Scenario], asgi: bool) -> dict[str, dict[str, Any]]:
    """``{"A": the commit's, "B": the working tree's}`` middlewares."""
    with tempfile.TemporaryDirectory() as tmp:
        extract(base, Path(tmp))
        forget_iiscors()
        sys.path.insert(0, tmp)
        try:
            old = build(scenarios, asgi)
        finally:
            sys.path.remove(tmp)
            forget_iiscors()
        sys.path.insert(0, str(REPO))
        return {"A": old, "B": build(scenarios, asgi)}


def report(label: str, samples: dict[str, list[float]]) -> None:
    bare = samples["bare"]
    parts = [f"{label:42s} bare {statistics.median(bare):6.2f}"]
    for key in ("A", "B"):
        added = statistics.median([x - b for x, b in zip(samples[key], bare, strict=True)])
        parts.append(f"{key} {statistics.median(samples[key]):6.2f} (+{added:.2f})")
    print("  ".join(parts), flush=True)


def in_turns(label: str, timers: dict[str, Timer], rounds: int, sample_time: float) -> None:
    counts = {k: calibrate(t, sample_time) for k, t in timers.items()}
    report(label, sample_in_turns(timers, counts, rounds))


def run_wsgi(built: dict[str, dict[str, Any]], scenarios: list[Scenario], rounds: int,
             sample_time: float) -> None:
    by = {r.name: r for r in REQUESTS}
    for s in scenarios:
        apps = {"bare": raw_wsgi_app, "A": built["A"][s.name], "B": built["B"][s.name]}
        environs = first_sight_environs(s, by["allowed GET"])
        assert environs is not None
        in_turns(f"{s.name} allowed GET (first sight)",
                 {k: cycle_timer(app, environs) for k, app in apps.items()}, rounds, sample_time)
        for name in REPEATS:
            environ = wsgi_environ(s, by[name])
            in_turns(f"{s.name} {name}", {k: repeat_timer(app, environ) for k, app in apps.items()},
                     rounds, sample_time)


def asgi_cycle_timer(loop: asyncio.AbstractEventLoop, app: Any,
                     scopes: list[dict[str, Any]]) -> Timer:
    """Calls of ``app`` on ``scopes`` in turn, the place in the cycle carried from sample to
    sample (the ASGI twin of ``cycle_timer``: every call a first sight)."""
    place = [0]

    async def run(n: int) -> float:
        i, count = place[0], len(scopes)
        t0 = CLOCK[0]()
        for _ in range(n):
            await app(scopes[i].copy(), _asgi_receive, _asgi_send)
            i = (i + 1) % count
        place[0] = i
        return CLOCK[0]() - t0

    return lambda n: loop.run_until_complete(run(n))


def first_sight_scopes(scenario: Scenario) -> list[dict[str, Any]]:
    """An allowed GET's scope per origin of a first-sight cycle (twice what the tables keep)."""
    origins = first_sight_origins(scenario, first_sight_count())
    assert origins is not None
    base = asgi_scope(scenario, {r.name: r for r in REQUESTS}["allowed GET"])
    return [{**base, "headers": [*(h for h in base["headers"] if h[0] != b"origin"),
                                 (b"origin", origin.encode("latin-1"))]} for origin in origins]


def run_asgi(built: dict[str, dict[str, Any]], scenario: Scenario, rounds: int,
             sample_time: float, kind: str) -> None:
    by = {r.name: r for r in REQUESTS}
    loop = asyncio.new_event_loop()
    key = f"asgi-{kind}"
    apps = {"bare": asgi_app(kind), "A": built["A"][key], "B": built["B"][key]}
    try:
        scopes = first_sight_scopes(scenario)
        in_turns(f"ASGI {kind} {scenario.name} allowed GET (first sight)",
                 {k: asgi_cycle_timer(loop, a, scopes) for k, a in apps.items()}, rounds,
                 sample_time)
        for name in ASGI_REQUESTS:
            scope = asgi_scope(scenario, by[name])

            def timer(app: Any, scope: dict[str, Any] = scope) -> Timer:
                return lambda n: loop.run_until_complete(_time_asgi(app, scope, n))
            in_turns(f"ASGI {kind} {scenario.name} {name}", {k: timer(a) for k, a in apps.items()},
                     rounds, sample_time)
    finally:
        loop.close()


def run_memory(built: dict[str, dict[str, Any]]) -> None:
    from iiscors import load_config

    for shape, webconfig in LOAD_SHAPES.items():
        scopes = load_config(webconfig(MEMORY_ORIGINS), max_bytes=10**9).scopes
        figures = {k: policy_bytes(built[k]["Policy"], scopes, MEMORY_ORIGINS) for k in ("A", "B")}
        print(f"policy bytes per origin, {shape}-{MEMORY_ORIGINS}: A {figures['A']:.1f}  "
              f"B {figures['B']:.1f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--base", required=True, help="the commit to compare with (A)")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--sample-time", type=float, default=0.02)
    p.add_argument("--no-asgi", action="store_true")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--only-asgi", action="store_true",
                   help="the ASGI cells only (no WSGI cell, no memory figure)")
    p.add_argument("--asgi-app", choices=(*ASGI_APPS, "both"), default="starlette",
                   help="the bare ASGI app the adapter wraps (default starlette)")
    args = p.parse_args(argv)
    scenarios = [exact_scenario(10_000)]  # the ASGI cells' configuration (built first)
    if not args.only_asgi:
        scenarios += [exact_scenario(100_000), wildcard_scenario(10_000)]
    built = versions(args.base, scenarios, not args.no_asgi)
    if not args.only_asgi:
        run_wsgi(built, scenarios, args.rounds, args.sample_time)
    if not args.no_asgi:
        for kind in ASGI_APPS if args.asgi_app == "both" else (args.asgi_app,):
            run_asgi(built, scenarios[0], args.rounds, args.sample_time, kind)
    if not (args.no_memory or args.only_asgi):
        run_memory(built)
    return 0


if __name__ == "__main__":
    sys.exit(main())
