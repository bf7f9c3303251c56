"""How long a request waits for a hot reload, in process (issue 17: "no request waits more than
5 ms for a reload, at any configuration size").

A client thread calls the WSGI middleware in a closed loop (allowed GETs, origins in a stride
over the rules) while the middleware's reload thread rebuilds a large web.config again and
again: as soon as one version is served, the next is written (atomic rename) by another
process, as an editor or a deployment writes it (:class:`Editor`: the versions are written
beside the file before the phases, so that during them writing one is a rename; built in
this process, a version's 17 MB text held the GIL for milliseconds, and written by another
process during the phase, it took a CPU from the client).  The main thread waits for the
client's word that a version was served without the GIL (polling the middleware every
millisecond, it made a third thread the requests waited for).  The same loop
runs first without edits, and the edited phase goes on for :data:`AFTERMATH` seconds after
the last rebuild, so that the collections its objects cause are counted.  Each request's wall
time is its wait; reported per phase: requests, p50 / p99 / max, the requests served by each
version (every answer is checked whole: the version is named in every rule's exposeHeaders
and in a customHeaders X-Version, so a mixed answer would show and is counted), the rebuilds
and their mean time, and the collector's pauses (``gc.callbacks``).

    python tools/reload_bench.py                     # 10,000 and 100,000 rules
    python tools/reload_bench.py --rules 10000 --check
    python tools/reload_bench.py --site-dirs 5000    # the cost of one check of a site tree

Each wait over :data:`RECORDED_MS` is kept with how long the reload thread was runnable during
it, running or waiting for a CPU (:class:`ReloadClock`, Linux's schedstat).  The *max for the
reload* column is the longest of these waits counted as the least of the wait and that time: a
request can wait for the reload only while the reload thread is runnable (holding the GIL,
even while it waits for a CPU, or on a CPU the client needed); a stop of the VM, or another
process taking the client's CPU while the reload thread sleeps, is not a wait for the reload,
and on the project's shared 2-vCPU VM such stops of 4-14 ms come in phases without any edit
too.  It is an upper bound: the reload thread's runnable time counts whole even when it ran
beside the client without the GIL (libxml2's parse).  A wait during which a collection ran
counts whole (run by the client's thread, it may walk the reload's new objects while the
reload thread sleeps), and so does a wait where schedstat cannot be read.

``--check`` judges the target: the longest wait for the reload, while rebuilds ran, was at most
5 ms more than the median request without them (a request itself takes microseconds), and no
answer was mixed; the raw maximum is reported beside it.  ``tools/loadtest.py
--reload-edits`` measures the same over HTTP (gunicorn).

``--attribute`` names what each phase's worst waits coincided with: the collections, the
reload thread's rebuilds (``source.build``, the loader), compiles, release steps and adoptions
that overlapped them, and the line of iiscors the reload thread was at when the wait ended
(sampled by the client only after a wait over the target: a long C call shows as the line
that made it).  It records each request's start too (8 bytes a request).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import io
import itertools
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadtesting.reload_run import version_config

import iiscors.reload as reload_module
from iiscors import CorsMiddleware
from iiscors.config.load import Config

#: The issue's target: no request waits more than this for a reload (ms).
TARGET_MS = 5.0
#: Seconds the edited phase goes on after the last rebuild: the collections that its objects
#: cause (a full one, once the collector's thresholds are restored) are the reload's too.
AFTERMATH = 3.0
#: Seconds between the reload thread's checks while the bench runs.
INTERVAL = 0.02
#: --attribute: how many of each phase's worst waits are named
WORST_NAMED = 5
#: Waits longer than this (ms) are recorded with the time the reload thread was runnable
#: meanwhile (:class:`ReloadClock`)
RECORDED_MS = 1.0
#: How often the client reads the reload thread's runnable time (ns): a wait is charged with
#: what the reload thread did from the last read before it, at most this much earlier (2 µs
#: a read, on requests of about 1.5 µs: read before each one, it slowed the loop threefold)
READ_EVERY_NS = 100_000


@dataclass
class Phase:
    """What the client saw during one phase."""

    name: str
    #: an array, not a list: a million ints in a list would lengthen every full collection of
    #: the benchmark's own process (the list is traversed), which it measures
    waits_ns: array[int] = field(default_factory=lambda: array("q"))
    by_version: dict[str, int] = field(default_factory=dict)
    mixed: int = 0
    rebuilds: int = 0
    rebuild_seconds: float = 0.0
    #: (generation, milliseconds) of each collection
    gc_pauses: list[tuple[int, float]] = field(default_factory=list)
    #: --attribute: each request's start (perf_counter_ns), parallel to waits_ns
    starts_ns: array[int] = field(default_factory=lambda: array("q"))
    #: --attribute: (start ns, end ns, what) of the collections and the reload thread's work
    events: list[tuple[int, int, str]] = field(default_factory=list)
    #: --attribute: request index -> the reload thread's iiscors line when a long wait ended
    samples: dict[int, str] = field(default_factory=dict)
    #: versions the editor made during the phase, not ahead of it (:class:`Editor`)
    made_late: int = 0
    #: the version the edits stopped at, never served (:func:`edit_until`), if any
    unserved: str | None = None
    #: request index -> how long (ns) the reload thread was runnable, running or waiting
    #: for a CPU, during each wait over :data:`RECORDED_MS` (absent: unknown; ReloadClock)
    reload_runnable_ns: dict[int, int] = field(default_factory=dict)

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.waits_ns)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6

    @property
    def max_ms(self) -> float:
        return max(self.waits_ns, default=0) / 1e6

    def for_the_reload_ns(self, index: int) -> int:
        """What request ``index`` may have waited for the reload: the least of its wait and
        the time the reload thread was runnable meanwhile, running or waiting for a CPU (its
        whole wait when that is unknown).  Holding the GIL, or taking a CPU the client
        needed, the reload thread is runnable; while it sleeps (between checks, in a read)
        and the VM or another process stops the client, no request waits for it."""
        wait = self.waits_ns[index]
        return min(wait, self.reload_runnable_ns.get(index, wait))

    @property
    def max_for_the_reload_ms(self) -> float:
        """The longest wait for the reload (:meth:`for_the_reload_ns`)."""
        recorded = int(RECORDED_MS * 1e6)
        longest = max((self.for_the_reload_ns(index) for index, wait in enumerate(self.waits_ns)
                       if wait > recorded), default=0)
        return max(longest, min(recorded, max(self.waits_ns, default=0))) / 1e6


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


class Client:
    """The closed loop: one request after another, each timed and checked whole."""

    def __init__(self, middleware: CorsMiddleware, rules: int, attribute: bool = False) -> None:
        self.middleware = middleware
        self.rules = rules
        self.phase = Phase("warm-up")
        self.stop = threading.Event()
        self.n = itertools.count()
        self.attribute = attribute
        #: set when the client first gets an answer of a version not served before
        self.new_version = threading.Event()
        #: set when the client's loop has ended, whatever ended it
        self.finished = threading.Event()
        #: collections run so far, in any thread (:func:`gc_pauses` counts them)
        self.collections = 0

    def environ(self) -> dict[str, Any]:
        origin = f"https://app{(next(self.n) * 7919) % self.rules + 1:05d}.example.com"
        return {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "x",
                "SERVER_PORT": "80", "wsgi.url_scheme": "http", "HTTP_ORIGIN": origin,
                "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr}

    def run(self) -> None:
        headers: list[tuple[str, str]] = []

        def start_response(status: str, h: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers[:] = h
            return None

        clock = time.perf_counter_ns
        attribute, long_ns = self.attribute, int(TARGET_MS * 1e6)
        recorded_ns = int(RECORDED_MS * 1e6)
        reload_runnable = ReloadClock(self.middleware)
        try:
            before, read_at = reload_runnable(), clock()
            while not self.stop.is_set():
                environ = self.environ()
                if clock() - read_at > READ_EVERY_NS:
                    # (before the request's clock starts: the wait does not include the read)
                    before, read_at = reload_runnable(), clock()
                collections = self.collections
                started = clock()
                for _ in self.middleware(environ, start_response):
                    pass
                waited = clock() - started
                phase = self.phase
                if waited > recorded_ns:
                    after = reload_runnable()
                    # A collection during the wait counts whole: run by this thread, it may
                    # walk the reload's new objects while the reload thread sleeps.
                    if before[0] is after[0] and before[0] is not None \
                            and collections == self.collections:
                        phase.reload_runnable_ns[len(phase.waits_ns)] = after[1] - before[1]
                    before, read_at = after, clock()
                if attribute:
                    if waited > long_ns:
                        phase.samples[len(phase.waits_ns)] = reload_thread_line(self.middleware)
                    phase.starts_ns.append(started)
                phase.waits_ns.append(waited)
                if self.record(phase, headers):
                    self.new_version.set()
        finally:
            reload_runnable.close()
            self.finished.set()
            self.new_version.set()  # (wakes edit_until, which then sees the loop ended)

    @staticmethod
    def record(phase: Phase, headers: list[tuple[str, str]]) -> bool:
        """Count the answer by its version (a mixed one apart); True on a version's first."""
        versions = [v for k, v in headers if k == "X-Version"]
        expose = [v for k, v in headers if k == "Access-Control-Expose-Headers"]
        if len(versions) != 1 or expose != [f"X-{versions[0]}"]:
            phase.mixed += 1
            return False
        served = phase.by_version.get(versions[0], 0)
        phase.by_version[versions[0]] = served + 1
        return not served


@contextmanager
def collector_left_alone() -> Iterator[None]:
    """--collector default: what a rebuild did before issue 17 (only the switch interval)."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, reload_module.REBUILD_SWITCH_INTERVAL))
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


@contextmanager
def collector_disabled() -> Iterator[None]:
    """--collector disabled: gc.disable() for the rebuild."""
    with collector_left_alone():
        gc.disable()
        try:
            yield
        finally:
            gc.enable()


@contextmanager
def no_full_collection() -> Iterator[None]:
    """--collector young: young collections go on, full ones wait for the rebuild's end (what
    iiscors.reload did in issue 17's first pass, before NO_COLLECTION and the adoption)."""
    with collector_left_alone():
        thresholds = gc.get_threshold()
        gc.set_threshold(thresholds[0], thresholds[1], 1 << 30)
        try:
            yield
        finally:
            gc.set_threshold(*thresholds)


#: --collector: what the reload thread does with the collector while it rebuilds (an A/B of
#: iiscors.reload's choice, "reload", against the alternatives)
COLLECTOR_MODES: dict[str, Callable[[], Any]] = {
    "default": collector_left_alone, "disabled": collector_disabled,
    "young": no_full_collection}


class ReloadClock:
    """How long the middleware's reload thread has been runnable so far, running or waiting
    for a CPU: ``(the thread, ns)``, from the first two fields of Linux's
    ``/proc/self/task/TID/schedstat`` (its CPU time and its time on a run queue).  A thread
    that holds the GIL and waits for a CPU keeps the requests waiting too, so both count.
    ``(None, 0)`` where it has not started, has ended, or this cannot be read (not Linux):
    then a wait counts whole.

    Read with ``pread`` through :class:`ctypes.PyDLL`, which keeps the GIL (``os.pread`` lets
    it go, and would hand it to the reload thread at each request): about 2 µs a read."""

    def __init__(self, middleware: CorsMiddleware) -> None:
        self.middleware = middleware
        self.thread: threading.Thread | None = None
        self.descriptor: int | None = None
        self.buffer = ctypes.create_string_buffer(128)

    def __call__(self) -> tuple[threading.Thread | None, int]:
        thread = self.middleware._thread
        if thread is not self.thread:  # started, or started again (after an error)
            self.close()
            self.thread = thread
            # (an ended thread's id may be another's by now: it is not read)
            if thread is not None and thread.is_alive() and thread.native_id is not None \
                    and _PREAD is not None:
                with contextlib.suppress(OSError):
                    self.descriptor = os.open(f"/proc/self/task/{thread.native_id}/schedstat",
                                              os.O_RDONLY)
        if self.descriptor is None or _PREAD is None:
            return None, 0
        read = _PREAD(self.descriptor, self.buffer, len(self.buffer), 0)
        fields = self.buffer.raw[:read].split() if read > 0 else []
        if len(fields) < 2:  # the thread ended
            return None, 0
        return thread, int(fields[0]) + int(fields[1])

    def close(self) -> None:
        if self.descriptor is not None:
            os.close(self.descriptor)
            self.descriptor = None


def _pread() -> Callable[[int, Any, int, int], int] | None:
    """libc's ``pread``, called with the GIL kept; None where it cannot be had."""
    try:
        function = ctypes.PyDLL(None).pread
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_long]
    function.restype = ctypes.c_ssize_t
    return cast(Callable[[int, Any, int, int], int], function)


_PREAD = _pread() if sys.platform.startswith("linux") else None


def reload_thread_line(middleware: CorsMiddleware) -> str:
    """The innermost iiscors line the reload thread is at now ("idle" when none)."""
    thread = middleware._thread
    frame = sys._current_frames().get(thread.ident or -1) if thread is not None else None
    while frame is not None:
        path = frame.f_code.co_filename
        if "iiscors" in Path(path).parts:
            return f"{path.rsplit('iiscors', 1)[-1].lstrip('/')}:{frame.f_lineno}"
        frame = frame.f_back
    return "idle"


@contextmanager
def gc_pauses(client: Client) -> Iterator[None]:
    """Record every collection's duration into the client's current phase."""
    started: list[int] = [0]

    def callback(stage: str, info: dict[str, int]) -> None:
        if stage == "start":
            started[0] = time.perf_counter_ns()
        else:
            ended = time.perf_counter_ns()
            client.collections += 1
            client.phase.gc_pauses.append((info["generation"], (ended - started[0]) / 1e6))
            if client.attribute:
                client.phase.events.append(
                    (started[0], ended, f"{'full' if info['generation'] == 2 else 'young'} "
                     f"collection (gen {info['generation']})"))

    gc.callbacks.append(callback)
    try:
        yield
    finally:
        gc.callbacks.remove(callback)


@contextmanager
def reload_work_timed(client: Client) -> Iterator[None]:
    """--attribute: record when the reload thread builds (the loader), compiles, releases the
    old configuration (each step) and adopts the new one's objects, as events of the client's
    current phase.  Works against an older iiscors.reload too (no release_steps or adoption:
    the whole release is one event)."""
    source = client.middleware.source
    restore: list[tuple[object, str, object]] = []

    def timed(owner: object, name: str, label: str) -> None:
        real = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter_ns()
            try:
                return real(*args, **kwargs)
            finally:
                client.phase.events.append((started, time.perf_counter_ns(), label))

        restore.append((owner, name, owner.__dict__.get(name) if isinstance(owner, type)
                        else getattr(owner, name)))
        setattr(owner, name, wrapper)

    real_steps: Callable[[list[object]], Iterator[int]] | None = getattr(
        reload_module, "release_steps", None)

    def steps(roots: list[object]) -> Iterator[int]:
        assert real_steps is not None
        inner = real_steps(roots)
        while True:
            started = time.perf_counter_ns()
            try:
                released = next(inner)
            except StopIteration:
                return
            client.phase.events.append((started, time.perf_counter_ns(), "release step"))
            yield released

    timed(source, "build", "rebuild (source.build: the loader)")
    timed(Config, "compile", "compile")
    if real_steps is None:
        timed(reload_module, "release_gradually", "release (whole)")
    else:
        restore.append((reload_module, "release_steps", real_steps))
        reload_module.release_steps = steps
    if hasattr(reload_module, "adopt_young_objects"):
        timed(reload_module, "adopt_young_objects", "adoption (gc.freeze/unfreeze)")
    try:
        yield
    finally:
        for owner, name, value in reversed(restore):
            setattr(owner, name, value)


def attribution(phase: Phase) -> list[str]:
    """--attribute: the phase's worst waits, each with what overlapped it."""
    worst = sorted(range(len(phase.waits_ns)), key=phase.waits_ns.__getitem__)[-WORST_NAMED:]
    lines = []
    for index in reversed(worst):
        start = phase.starts_ns[index]
        end = start + phase.waits_ns[index]
        overlapping: dict[str, int] = {}
        for began, ended, what in phase.events:
            if began < end and ended > start:
                overlapping[what] = overlapping.get(what, 0) + 1
        named = ", ".join(f"{what}" + (f" x{count}" if count > 1 else "")
                          for what, count in overlapping.items()) or "nothing recorded"
        sample = phase.samples.get(index, "not sampled")
        runnable = phase.reload_runnable_ns.get(index)
        ran = "unknown" if runnable is None else f"{runnable / 1e6:.1f} ms"
        lines.append(f"  {phase.name}: {phase.waits_ns[index] / 1e6:.1f} ms (the reload "
                     f"thread was runnable {ran} of it): {named}; reload thread then at "
                     f"{sample}")
    return lines


def write(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".new")
    temporary.write_bytes(data)
    temporary.replace(path)


class Editor:
    """Writes the versions from another process, as an editor or a deployment does.

    Built in the benchmark's own process, each version's text held the GIL in single C calls
    (``str.join`` of 100,000 rules, the concatenation, ``encode``: each a copy of 17 MB, several
    ms) at the very moment the previous version was adopted, while the reload thread released
    the old configuration: the client's worst waits were the benchmark's own.  The editor
    process (at the lowest priority, ``os.nice(19)``) writes ``ahead`` versions beside the
    file before the measured phases begin, so that writing one during them is a rename: made
    there one by one, each next one took a CPU from the client just as a rebuild began.  Past
    those, it makes each when asked (:attr:`made_late` counts them)."""

    def __init__(self, config: Path, rules: int, ahead: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--editor", str(config), str(rules), str(ahead)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        #: the versions made when asked, during the phase
        self.made_late = 0
        if self._answer() != "ready":
            self.close()
            raise RuntimeError("the editor process did not start")

    def _answer(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def write(self, tag: str) -> None:
        """Write version ``tag`` (atomic rename); back once it is written."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{tag}\n")
        self.process.stdin.flush()
        answer = self._answer()
        if answer == f"{tag} made":
            self.made_late += 1
        elif answer != tag:
            raise RuntimeError(f"the editor process did not write {tag}")

    def close(self) -> None:
        """End the editor (it removes the versions it wrote ahead and were not used): its
        input closed, waited for, killed if it does not end; both pipes closed."""
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


#: Where the editor's template names the version
TAG_PLACEHOLDER = "vTAG"


def editor_main(config: Path, rules: int, ahead: int) -> int:
    """The editor process: versions v1 to v``ahead`` are written beside ``config`` first
    ("ready" once they are), then for each tag read from stdin that version is renamed over
    ``config`` (made then if it was not: "TAG made"), and the tag printed."""
    os.nice(19)
    # (one version's text, the tag a placeholder: each version is then one bytes.replace, not
    # the 0.3 s of building 100,000 rules)
    template = version_config(rules, TAG_PLACEHOLDER)

    def prepare(tag: str) -> Path:
        staged = config.with_name(f"{config.name}.{tag}")
        staged.write_bytes(template.replace(TAG_PLACEHOLDER.encode(), tag.encode()))
        return staged

    ready = {f"v{k}": prepare(f"v{k}") for k in range(1, ahead + 1)}
    print("ready", flush=True)
    for line in sys.stdin:
        tag = line.strip()
        staged = ready.pop(tag, None)
        made = staged is None
        (prepare(tag) if staged is None else staged).replace(config)
        print(f"{tag} made" if made else tag, flush=True)
    for staged in ready.values():
        staged.unlink(missing_ok=True)
    return 0


def versions_ahead(seconds: float, rebuilds: int, build_seconds: float, size: int) -> int:
    """How many versions the :class:`Editor` writes before the phases: enough for ``rebuilds``
    and for ``seconds`` of rebuilds at twice the first build's time each (a rebuild beside
    the client takes longer: it shares the GIL), at most :data:`MOST_AHEAD_BYTES` of files of
    ``size`` bytes."""
    wanted = max(rebuilds, math.ceil(seconds / max(2 * build_seconds, 1e-3))) + 2
    return max(1, min(wanted, MOST_AHEAD_BYTES // max(size, 1)))


#: The most the editor's versions written ahead may take, in bytes (memory, on /dev/shm)
MOST_AHEAD_BYTES = 1 << 28


def edit_until(client: Client, editor: Editor, phase: Phase, rebuilds: int,
               seconds: float, version_timeout: float = 300.0) -> None:
    """Write version after version (:class:`Editor`), each as soon as the client was served
    the previous one, until ``rebuilds`` rebuilds and ``seconds`` have passed.  This thread
    waits for the client's word (:attr:`Client.new_version`) without the GIL: polling the
    middleware every millisecond, it took the GIL a thousand times a second, a third thread
    the requests waited for.  It stops, naming the version in :attr:`Phase.unserved`, when
    the client's loop ended or a version was not served within ``version_timeout`` seconds
    (every answer of it mixed, or the reload broken): ``--check`` then fails."""
    end = time.monotonic() + seconds
    for k in itertools.count(1):
        if phase.rebuilds >= rebuilds and time.monotonic() >= end:
            return
        tag = f"v{k}"
        started = time.perf_counter()
        client.new_version.clear()
        editor.write(tag)
        deadline = time.monotonic() + version_timeout
        while tag not in phase.by_version:  # (a version's first answer sets the event)
            if client.finished.is_set() or time.monotonic() > deadline:
                phase.unserved = tag
                return
            client.new_version.wait(min(1.0, version_timeout))
            client.new_version.clear()
        phase.rebuild_seconds += time.perf_counter() - started
        phase.rebuilds += 1


def deployed_middleware(rules: int, tmp: Path, log: Callable[[str], None]
                        ) -> tuple[CorsMiddleware, Path]:
    """The middleware over version v0 of a web.config of ``rules`` rules in ``tmp``, deployed
    an hour ago (not racy: the first check does not read it again), and its path."""
    config = tmp / "web.config"
    data = version_config(rules, "v0")
    write(config, data)
    deployed = time.time() - 3600
    os.utime(config, (deployed, deployed))
    log(f"{rules:,} rules ({len(data) / 1e6:.1f} MB): building")
    return CorsMiddleware(app, str(config), reload_interval=INTERVAL,
                          max_bytes=4 * len(data)), config


def measure(rules: int, seconds: float, rebuilds: int, tmp: Path,
            log: Callable[[str], None], attribute: bool = False) -> tuple[Phase, Phase]:
    """(without edits, during rebuilds) for a web.config of ``rules`` rules."""
    started = time.perf_counter()
    middleware, config = deployed_middleware(rules, tmp, log)
    build_seconds = time.perf_counter() - started
    ahead = versions_ahead(seconds, rebuilds, build_seconds, config.stat().st_size)
    log(f"  writing {ahead} versions ahead")
    editor = Editor(config, rules, ahead)
    gc.collect()  # the first build's collection debt: the quiet phase is the steady state
    client = Client(middleware, rules, attribute)
    worker = threading.Thread(target=client.run, name="bench-client")
    quiet, busy = Phase("without edits"), Phase("during rebuilds")
    timing = reload_work_timed(client) if attribute else nullcontext()
    with gc_pauses(client), timing:
        worker.start()
        try:
            time.sleep(0.5)  # warm-up: the answers table, the caches
            client.phase = quiet
            log(f"  {seconds:g} s without edits")
            time.sleep(seconds)
            client.phase = busy
            log(f"  {seconds:g} s and at least {rebuilds} rebuild(s), back to back")
            edit_until(client, editor, busy, rebuilds, seconds,
                       version_timeout=max(60.0, 30 * build_seconds))
            time.sleep(AFTERMATH)  # the collections the new objects cause count too
        finally:
            client.stop.set()
            worker.join()
            editor.close()
    busy.made_late = editor.made_late
    return quiet, busy


def render(rules: int, phases: tuple[Phase, Phase]) -> list[str]:
    """Two rows of the table, one per phase."""
    lines = []
    for phase in phases:
        rebuild = (f"{phase.rebuilds} rebuilds, {phase.rebuild_seconds / phase.rebuilds:.2f} s "
                   "each" if phase.rebuilds else "no rebuild")
        pauses = [ms for _, ms in phase.gc_pauses]
        full = [ms for generation, ms in phase.gc_pauses if generation == 2]
        lines.append(f"| {rules:,} | {phase.name} | {len(phase.waits_ns):,} | "
                     f"{phase.percentile_ms(0.5) * 1e3:.1f} µs | "
                     f"{phase.percentile_ms(0.99):.3f} | {phase.max_ms:.1f} | "
                     f"{phase.max_for_the_reload_ms:.1f} | "
                     f"{sum(w > TARGET_MS * 1e6 for w in phase.waits_ns)} | {rebuild} | "
                     f"{len(pauses)}, max {max(pauses, default=0.0):.1f} ms | "
                     f"{len(full)}, max {max(full, default=0.0):.1f} ms | {phase.mixed} |")
    return lines


def judge(rules: int, phases: tuple[Phase, Phase]) -> list[str]:
    """The --check verdicts for one size: empty when every target is met."""
    quiet, busy = phases
    problems = []
    # what a request waited for the reload: the part of its wait while the reload thread ran
    # (Phase.for_the_reload_ns), beyond what a request takes without rebuilds
    excess = busy.max_for_the_reload_ms - quiet.percentile_ms(0.5)
    if excess > TARGET_MS:
        problems.append(f"{rules:,} rules: a request during rebuilds waited {excess:.1f} ms "
                        f"more than the median without while the reload thread ran (target "
                        f"<= {TARGET_MS:g} ms; its whole wait {busy.max_ms:.1f} ms)")
    if quiet.mixed or busy.mixed:
        problems.append(f"{rules:,} rules: {quiet.mixed + busy.mixed} mixed answers")
    if busy.rebuilds < 1 or len(busy.by_version) < 2:
        problems.append(f"{rules:,} rules: no new version was served during the rebuilds")
    if busy.unserved is not None:
        problems.append(f"{rules:,} rules: version {busy.unserved} was never served (the "
                        "client's loop ended, or it was not served in time)")
    return problems


def site_config(origin: str) -> bytes:
    return (f'<configuration><system.webServer><cors enabled="true"><add origin="{origin}"/>'
            "</cors></system.webServer></configuration>").encode()


def check_cost(directories: int, tmp: Path) -> str:
    """--site-dirs: what one check of an unchanged site tree costs (CPU and wall time, median
    of 20): ``directories`` directories, 100 per parent, one in ten with a web.config."""
    root = tmp / "site"
    root.mkdir()
    (root / "web.config").write_bytes(site_config("https://a.example"))
    for i in range(directories):
        sub = root / f"a{i // 100:03d}" / f"d{i:05d}"
        sub.mkdir(parents=True)
        if i % 10 == 0:
            (sub / "web.config").write_bytes(site_config(f"https://d{i}.example"))
    deployed = time.time() - 3600  # not racy: a check only stats
    for path in (root, *root.rglob("*")):
        os.utime(path, (deployed, deployed))
    middleware = CorsMiddleware(app, str(root), reload_interval=3600)
    cpu, wall = [], []
    for _ in range(20):
        started_cpu, started = time.thread_time(), time.perf_counter()
        middleware.check_reload()
        cpu.append(time.thread_time() - started_cpu)
        wall.append(time.perf_counter() - started)
    paths = len(middleware.watched)
    cpu_ms, wall_ms = sorted(cpu)[10] * 1e3, sorted(wall)[10] * 1e3
    return (f"a check of a site tree of {directories:,} directories ({paths:,} watched paths): "
            f"{cpu_ms:.1f} ms of CPU ({cpu_ms * 1e3 / paths:.1f} µs per path), {wall_ms:.1f} ms "
            f"of wall time (medians of 20; wall max {max(wall) * 1e3:.1f} ms)")


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["--editor"] and len(arguments) == 4:  # (Editor's own process)
        return editor_main(Path(arguments[1]), int(arguments[2]), int(arguments[3]))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rules", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--seconds", type=float, default=10.0,
                   help="seconds of each phase (at least; 10)")
    p.add_argument("--rebuilds", type=int, default=3,
                   help="rebuilds in the edited phase (at least; 3)")
    p.add_argument("--check", action="store_true", help="judge the 5 ms target")
    p.add_argument("--attribute", action="store_true",
                   help="name what each phase's worst waits coincided with (collections, "
                   "rebuilds, compiles, release steps, adoptions, the reload thread's line)")
    p.add_argument("--collector", choices=["reload", *COLLECTOR_MODES], default="reload",
                   help="the collector during rebuilds: iiscors.reload's choice (reload), or "
                   "an alternative for an A/B")
    p.add_argument("--directory", default=None,
                   help="where the edited web.config is written (default: the temporary "
                   "directory; /dev/shm for a memory file system)")
    p.add_argument("--site-dirs", type=int, metavar="N",
                   help="instead: what one check of an unchanged site tree of N directories "
                   "costs (docs/serving.md)")
    args = p.parse_args(argv)
    if args.site_dirs is not None:
        if args.site_dirs < 1:
            p.error("--site-dirs must be positive")
        with tempfile.TemporaryDirectory(prefix="iiscors-reload-bench-") as tmp:
            print(check_cost(args.site_dirs, Path(tmp)))
        return 0
    if args.collector != "reload":
        reload_module._rebuild_conditions = COLLECTOR_MODES[args.collector]
    if min(args.rules) < 1 or args.seconds <= 0 or args.rebuilds < 1:
        p.error("--rules, --seconds and --rebuilds must be positive")
    lines = ["| rules | phase | requests | p50 | p99 ms | max ms | max for the reload ms "
             "| over 5 ms | rebuilds | collections | full collections | mixed |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---|---|---|---:|"]
    named: list[str] = []
    problems: list[str] = []
    versions: list[str] = []
    with tempfile.TemporaryDirectory(prefix="iiscors-reload-bench-", dir=args.directory) as tmp:
        for rules in args.rules:
            phases = measure(rules, args.seconds, args.rebuilds, Path(tmp),
                             lambda s: print(s, file=sys.stderr, flush=True), args.attribute)
            lines += render(rules, phases)
            if args.attribute:
                named += [f"the worst waits, {rules:,} rules:", *attribution(phases[0]),
                          *attribution(phases[1])]
            versions.append(f"served by version, {rules:,} rules, during rebuilds: "
                            f"{phases[1].by_version} (versions the editor made during the "
                            f"phase, not ahead: {phases[1].made_late})")
            problems += judge(rules, phases)
    print("\n".join([*lines, "", *versions, *named]))
    if args.check:
        print("\n".join(problems) if problems else "PASS: no request waited more than "
              f"{TARGET_MS:g} ms for a reload")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
