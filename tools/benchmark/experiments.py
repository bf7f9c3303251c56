"""Repeated requests: every candidate, every request kind, of one configuration.

For each request kind, every candidate's CORS answer is checked first
(:mod:`benchmark.answers`); then the verified candidates take turns within each round. A cell
reports the median per-call time over the rounds, its min-max, the ratio to the bare app of the
same framework and the added µs (median of the per-round differences against that bare app,
which cancels most of the drift between rounds).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from _benchlib import REQUESTS, BenchRequest, Scenario

from benchmark.answers import call_once, verify
from benchmark.candidates import Candidate, build_candidates
from benchmark.results import Cell, summarise
from benchmark.timing import Timer, calibrate, make_timer, sample_in_turns


def run_scenario(
    scenario: Scenario,
    rounds: int,
    sample_time: float,
    notes: list[str],
    log: Callable[[str], None],
) -> list[Cell]:
    """Every request kind of ``scenario`` against every candidate that can express it."""
    t0 = time.perf_counter()
    candidates = build_candidates(scenario, notes)
    log(f"{scenario.name}: {len(candidates)} candidates built in {time.perf_counter() - t0:.1f} s")
    loop = asyncio.new_event_loop()
    cells: list[Cell] = []
    try:
        for request in REQUESTS:
            row, timers = prepare_row(scenario, request, candidates, loop, sample_time, notes)
            counts = {name: row[name].calls_per_sample for name in timers}
            for name, samples in sample_in_turns(timers, counts, rounds).items():
                row[name].samples_us = samples
            summarise(row)
            cells += row.values()  # unverified ones too: the report must show them
            log(f"  {scenario.name} / {request.name}: done")
    finally:
        loop.close()
    return cells


def prepare_row(
    scenario: Scenario,
    request: BenchRequest,
    candidates: list[Candidate],
    loop: asyncio.AbstractEventLoop,
    sample_time: float,
    notes: list[str],
) -> tuple[dict[str, Cell], dict[str, Timer]]:
    """One cell per candidate, and a calibrated timer for each verified one."""
    row: dict[str, Cell] = {}
    timers: dict[str, Timer] = {}
    for cand in candidates:
        problems = verify(cand, scenario, request, call_once(cand, scenario, request, loop))
        cell = Cell(scenario.name, request.name, cand.name, cand.baseline, not problems, problems)
        row[cand.name] = cell
        if problems:
            # A wrong answer is not timed: its figure would compare unlike work.
            where = f"{scenario.name} / {request.name} / {cand.name}"
            notes.append(f"{where}: NOT VERIFIED: {'; '.join(problems)}")
            continue
        timers[cand.name] = make_timer(cand, scenario, request, loop)
        cell.calls_per_sample = calibrate(timers[cand.name], sample_time)
    return row, timers
