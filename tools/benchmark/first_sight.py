"""The allowed requests with a new origin on every call: what a repeated origin saves.

iiscors keeps the answer of each allowed origin it has seen (``ScopePolicy.answers``, at most
``ANSWER_CACHE_SIZE`` per policy, emptied when full).  Cycling through twice that many origins,
the place in the cycle carried from sample to sample, makes every call a first sight: the
policy's whole origin lookup (B4-B6) runs.
"""

from __future__ import annotations

from typing import Any

from _benchlib import REQUESTS, BenchRequest, Scenario, raw_wsgi_app, wsgi_environ

from benchmark.answers import ACAO, call_wsgi
from benchmark.results import Cell, summarise
from benchmark.timing import calibrate, cycle_timer, sample_in_turns

#: The request kinds a first-sight cell exists for.
ALLOWED_REQUESTS: tuple[BenchRequest, ...] = tuple(r for r in REQUESTS if r.origin == "allowed")


def first_sight_origins(scenario: Scenario, count: int) -> list[str] | None:
    """``count`` distinct allowed origins of ``scenario``, or None when it has too few."""
    if scenario.exact_origins:
        if len(scenario.exact_origins) < count:
            return None
        return list(scenario.exact_origins[:count])
    if scenario.wildcard_suffixes:
        return [f"https://u{i}.{scenario.wildcard_suffixes[-1]}" for i in range(count)]
    if scenario.name == "mixed-sample":
        return [f"https://u{i}.microsoft.com" for i in range(count)]
    return None


def first_sight_count() -> int:
    """Origins a first-sight cycle needs: more than twice what the answer tables keep."""
    from iiscors.policy.core import ANSWER_CACHE_SIZE

    return 2 * ANSWER_CACHE_SIZE + 1


def first_sight_environs(scenario: Scenario, request: BenchRequest) -> list[dict[str, Any]] | None:
    """One environ per origin of :func:`first_sight_origins` (twice what the tables keep)."""
    origins = first_sight_origins(scenario, first_sight_count())
    if origins is None:
        return None
    environs = []
    for origin in origins:
        environ = wsgi_environ(scenario, request)
        environ["HTTP_ORIGIN"] = origin
        environs.append(environ)
    return environs


def run_first_sight(
    scenario: Scenario, rounds: int, sample_time: float, notes: list[str]
) -> list[Cell]:
    """raw-bare and raw+iiscors cells of each allowed request kind, a new origin every call."""
    from iiscors import CorsMiddleware

    if first_sight_origins(scenario, first_sight_count()) is None:
        return []
    middleware = CorsMiddleware(raw_wsgi_app, scenario.webconfig, max_bytes=scenario.max_bytes)
    cells: list[Cell] = []
    for request in ALLOWED_REQUESTS:
        environs = first_sight_environs(scenario, request)
        if environs is None:
            return []
        name = f"{request.name} (first sight)"
        bare = Cell(scenario.name, name, "raw-bare", None, True)
        cell = Cell(scenario.name, name, "raw+iiscors", "raw-bare", True)
        cells += [bare, cell]
        cell.problems = check_first_and_last(middleware, environs)
        if cell.problems:
            cell.verified = False
            notes.append(f"{scenario.name} / {name}: NOT VERIFIED: {'; '.join(cell.problems)}")
            continue
        timers = {"raw-bare": cycle_timer(raw_wsgi_app, environs),
                  "raw+iiscors": cycle_timer(middleware, environs)}
        counts = {k: calibrate(t, sample_time) for k, t in timers.items()}
        row = {"raw-bare": bare, "raw+iiscors": cell}
        for key, samples in sample_in_turns(timers, counts, rounds).items():
            row[key].samples_us = samples
        summarise(row)
    return cells


def check_first_and_last(middleware: Any, environs: list[dict[str, Any]]) -> list[str]:
    """Problems with the answers to the first and last origin of the cycle (empty: right)."""
    problems = []
    for environ in (environs[0], environs[-1]):
        acao = call_wsgi(middleware, environ.copy()).header(ACAO)
        if acao != [environ["HTTP_ORIGIN"]]:
            problems.append(f"expected ACAO {environ['HTTP_ORIGIN']!r}, got {acao!r}")
    return problems
