"""How long the reload thread's work keeps other threads from running (issue 17: "no request
waits more than 5 ms for a reload").

``tools/reload_bench.py`` measures what requests wait, collections and the VM's own pauses
included.  This tool isolates one cause: a single C call of the rebuild (an lxml walk, a
C-level iterator chain over every rule, a cascade of deallocations) holds the GIL from start
to end, since the interpreter switches threads only between bytecodes.  A probe thread runs a
tight loop that allocates nothing the collector tracks and records every gap between two of
its iterations; the middleware's own reload thread rebuilds a realistic web.config of
``--rules`` rules (the same versions as reload_bench.py, written ahead by its Editor process),
swaps it in, releases the old one and adopts the new one's objects, each version as soon as
the previous one is in use.  The
same probe runs first with nothing else (the machine's own pauses: preemption by the VM),
then beside a thread running plain Python with the rebuild's switch interval: the floor, what
the GIL's hand-off costs on this machine whatever a thread does (on a busy VM, a thread that
asked for the GIL can wait 10-20 ms for it behind plain Python).
Each gap over ``--threshold`` is recorded with the CPU time the reload thread used during it
(``pthread_getcpuclockid``): the part of the gap it held the GIL for.  On a shared machine a
gap is also the VM's or the scheduler's (the probe not running, or the GIL hand-off waiting for
a CPU), and then the reload thread did not run either; its CPU time tells the two apart.  Each
gap is named by the iiscors line the reload thread was at when it ended (sampled by the probe:
a long C call shows as the line that made it).

    python tools/gil_holds.py --rules 100000
    python tools/gil_holds.py --rules 10000 100000 --check

The probe also reads how long it was runnable but not running in each gap (the third field
of Linux's ``/proc/thread-self/schedstat``): time the scheduler gave the CPU to someone else,
which no GIL explains.  A thread waiting for the GIL sleeps, so what is left of the gap is what
it waited for the GIL; the reload thread held it for the least of that and its own CPU time
(on a shared VM, the reload thread keeps running without the GIL too, in libxml2's parse,
XPath searches and hashing, while the probe waits for a CPU).  Where the file cannot be read
(not Linux), nothing is subtracted.

Every hold over 5 ms is also listed by the line it was sampled at (how many, the longest).
The sampled line is where the reload thread let the GIL go: the line after a long stretch,
not always the one that made it.  ``--trace MS`` names the stretches themselves: the reload
thread is traced one bytecode at a time (``threading.settrace`` with ``f_trace_opcodes``) and
every bytecode that took over MS of its CPU time is listed, grouped by bytecode and iiscors
frames (how many, the longest, and the longest hold the probe saw end within 1 ms of one).
The interpreter switches threads between bytecodes only, so each is a stretch no request
could interrupt: one C call, or the deallocations one assignment or return set off.  A call
that lets the GIL go (libxml2's parse and XPath, hashing, a file's read) shows too, since its
CPU time is the thread's; the probe's column tells them apart.  Tracing slows the rebuild's
Python tenfold, not its C calls; it is a map of the stretches, not a measure of the holds.

``--check`` exits 1 when, during one gap, the reload thread held the GIL more than 5 ms in
iiscors's code: a request would have waited that long for it.
"""

from __future__ import annotations

import argparse
import contextlib
import dis
import gc
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reload_bench import TARGET_MS, Editor, deployed_middleware

from iiscors import CorsMiddleware
from iiscors.reload import REBUILD_SWITCH_INTERVAL

#: Gaps shorter than this are not recorded (ms): the rebuild's switch interval is 0.5 ms.
DEFAULT_THRESHOLD_MS = 2.0
#: How many of each phase's longest gaps are named.
WORST_NAMED = 8


class Gap(NamedTuple):
    """One gap between two of the probe's iterations, in ms."""

    wall: float
    #: the reload thread's CPU time meanwhile
    ran: float
    #: the reload thread's iiscors line at the gap's end
    line: str
    #: how long the probe was runnable but not running (the scheduler's share of the gap)
    queued: float = 0.0

    @property
    def held(self) -> float:
        """How long the reload thread held the GIL in this gap: what it ran, while the probe
        waited for something else than a CPU."""
        return max(0.0, min(self.ran, self.wall - self.queued))


@dataclass
class Gaps:
    """The probe's gaps of one phase."""

    name: str
    seconds: float = 0.0
    found: list[Gap] = field(default_factory=list)
    #: when each gap ended (perf_counter_ns), parallel to ``found``
    ends_ns: list[int] = field(default_factory=list)

    def over(self, ms: float) -> int:
        return sum(1 for gap in self.found if gap.wall > ms)

    def held_over(self, ms: float) -> int:
        return sum(1 for gap in self.found if gap.held > ms and gap.line != "idle")

    def longest(self) -> float:
        return max((gap.wall for gap in self.found), default=0.0)

    def longest_held(self) -> float:
        return max((gap.held for gap in self.found if gap.line != "idle"), default=0.0)

    def attributed(self, ms: float) -> list[tuple[float, str]]:
        """The gaps in which the reload thread held the GIL over ``ms``."""
        return [(gap.held, gap.line) for gap in self.found if gap.held > ms and gap.line != "idle"]


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


class Stretch(NamedTuple):
    """One bytecode of the reload thread that took over the tracer's threshold of its CPU time
    (ms): a C call, or the deallocations of an assignment, which no thread switch divides."""

    cpu: float
    #: when it ended (perf_counter_ns), to tell whether a probe gap covers it
    ended_ns: int
    #: the bytecode ("CALL", "STORE_FAST", "RETURN_VALUE") and the function it ran in
    what: str
    #: the iiscors frames it ran in, innermost first
    where: str


class Tracer:
    """A trace function for the reload thread (``threading.settrace``, one event per bytecode):
    notes every bytecode that took over ``threshold_ms`` of its CPU time (see the module's
    docstring).  The interpreter switches threads between bytecodes only, so each is a stretch
    during which the thread held the GIL (unless the call let it go, as libxml2's parse and
    XPath, hashing and file reads do)."""

    def __init__(self, threshold_ms: float) -> None:
        self.threshold_ns = int(threshold_ms * 1e6)
        self.found: list[Stretch] = []
        #: whether it notes anything (the rebuilds only)
        self.on = False
        self._last_cpu = 0
        #: the frame of the bytecode running now (a reference: it is alive anyway)
        self._frame: FrameType | None = None
        self._last: tuple[object, int, int] = (None, 0, 0)

    def __call__(self, frame: FrameType, event: str, arg: object) -> Callable[..., Any]:
        if event == "call":
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
        if self.on:
            cpu = time.thread_time_ns()
            if self._last_cpu and cpu - self._last_cpu > self.threshold_ns:
                self.found.append(Stretch((cpu - self._last_cpu) / 1e6, time.perf_counter_ns(),
                                          bytecode_name(*self._last), iiscors_frames(frame)))
            self._last = (frame.f_code, frame.f_lasti, frame.f_lineno or 0)
            self._last_cpu = time.thread_time_ns()
        return self


def bytecode_name(code: object, offset: int, line: int) -> str:
    """The bytecode at ``offset`` of ``code``, and where it is."""
    raw = getattr(code, "co_code", b"")
    name = dis.opname[raw[offset]] if 0 <= offset < len(raw) else "?"
    path = str(getattr(code, "co_filename", "?"))
    short = path.rsplit("iiscors", 1)[-1].lstrip("/") if "iiscors" in Path(path).parts else (
        Path(path).name)
    return f"{name} in {getattr(code, 'co_name', '?')} ({short}:{line})"


def iiscors_frames(frame: FrameType | None, most: int = 3) -> str:
    """The ``most`` innermost iiscors frames from ``frame``, as file:line, innermost first."""
    found: list[str] = []
    while frame is not None and len(found) < most:
        path = frame.f_code.co_filename
        if "iiscors" in Path(path).parts:
            found.append(f"{path.rsplit('iiscors', 1)[-1].lstrip('/')}:{frame.f_lineno}")
        frame = frame.f_back
    return " < ".join(found) or "outside iiscors"


def traced_table(stretches: list[Stretch], gaps: Gaps, rules: int) -> list[str]:
    """The stretches grouped by bytecode and place: how many, the longest,
    and the longest the probe saw the GIL held over (a gap ending within 1 ms of it)."""
    groups: dict[tuple[str, str], list[Stretch]] = {}
    for stretch in stretches:
        groups.setdefault((stretch.what, stretch.where), []).append(stretch)
    ends = sorted((int(gap_end), gap.held) for gap_end, gap in gaps_ending(gaps))
    rows = []
    for (what, where), found in sorted(groups.items(),
                                       key=lambda kv: -max(s.cpu for s in kv[1])):
        held = max((held_near(ends, s.ended_ns) for s in found), default=0.0)
        rows.append(f"| {rules:,} | {len(found)} | {max(s.cpu for s in found):.1f} | "
                    f"{held:.1f} | {what} | {where} |")
    return rows


def gaps_ending(gaps: Gaps) -> list[tuple[float, Gap]]:
    return [(gap_end, gap) for gap, gap_end in zip(gaps.found, gaps.ends_ns, strict=True)]


def held_near(ends: list[tuple[int, float]], at_ns: int, within_ns: int = 1_000_000) -> float:
    """The longest hold of the gaps ending within ``within_ns`` of ``at_ns``."""
    return max((held for end, held in ends if abs(end - at_ns) <= within_ns), default=0.0)


class Probe:
    """A thread that notes every gap over ``threshold_ms`` between two of its iterations, with
    the CPU time the watched thread (the reload thread, or the floor's busy thread) used
    meanwhile and its own time in the run queue (see :class:`Gap`)."""

    def __init__(self, middleware: CorsMiddleware, threshold_ms: float) -> None:
        self.middleware = middleware
        self.threshold_ns = int(threshold_ms * 1e6)
        #: the phase's gaps, the watched thread's CPU clock and where it is: swapped as one
        self.phase: tuple[Gaps, Callable[[], int], Callable[[], str]] = (
            Gaps("warm-up"), lambda: 0, lambda: "idle")
        self.stop = threading.Event()

    def watch(self, gaps: Gaps, thread: threading.Thread | None,
              line: Callable[[], str]) -> None:
        self.phase = (gaps, cpu_clock(thread), line)

    def run(self) -> None:
        with own_queue_clock() as queued:
            self._loop(queued)

    def _loop(self, queued: Callable[[], int]) -> None:
        clock, threshold, stopped = time.perf_counter_ns, self.threshold_ns, self.stop.is_set
        phase = self.phase
        cpu = phase[1]
        last, last_cpu, last_queued = clock(), cpu(), queued()
        while not stopped():
            now = clock()
            if self.phase is not phase:  # a new phase: its clock starts here
                phase = self.phase
                cpu = phase[1]
            elif now - last > threshold:
                phase[0].found.append(Gap((now - last) / 1e6, (cpu() - last_cpu) / 1e6,
                                          phase[2](), (queued() - last_queued) / 1e6))
                phase[0].ends_ns.append(now)
            last, last_cpu, last_queued = clock(), cpu(), queued()


def cpu_clock(thread: threading.Thread | None) -> Callable[[], int]:
    """``thread``'s CPU time in ns (0 throughout when it has not started)."""
    if thread is None or thread.ident is None:
        return lambda: 0
    clock = time.pthread_getcpuclockid(thread.ident)

    def read() -> int:
        try:
            return time.clock_gettime_ns(clock)
        except OSError:  # it ended, as the floor's thread does once its phase is over
            return 0

    return read


@contextlib.contextmanager
def own_queue_clock() -> Iterator[Callable[[], int]]:
    """Nanoseconds the calling thread has spent runnable but not running (Linux's schedstat),
    or a clock that stays at 0 where that is not known; its file is closed on leaving."""
    try:
        fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
    except OSError:
        yield lambda: 0
        return
    try:
        yield lambda: int(os.pread(fd, 128, 0).split()[1])
    finally:
        os.close(fd)


def reload_idle(middleware: CorsMiddleware) -> bool:
    return thread_line(middleware._thread) == "idle"


def python_floor(seconds: float, worked: threading.Event, release: threading.Event
                 ) -> threading.Thread:
    """A thread that runs plain Python (dict and str work, no long C call) for ``seconds``
    with the rebuild's switch interval: the waits the GIL's hand-off itself causes on this
    machine, whatever the thread does (the floor of the reload's figure).  It sets ``worked``
    when done, then waits for ``release`` (its CPU clock is read until then)."""
    def work() -> None:
        end = time.perf_counter() + seconds
        table: dict[int, str] = {}
        while time.perf_counter() < end:
            for i in range(1000):
                table[i] = str(i)
            table.clear()
        worked.set()
        release.wait()

    return threading.Thread(target=work, name="gil-floor")


def measure(rules: int, seconds: float, rebuilds: int, threshold_ms: float, tmp: Path,
            log: Any, tracer: Tracer | None = None) -> tuple[Gaps, Gaps, Gaps]:
    """(nothing else, a Python thread busy, during reload work) for a web.config of
    ``rules`` rules; ``tracer`` traces the reload thread during the rebuilds."""
    if tracer is not None:
        threading.settrace(tracer)  # the reload thread's, started with the middleware
    try:
        middleware, config = deployed_middleware(rules, tmp, log)
        list(middleware(_environ(), start_response))  # starts the reload thread if need be
    finally:
        threading.settrace(None)
    # (the versions written by another process before the phases: built here, each one's 17 MB
    # text held the GIL in single C calls while the reload thread read and hashed the file
    # without it, and the probe's gap was charged to the reload; reload_bench.Editor)
    editor = Editor(config, rules, ahead=rebuilds)
    gc.collect()
    probe = Probe(middleware, threshold_ms)
    worker = threading.Thread(target=probe.run, name="gil-probe")
    phases = Gaps("nothing else"), Gaps("a Python thread busy"), Gaps("during reload work")
    worker.start()
    try:
        time.sleep(0.2)
        probe.watch(phases[0], middleware._thread, lambda: thread_line(middleware._thread))
        phases[0].seconds = timed(lambda: time.sleep(seconds))
        phases[1].seconds = timed(lambda: floor_phase(probe, phases[1], seconds))
        probe.watch(phases[2], middleware._thread, lambda: thread_line(middleware._thread))
        if tracer is not None:
            tracer.on = True
        phases[2].seconds = timed(lambda: rebuild(middleware, editor, rebuilds, log))
    finally:
        if tracer is not None:
            tracer.on = False
        probe.stop.set()
        worker.join()
        editor.close()
    return phases


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def floor_phase(probe: Probe, gaps: Gaps, seconds: float) -> None:
    interval = sys.getswitchinterval()
    worked, release = threading.Event(), threading.Event()
    floor = python_floor(seconds, worked, release)
    sys.setswitchinterval(REBUILD_SWITCH_INTERVAL)
    try:
        floor.start()
        probe.watch(gaps, floor, lambda: "plain Python")
        worked.wait()
        probe.watch(Gaps("between phases"), None, lambda: "idle")  # before its clock goes
    finally:
        release.set()
        floor.join()
        sys.setswitchinterval(interval)


def rebuild(middleware: CorsMiddleware, editor: Editor, rebuilds: int, log: Any) -> None:
    for k in range(1, rebuilds + 1):
        old = middleware.policy
        editor.write(f"v{k}")  # (a rename: written ahead, by another process)
        while middleware.policy is old:
            time.sleep(0.005)
        while not reload_idle(middleware):  # the release and the adoption
            time.sleep(0.005)
        log(f"  rebuild {k} served")


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None
                   ) -> Callable[[bytes], object]:
    return lambda data: None


def _environ() -> dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80", "wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1"}


def by_line(rules: int, phase: Gaps, ms: float) -> list[str]:
    """The phase's holds over ``ms`` grouped by the line they were sampled at: how many, the
    longest, longest first."""
    grouped: dict[str, list[float]] = {}
    for held, line in phase.attributed(ms):
        grouped.setdefault(line, []).append(held)
    return [f"| {rules:,} | {line} | {len(found)} | {max(found):.1f} |" for line, found in
            sorted(grouped.items(), key=lambda item: -max(item[1]))]


def render(rules: int, phases: tuple[Gaps, ...], threshold_ms: float) -> list[str]:
    return [f"| {rules:,} | {phase.name} | {phase.seconds:.1f} | {phase.over(threshold_ms)} | "
            f"{phase.longest():.1f} | {phase.held_over(TARGET_MS)} | "
            f"{phase.longest_held():.1f} |" for phase in phases]


def named(rules: int, phase: Gaps) -> list[str]:
    worst = sorted(phase.found, key=lambda gap: (gap.held, gap.wall), reverse=True)
    return [f"  {rules:,} rules, {phase.name}: {gap.wall:.1f} ms, of which the watched thread "
            f"held the GIL {gap.held:.1f} ms (it ran {gap.ran:.1f} ms; the probe waited "
            f"{gap.queued:.1f} ms for a CPU), at {gap.line}" for gap in worst[:WORST_NAMED]]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rules", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--seconds", type=float, default=5.0,
                   help="seconds of the phase with nothing else (5)")
    p.add_argument("--rebuilds", type=int, default=2, help="rebuilds (2)")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD_MS,
                   help="the shortest gap recorded, ms (2)")
    p.add_argument("--trace", type=float, metavar="MS",
                   help="also list the reload thread's bytecodes that took over MS of its CPU "
                        "during the rebuilds (slow: one trace event a bytecode)")
    p.add_argument("--check", action="store_true",
                   help=f"exit 1 when the reload work held the GIL over {TARGET_MS:g} ms")
    args = p.parse_args(argv)
    if min(args.rules) < 1 or args.seconds <= 0 or args.rebuilds < 1 or args.threshold <= 0:
        p.error("--rules, --seconds, --rebuilds and --threshold must be positive")
    table = [f"| rules | phase | seconds | gaps over {args.threshold:g} ms | longest gap ms | "
             f"reload thread held the GIL over {TARGET_MS:g} ms | its longest hold ms |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    worst: list[str] = []
    lines = [f"| rules | sampled at | holds over {TARGET_MS:g} ms | longest ms |",
             "|---:|---|---:|---:|"]
    problems: list[str] = []
    traced = ["| rules | bytecodes | longest ms (CPU) | probe saw held ms | bytecode | "
              "iiscors frames |", "|---:|---:|---:|---:|---|---|"]
    with tempfile.TemporaryDirectory(prefix="iiscors-gil-holds-") as tmp:
        for rules in args.rules:
            tracer = None if args.trace is None else Tracer(args.trace)
            phases = measure(rules, args.seconds, args.rebuilds, args.threshold, Path(tmp),
                             lambda s: print(s, file=sys.stderr, flush=True), tracer)
            table += render(rules, phases, args.threshold)
            if tracer is not None:
                traced += traced_table(tracer.found, phases[-1], rules)
            worst += [line for phase in phases for line in named(rules, phase)]
            lines += by_line(rules, phases[-1], TARGET_MS)
            problems += [f"{rules:,} rules: the reload thread held the GIL {held:.1f} ms, at "
                         f"{line}" for held, line in phases[-1].attributed(TARGET_MS)]
    print("\n".join([*table, "", "the gaps in which the watched thread held the GIL longest:",
                     *worst, "", "the reload work's holds by the line they were sampled at:",
                     *lines]))
    if args.trace is not None:
        print("\n".join(["", f"the reload thread's bytecodes over {args.trace:g} ms of CPU, "
                               "during the rebuilds:", *traced]))
    if args.check:
        print("\n".join(problems) if problems else
              f"PASS: the reload work never held the GIL over {TARGET_MS:g} ms")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
