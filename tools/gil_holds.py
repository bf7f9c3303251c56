"""How long the reload thread's work keeps other threads from running (issue 17: "no request
waits more than 5 ms for a reload").

``tools/reload_bench.py`` measures what requests wait, collections and the VM's own pauses
included.  This tool isolates one cause: a single C call of the rebuild (an lxml walk, a
C-level iterator chain over every rule, a cascade of deallocations) holds the GIL from start
to end, since the interpreter switches threads only between bytecodes.  A probe thread runs a
tight loop that allocates nothing the collector tracks and records every gap between two of
its iterations; the middleware's own reload thread rebuilds a realistic web.config of
``--rules`` rules (the same versions as reload_bench.py), swaps it in, releases the old one
and adopts the new one's objects, each version as soon as the previous one is in use.  The
same probe runs first with nothing else (the machine's own pauses: preemption by the VM).
Each gap over ``--threshold`` is recorded with the CPU time the reload thread used during it
(``pthread_getcpuclockid``): the part of the gap it held the GIL for.  On a shared machine a
gap is also the VM's or the scheduler's (the probe not running, or the GIL hand-off waiting for
a CPU), and then the reload thread did not run either; its CPU time tells the two apart.  Each
gap is named by the iiscors line the reload thread was at when it ended (sampled by the probe:
a long C call shows as the line that made it).

    python tools/gil_holds.py --rules 100000
    python tools/gil_holds.py --rules 10000 100000 --check

``--check`` exits 1 when, during one gap, the reload thread ran more than 5 ms of CPU in
iiscors's code: a request would have waited that long for it.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadtesting.reload_run import version_config
from reload_bench import TARGET_MS, deployed_middleware, write

from iiscors import CorsMiddleware

#: Gaps shorter than this are not recorded (ms): the rebuild's switch interval is 0.5 ms.
DEFAULT_THRESHOLD_MS = 2.0
#: How many of each phase's longest gaps are named.
WORST_NAMED = 8


@dataclass
class Gaps:
    """The probe's gaps of one phase: (wall ms, the reload thread's CPU ms meanwhile, the
    reload thread's line at the gap's end)."""

    name: str
    seconds: float = 0.0
    found: list[tuple[float, float, str]] = field(default_factory=list)

    def over(self, ms: float) -> int:
        return sum(1 for gap, _, _ in self.found if gap > ms)

    def held_over(self, ms: float) -> int:
        return sum(1 for _, held, _ in self.found if held > ms)

    def longest(self) -> float:
        return max((gap for gap, _, _ in self.found), default=0.0)

    def longest_held(self) -> float:
        return max((held for _, held, _ in self.found), default=0.0)

    def attributed(self, ms: float) -> list[tuple[float, str]]:
        """The gaps during which the reload thread ran over ``ms`` of CPU."""
        return [(held, line) for _, held, line in self.found if held > ms and line != "idle"]


def thread_line(thread: threading.Thread | None) -> str:
    """The innermost iiscors line ``thread`` is at now ("idle" when none, or when the reload
    thread waits for its next check)."""
    frame = sys._current_frames().get(thread.ident or -1) if thread is not None else None
    while frame is not None:
        path = frame.f_code.co_filename
        if frame.f_code.co_name == "_reload_loop":
            return "idle"
        if "iiscors" in Path(path).parts:
            return f"{path.rsplit('iiscors', 1)[-1].lstrip('/')}:{frame.f_lineno}"
        frame = frame.f_back
    return "idle"


class Probe:
    """A thread that notes every gap over ``threshold_ms`` between two of its iterations, with
    the CPU time the reload thread used meanwhile: the part of the gap it held the GIL for
    (a gap with the reload thread idle, or blocked on the GIL hand-off, is the machine's)."""

    def __init__(self, middleware: CorsMiddleware, threshold_ms: float) -> None:
        self.middleware = middleware
        self.threshold_ns = int(threshold_ms * 1e6)
        self.gaps = Gaps("warm-up")
        self.stop = threading.Event()

    def reload_cpu(self) -> Callable[[], int]:
        thread = self.middleware._thread
        if thread is None or thread.native_id is None:
            return lambda: 0
        clock = time.pthread_getcpuclockid(thread.ident or 0)
        return lambda: time.clock_gettime_ns(clock)

    def run(self) -> None:
        clock, threshold, stopped = time.perf_counter_ns, self.threshold_ns, self.stop.is_set
        cpu = self.reload_cpu()
        last, last_cpu = clock(), cpu()
        while not stopped():
            now = clock()
            if now - last > threshold:
                line = thread_line(self.middleware._thread)
                held = (cpu() - last_cpu) / 1e6
                self.gaps.found.append(((now - last) / 1e6, held, line))
            last, last_cpu = clock(), cpu()
def reload_idle(middleware: CorsMiddleware) -> bool:
    return thread_line(middleware._thread) == "idle"


def measure(rules: int, seconds: float, rebuilds: int, threshold_ms: float, tmp: Path,
            log: Any) -> tuple[Gaps, Gaps]:
    """(nothing else, during reload work) for a web.config of ``rules`` rules."""
    middleware, config = deployed_middleware(rules, tmp, log)
    list(middleware(_environ(), start_response))  # starts the reload thread
    gc.collect()
    probe = Probe(middleware, threshold_ms)
    worker = threading.Thread(target=probe.run, name="gil-probe")
    quiet, busy = Gaps("nothing else"), Gaps("during reload work")
    worker.start()
    try:
        time.sleep(0.2)
        probe.gaps = quiet
        started = time.perf_counter()
        time.sleep(seconds)
        quiet.seconds = time.perf_counter() - started
        probe.gaps = busy
        started = time.perf_counter()
        for k in range(1, rebuilds + 1):
            old = middleware.policy
            write(config, version_config(rules, f"v{k}"))
            while middleware.policy is old:
                time.sleep(0.005)
            while not reload_idle(middleware):  # the release and the adoption
                time.sleep(0.005)
            log(f"  rebuild {k} served")
        busy.seconds = time.perf_counter() - started
    finally:
        probe.stop.set()
        worker.join()
    return quiet, busy


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None
                   ) -> Callable[[bytes], object]:
    return lambda data: None


def _environ() -> dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80", "wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1"}


def render(rules: int, phases: tuple[Gaps, Gaps], threshold_ms: float) -> list[str]:
    return [f"| {rules:,} | {phase.name} | {phase.seconds:.1f} | {phase.over(threshold_ms)} | "
            f"{phase.longest():.1f} | {phase.held_over(TARGET_MS)} | "
            f"{phase.longest_held():.1f} |" for phase in phases]


def named(rules: int, phase: Gaps) -> list[str]:
    worst = sorted(phase.found, key=lambda gap: (gap[1], gap[0]), reverse=True)[:WORST_NAMED]
    return [f"  {rules:,} rules, {phase.name}: {gap:.1f} ms, of which the reload thread ran "
            f"{held:.1f} ms, at {line}" for gap, held, line in worst]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rules", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--seconds", type=float, default=5.0,
                   help="seconds of the phase with nothing else (5)")
    p.add_argument("--rebuilds", type=int, default=2, help="rebuilds (2)")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD_MS,
                   help="the shortest gap recorded, ms (2)")
    p.add_argument("--check", action="store_true",
                   help=f"exit 1 when the reload work held the GIL over {TARGET_MS:g} ms")
    args = p.parse_args(argv)
    if min(args.rules) < 1 or args.seconds <= 0 or args.rebuilds < 1 or args.threshold <= 0:
        p.error("--rules, --seconds, --rebuilds and --threshold must be positive")
    table = [f"| rules | phase | seconds | gaps over {args.threshold:g} ms | longest gap ms | "
             f"reload thread ran over {TARGET_MS:g} ms in a gap | its longest run ms |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    worst: list[str] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="iiscors-gil-holds-") as tmp:
        for rules in args.rules:
            phases = measure(rules, args.seconds, args.rebuilds, args.threshold, Path(tmp),
                             lambda s: print(s, file=sys.stderr, flush=True))
            table += render(rules, phases, args.threshold)
            worst += named(rules, phases[0]) + named(rules, phases[1])
            problems += [f"{rules:,} rules: the reload thread ran {held:.1f} ms in one gap, at "
                         f"{line}" for held, line in phases[1].attributed(TARGET_MS)]
    print("\n".join([*table, "", "the gaps the reload thread ran longest in:", *worst]))
    if args.check:
        print("\n".join(problems) if problems else
              f"PASS: the reload work never held the GIL over {TARGET_MS:g} ms")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
