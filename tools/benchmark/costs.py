"""One-off costs: loading a web.config (time and memory) and the ``iiscors validate`` start-up."""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _benchlib import Scenario, raw_wsgi_app

from benchmark.timing import CLOCK


def measure_load(scenario: Scenario, repeats: int) -> dict[str, Any]:
    """load_config, check_config and CorsMiddleware construction (load + validate + compile)."""
    from iiscors import CorsMiddleware, check_config, load_config

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "web.config"
        path.write_bytes(scenario.webconfig)
        limit = scenario.max_bytes
        walls: list[float] = []

        def build() -> object:
            return CorsMiddleware(raw_wsgi_app, str(path), max_bytes=limit)

        build_s = [timed(build, walls) for _ in range(repeats)]
        build_wall_s = list(walls)
        load_s = [timed(lambda: load_config(str(path), max_bytes=limit), walls)
                  for _ in range(repeats)]
        check_s = [timed(lambda: check_config(str(path), max_bytes=limit), walls)
                   for _ in range(repeats)]
        current, peak = traced_memory(build)
    return {
        "scenario": scenario.name,
        "file_bytes": len(scenario.webconfig),
        "build_s": statistics.median(build_s),
        "build_min_s": min(build_s),
        "build_max_s": max(build_s),
        "build_wall_s": statistics.median(build_wall_s),
        "load_config_s": statistics.median(load_s),
        "check_config_s": statistics.median(check_s),
        "peak_mib": peak / 2**20,
        "retained_mib": current / 2**20,
    }


def timed(fn: Callable[[], object], walls: list[float]) -> float:
    """``fn()``'s time on the sample clock (CPU time by default, see
    :data:`benchmark.timing.CLOCKS`); its wall time is appended to ``walls``."""
    gc.collect()
    w0, t0 = time.perf_counter(), CLOCK[0]()
    fn()
    elapsed = CLOCK[0]() - t0
    walls.append(time.perf_counter() - w0)
    return elapsed


def traced_memory(fn: Callable[[], object]) -> tuple[int, int]:
    """(retained, peak) bytes allocated by ``fn()``, in a run of its own: tracemalloc slows
    allocation down several times, so it never runs while timing."""
    gc.collect()
    tracemalloc.start()
    kept = fn()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    return current, peak


def measure_startup(webconfig: bytes, repeats: int) -> dict[str, Any]:
    """``python -m iiscors validate file`` wall time, against ``python -c pass`` for reference."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "web.config"
        path.write_bytes(webconfig)
        validate_argv = [sys.executable, "-m", "iiscors", "validate", str(path)]
        run_timed(validate_argv)  # warm the file cache
        validate = [run_timed(validate_argv) for _ in range(repeats)]
        bare = [run_timed([sys.executable, "-c", "pass"])[0] for _ in range(repeats)]
    return {
        "validate_s": statistics.median(v[0] for v in validate),
        "validate_min_s": min(v[0] for v in validate),
        "python_s": statistics.median(bare),
        "exit_code": validate[0][1],
        "output": validate[0][2][:500],
    }


def run_timed(argv: list[str]) -> tuple[float, int, str]:
    """(wall seconds, exit code, output) of one run of ``argv``."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    t0 = time.perf_counter()
    proc = subprocess.run(argv, check=False, capture_output=True, text=True, env=env, timeout=120)
    return time.perf_counter() - t0, proc.returncode, (proc.stdout + proc.stderr).strip()
