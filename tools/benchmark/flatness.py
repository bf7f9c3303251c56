"""Flatness: does the cost of a request grow with the size of the configuration?

Measured as its own experiment: raw+iiscors for every configuration, taking turns within each
round, each compared with the reference *in the same round*.  Comparing cells measured minutes
apart would measure this VM's drift (its speed moves by up to 1.6x between phases) rather than
the configurations.
"""

from __future__ import annotations

from typing import Any

from _benchlib import Scenario, raw_wsgi_app, wildcard_scenario, wsgi_environ

from benchmark.first_sight import (
    ALLOWED_REQUESTS,
    first_sight_count,
    first_sight_environs,
    first_sight_origins,
)
from benchmark.results import Flat, flats_against
from benchmark.timing import Timer, calibrate, cycle_timer, repeat_timer, sample_in_turns


def middleware_for(scenario: Scenario) -> Any:
    from iiscors import CorsMiddleware

    return CorsMiddleware(raw_wsgi_app, scenario.webconfig, max_bytes=scenario.max_bytes)


def run_flatness(scenarios: list[Scenario], rounds: int, sample_time: float) -> list[Flat]:
    """The first-sight pairs (:func:`run_cold_flatness`), then every configuration's repeated
    allowed requests against exact-1's (when exact-1 is among them)."""
    out = run_cold_flatness(scenarios, rounds, sample_time)
    if not any(s.name == "exact-1" for s in scenarios):
        return out
    apps = {s.name: middleware_for(s) for s in scenarios}
    for request in ALLOWED_REQUESTS:
        environs = {s.name: wsgi_environ(s, request) for s in scenarios}
        timers = {name: repeat_timer(app, environs[name]) for name, app in apps.items()}
        counts = {k: calibrate(t, sample_time) for k, t in timers.items()}
        out += flats_against(sample_in_turns(timers, counts, rounds), "exact-1", request.name)
    return out


def cold_pairs(scenarios: list[Scenario]) -> list[tuple[Scenario, Scenario]]:
    """(reference, large) pairs: the smallest and largest exact configurations that have enough
    origins for a first-sight cycle, and 10 wildcard rules against the wildcard configuration."""
    exact = [s for s in scenarios
             if s.exact_origins and first_sight_origins(s, first_sight_count()) is not None]
    pairs: list[tuple[Scenario, Scenario]] = []
    if len(exact) >= 2:
        pairs.append((exact[0], exact[-1]))
    wild = [s for s in scenarios if s.wildcard_suffixes]
    if wild and len(wild[0].wildcard_suffixes) > 10:
        pairs.append((wildcard_scenario(10), wild[0]))
    return pairs


def run_cold_flatness(scenarios: list[Scenario], rounds: int, sample_time: float) -> list[Flat]:
    """Flatness of the first-sight path (a new origin every call), in the same rounds.  The
    answers table cannot help here, so this is the origin lookup itself (B4-B6) growing, or
    not."""
    out: list[Flat] = []
    for reference, large in cold_pairs(scenarios):
        pair = (reference, large)
        apps = {s.name: middleware_for(s) for s in pair}
        for request in ALLOWED_REQUESTS:
            timers: dict[str, Timer] = {}
            for s in pair:
                environs = first_sight_environs(s, request)
                assert environs is not None
                timers[s.name] = cycle_timer(apps[s.name], environs)
            counts = {k: calibrate(t, sample_time) for k, t in timers.items()}
            samples = sample_in_turns(timers, counts, rounds)
            out += flats_against(samples, reference.name, f"{request.name} (first sight)")
    return out
