"""Timing the candidates: the clock, the timed loops, calibration, and samples in turns.

WSGI apps are called as ``app(environ, start_response)`` with a prepared environ (the body
consumed and closed, as a server would), ASGI apps awaited in one event loop: never a test
client, which costs 10-100x the middleware being measured (peers.md §5).  The garbage collector
is off while a sample runs.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

from _benchlib import BenchRequest, Scenario, wsgi_environ

from benchmark.answers import asgi_scope
from benchmark.candidates import Candidate

#: The clock of the timed samples: process CPU time by default, because these machines are
#: shared and loaded (load average several times the CPU count): wall time then counts the
#: moments the benchmark is not even running. --clock wall gives wall time (perf_counter).
CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}
CLOCK: list[Callable[[], float]] = [time.process_time]

#: ``timer(n)``: seconds for ``n`` calls.
Timer = Callable[[int], float]


def use_clock(name: str) -> None:
    """Time every later sample with :data:`CLOCKS` ``[name]``."""
    CLOCK[0] = CLOCKS[name]


def discard_start_response(
    status: str, headers: list[tuple[str, str]], exc_info: Any = None
) -> Callable[[bytes], None]:
    return _write


def _write(data: bytes) -> None:
    return None


def time_wsgi(app: Any, environ: dict[str, Any], n: int) -> float:
    """Seconds for ``n`` calls. The environ is copied per call because apps may write to it."""
    copy = environ.copy
    sr = discard_start_response
    t0 = CLOCK[0]()
    for _ in range(n):
        # Inline, not a helper: a call here would be timed with every candidate.
        body = app(copy(), sr)
        for _chunk in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return CLOCK[0]() - t0


def time_wsgi_cycle(
    app: Any, environs: list[dict[str, Any]], n: int, position: list[int]
) -> float:
    """:func:`time_wsgi`, each call with the next environ of ``environs`` (a new origin).

    ``position`` carries the place in the cycle from one sample to the next: restarting at the
    first environ would meet origins the previous sample left in the answers table.
    """
    sr = discard_start_response
    k = len(environs)
    start = position[0]
    t0 = CLOCK[0]()
    for i in range(start, start + n):
        body = app(environs[i % k].copy(), sr)
        for _chunk in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
    elapsed = CLOCK[0]() - t0
    position[0] = (start + n) % k
    return elapsed


def repeat_timer(app: Any, environ: dict[str, Any]) -> Timer:
    """A :data:`Timer` calling ``app`` with the same request every time."""
    return lambda n: time_wsgi(app, environ, n)


def cycle_timer(app: Any, environs: list[dict[str, Any]]) -> Timer:
    """A :data:`Timer` over :func:`time_wsgi_cycle`, with its own place in the cycle."""
    position = [0]
    return lambda n: time_wsgi_cycle(app, environs, n, position)


async def _asgi_receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _asgi_send(message: dict[str, Any]) -> None:
    return None


async def _time_asgi(app: Any, scope: dict[str, Any], n: int) -> float:
    copy = scope.copy
    receive, send = _asgi_receive, _asgi_send
    t0 = CLOCK[0]()
    for _ in range(n):
        await app(copy(), receive, send)
    return CLOCK[0]() - t0


def make_timer(
    cand: Candidate,
    scenario: Scenario,
    request: BenchRequest,
    loop: asyncio.AbstractEventLoop,
) -> Timer:
    if cand.kind == "wsgi":
        return repeat_timer(cand.app, wsgi_environ(scenario, request))
    scope = asgi_scope(scenario, request)
    return lambda n: loop.run_until_complete(_time_asgi(cand.app, scope, n))


def timed_sample(timer: Timer, n: int) -> float:
    """Per-call seconds of one sample, the garbage collector off while it runs."""
    gc.disable()
    try:
        return timer(n) / n
    finally:
        gc.enable()


def calibrate(timer: Timer, sample_time: float) -> int:
    """Calls per sample so that one sample lasts about ``sample_time``."""
    timer(2)  # warm up (lazy middleware stacks, caches)
    n = 1
    while True:
        elapsed = timer(n)
        if elapsed >= sample_time / 5 or n >= 1 << 22:
            break
        n *= 4
    return max(1, round(n * sample_time / max(elapsed, 1e-9)))


def sample_in_turns(
    timers: dict[str, Timer], counts: dict[str, int], rounds: int
) -> dict[str, list[float]]:
    """Per-call µs of each timer, one sample per round, the timers taking turns.

    The order rotates from round to round so that no timer always runs first (or right after a
    slow one); a collection runs before each round, not during a sample.
    """
    samples: dict[str, list[float]] = {name: [] for name in timers}
    names = list(timers)
    for r in range(rounds):
        gc.collect()
        shift = r % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            samples[name].append(timed_sample(timers[name], counts[name]) * 1e6)
    return samples
