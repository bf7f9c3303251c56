"""One-off costs: loading a web.config (time against the parser's floor, memory per origin) and
the ``iiscors validate`` start-up."""

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

from _benchlib import raw_wsgi_app

from benchmark.timing import CLOCK


def measure_load(shape: str, origins: int, webconfig: bytes, repeats: int) -> dict[str, Any]:
    """CorsMiddleware construction (load + validate + compile) against the parser's floor in
    the same rounds, load_config, check_config, and the memory the result keeps per origin."""
    from iiscors import CorsMiddleware, check_config, load_config

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "web.config"
        path.write_bytes(webconfig)
        limit = max(256_000, 2 * len(webconfig))
        walls: list[float] = []

        def build() -> object:
            return CorsMiddleware(raw_wsgi_app, str(path), max_bytes=limit)

        floor_s: list[float] = []
        build_s: list[float] = []
        for _ in range(repeats):  # in turns: the floor and the build see the same machine
            floor_s.append(timed(lambda: parse_floor(path.read_bytes()), []))
            build_s.append(timed(build, walls))
        load_s = [timed(lambda: load_config(str(path), max_bytes=limit), [])
                  for _ in range(repeats)]
        check_s = [timed(lambda: check_config(str(path), max_bytes=limit), [])
                   for _ in range(repeats)]
        retained, peak = traced_memory(build)
        tracked = tracked_objects(build)
        rss = rss_growth(path, limit)
    return {
        "scenario": f"{shape}-{origins}",
        "shape": shape,
        "origins": origins,
        "file_bytes": len(webconfig),
        "build_s": statistics.median(build_s),
        "build_min_s": min(build_s),
        "build_max_s": max(build_s),
        "build_wall_s": statistics.median(walls),
        "floor_s": statistics.median(floor_s),
        "floor_ratio": statistics.median(b / f for b, f in zip(build_s, floor_s, strict=True)),
        "floor_ratio_min": min(b / f for b, f in zip(build_s, floor_s, strict=True)),
        "floor_ratio_max": max(b / f for b, f in zip(build_s, floor_s, strict=True)),
        "load_config_s": statistics.median(load_s),
        "check_config_s": statistics.median(check_s),
        "peak_mib": peak / 2**20,
        "retained_mib": retained / 2**20,
        "retained_bytes_per_origin": retained / origins,
        "tracked_objects_per_origin": tracked / origins,
        "rss_bytes_per_origin": None if rss is None else rss / origins,
    }


def parse_floor(data: bytes) -> int:
    """The floor of issue 17: lxml's parse with the loader's settings, and one walk reading
    each element's line and origin (what any loader must at least do)."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True,
                             huge_tree=False)
    total = 0
    for element in etree.fromstring(data, parser).iter():
        total += element.sourceline or 0
        element.get("origin")
    return total


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
    allocation down several times, so it never runs while timing.  Retained: what is still
    allocated while ``fn()``'s result is kept, after a garbage collection."""
    gc.collect()
    tracemalloc.start()
    kept = fn()
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    return current, peak


def tracked_objects(fn: Callable[[], object]) -> int:
    """How many more objects the cyclic garbage collector tracks while ``fn()``'s result is
    kept: what each of its full collections walks (issue 17: reload pauses)."""
    gc.collect()
    before = len(gc.get_objects())
    kept = fn()
    gc.collect()
    after = len(gc.get_objects())
    del kept
    return after - before


#: Run in a fresh interpreter: the growth of its resident set when it builds the middleware
#: (imports and a first small build done before, so that they are not counted).
_RSS_SCRIPT = """
import gc, sys
from iiscors import CorsMiddleware
def rss():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmRSS:"))
app = lambda environ, start_response: []
CorsMiddleware(app, b'<configuration><system.webServer><cors enabled="true">'
               b'<add origin="https://a.example"/></cors></system.webServer></configuration>')
gc.collect()
before = rss()
kept = CorsMiddleware(app, sys.argv[1], max_bytes=int(sys.argv[2]))
gc.collect()
print(rss() - before)
"""


def rss_growth(path: Path, limit: int) -> int | None:
    """Bytes the resident set grows by when a fresh interpreter builds the middleware for
    ``path`` (None where /proc is not there)."""
    if not Path("/proc/self/status").exists():
        return None
    proc = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(path), str(limit)],
                          check=False, capture_output=True, text=True, timeout=600)
    return int(proc.stdout.strip()) if proc.returncode == 0 else None


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
