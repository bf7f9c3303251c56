"""The command line of the in-process benchmark (``python tools/bench.py``).

Usage::

    python tools/bench.py                 # full run, table on stdout (a few minutes)
    python tools/bench.py --quick         # small rounds, CI smoke
    python tools/bench.py --json out.json # also write every figure as JSON ("-" for stdout)
    python tools/bench.py --check         # exit 1 when a target of issue 6 is missed
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _benchlib import LOAD_SHAPES, Scenario, exact_scenario, mixed_scenario, wildcard_scenario

from benchmark.costs import measure_load, measure_startup
from benchmark.experiments import run_scenario
from benchmark.first_sight import run_first_sight
from benchmark.flatness import run_flatness
from benchmark.policy_memory import measure_policy_memory
from benchmark.report import render_table, versions
from benchmark.results import Cell, Flat
from benchmark.targets import Target, evaluate_targets
from benchmark.timing import CLOCKS, use_clock

#: The configuration sizes whose web.config load is measured, in each of LOAD_SHAPES.
LOAD_SIZES = (10_000, 100_000)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="In-process benchmark of iiscors against a bare app, a dict-lookup floor "
        "and the Python peers."
    )
    p.add_argument("--quick", action="store_true",
                   help="3 rounds of ~3 ms samples, 3 load/start-up repeats (CI smoke)")
    p.add_argument("--rounds", type=int, help="rounds per cell (default 7, --quick 3)")
    p.add_argument("--sample-time", type=float,
                   help="seconds per sample (default 0.04, --quick 0.003)")
    p.add_argument("--sizes", default="1,100,10000,100000",
                   help="exact-origin configurations (comma-separated counts)")
    p.add_argument("--wildcards", type=int, default=10000,
                   help="wildcard rules in the wildcard configuration (0: none)")
    p.add_argument("--no-mixed", action="store_true", help="skip the reference's mixed sample")
    p.add_argument("--no-first-sight", action="store_true",
                   help="skip the allowed requests with a new origin on every call")
    p.add_argument("--no-flat", action="store_true",
                   help="skip the flatness experiment (every configuration in the same rounds)")
    p.add_argument("--no-load", action="store_true",
                   help="skip the web.config load time (against the parser's floor) and memory "
                   "measurement")
    p.add_argument("--no-startup", action="store_true",
                   help="skip the `iiscors validate` start-up measurement")
    p.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                   help="time samples by process CPU time (default: robust on a loaded "
                   "machine) or wall time")
    p.add_argument("--json", metavar="FILE",
                   help="write the results as JSON to FILE ('-': stdout, instead of the table)")
    p.add_argument("--check", action="store_true",
                   help="exit 1 when a target of issue 6 is missed (or an answer is wrong)")
    return p.parse_args(argv)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def scenarios_of(args: argparse.Namespace) -> list[Scenario]:
    scenarios = [exact_scenario(int(n)) for n in args.sizes.split(",") if n.strip()]
    if args.wildcards:
        scenarios.append(wildcard_scenario(args.wildcards))
    if not args.no_mixed:
        scenarios.append(mixed_scenario())
    return scenarios


@dataclass
class Figures:
    """Everything one run measured, and the targets judged on it."""

    cells: list[Cell]
    flats: list[Flat]
    loads: list[dict[str, Any]]
    startup: dict[str, Any] | None
    targets: list[Target]
    notes: list[str]
    policy: list[dict[str, Any]]

    def as_json(self, meta: dict[str, Any]) -> dict[str, Any]:
        return {
            "meta": meta,
            "cells": [asdict(c) for c in self.cells],
            "flatness": [asdict(f) for f in self.flats],
            "load": self.loads,
            "policy_memory": self.policy,
            "startup": self.startup,
            "targets": self.targets,
            "notes": self.notes,
            "all_verified": all(c.verified for c in self.cells),
        }

    def render(self, meta: dict[str, Any]) -> str:
        return render_table(self.cells, self.flats, self.loads, self.startup, self.targets,
                            self.notes, meta)


def measure(args: argparse.Namespace, rounds: int, sample_time: float) -> Figures:
    """Every experiment the options ask for, and the targets judged on them."""
    repeats = 3 if args.quick else 7
    scenarios = scenarios_of(args)
    notes: list[str] = []
    cells: list[Cell] = []
    for scenario in scenarios:
        cells += run_scenario(scenario, rounds, sample_time, notes, log)
        if not args.no_first_sight:
            cells += run_first_sight(scenario, rounds, sample_time, notes)
            log(f"  {scenario.name} / first sight: done")
    flats: list[Flat] = []
    if not args.no_flat:
        log("flatness: every configuration in the same rounds")
        flats = run_flatness(scenarios, rounds, sample_time)
    loads = []
    policy: list[dict[str, Any]] = []
    if not args.no_load:
        for n in LOAD_SIZES:
            for shape, webconfig in LOAD_SHAPES.items():
                log(f"load: {n} {shape} rules")
                loads.append(measure_load(shape, n, webconfig(n), repeats))
        log("policy memory: Policy(scopes) alone, 100,000 origins")
        policy = measure_policy_memory()
        notes += [f"{p['scenario']}: the policy keeps {p['policy_bytes_per_origin']:.1f} bytes "
                  "per origin" for p in policy]
    startup = None
    if not args.no_startup:
        log("start-up: python -m iiscors validate")
        startup = measure_startup(exact_scenario(1).webconfig, repeats)
    return Figures(cells, flats, loads, startup, evaluate_targets(cells, loads, flats, policy),
                   notes, policy)


def meta_of(args: argparse.Namespace, rounds: int, sample_time: float) -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "cpus": os.cpu_count(),
        "rounds": rounds,
        "sample_time": sample_time,
        "clock": args.clock,
        # Shows how loaded the (shared) machine was while measuring.
        "loadavg": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "versions": versions(),
    }


def missed(figures: Figures) -> bool:
    """Log every missed target and wrong answer; True when there is one."""
    failed = [t for t in figures.targets if t["passed"] is False]
    for t in failed:
        log(f"TARGET MISSED: {t['target']}: {t['value']} (limit {t['limit']})")
    unverified = [c for c in figures.cells if not c.verified]
    if unverified:
        log(f"{len(unverified)} answers not verified")
    return bool(failed or unverified)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    sample_time = args.sample_time or (0.003 if args.quick else 0.04)
    use_clock(args.clock)
    figures = measure(args, rounds, sample_time)
    meta = meta_of(args, rounds, sample_time)
    if args.json:
        text = json.dumps(figures.as_json(meta), indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n", encoding="utf-8")
    if args.json != "-":
        print(figures.render(meta))
    return 1 if args.check and missed(figures) else 0
