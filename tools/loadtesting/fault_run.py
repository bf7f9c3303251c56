"""``--faults``: issue 7's load while the fault injector (:mod:`faults`) rewrites the web.config
(bad edit, truncated, deleted, atomic flips, restore) under gunicorn, contract A8.

Every response must be the whole answer of exactly one good version; the last good version must
keep serving through the bad states and the restored one must be served in the end; each worker
must log each bad state once per unusable episode (:func:`faults.versions.expected_log`).
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faults.injector import FaultInjector, FaultState, LogWatch, settle_on_log
from faults.oracle import Oracle, fault_request
from faults.versions import FAULT_STEPS, FAULT_VERSIONS, expected_log, state_diagnostics

from loadtesting.app import CONFIG_ENV, LOG_ENV, RELOAD_ENV
from loadtesting.client import Stats, load
from loadtesting.gunicorn_server import Gunicorn, gunicorn
from loadtesting.mix import Planned, Response

#: (started, ended, version, worker) of each response
Served = tuple[float, float, str, int | None]
#: (pid, level, message) of each line the workers logged
Record = tuple[int, str, str]
#: The longest a --faults run may last (the schedule ends it much earlier).
MAX_SECONDS = 600.0


class FaultMix:
    """The ``--faults`` request mix and its check: each response must be the whole answer of
    exactly one good version (:class:`faults.oracle.Oracle`); ``served`` records each response.
    The load stops when ``done`` is set."""

    def __init__(self) -> None:
        self.oracle = Oracle()
        self.done = threading.Event()
        self.served: list[Served] = []

    def plan(self, n: int) -> Planned:
        request = fault_request(n)
        head = request.head()
        if n % 4 == 0:  # reconnect now and then: keep-alive connections stick to one worker
            head = head[:-2] + b"Connection: close\r\n\r\n"
        return Planned(request.kind, head, (), None)

    def check(self, n: int, planned: Planned, started: float, response: Response) -> str | None:
        request = fault_request(n)
        matches = self.oracle.versions(request, response.status, response.headers)
        if len(matches) != 1:
            return (f"{request.kind}: {response.status} {response.headers} is the answer of "
                    f"{matches or 'no version'}")
        pid = next((int(v) for k, v in response.headers if k == "x-worker"), None)
        self.served.append((started, time.monotonic(), matches[0], pid))
        return None

    def finished(self) -> bool:
        return self.done.is_set()


@dataclass(frozen=True)
class FaultOptions:
    connections: int
    workers: int
    threads: int
    reload_interval: float
    flip_seconds: float
    hold: float  # seconds each state is held once every worker logged it

    @property
    def grace(self) -> float:
        """Seconds after the restore by which every response must be the restored version's."""
        return max(1.0, 10 * self.reload_interval)


@dataclass
class FaultResult:
    connections: int
    workers: int
    reload_interval: float
    requests: int
    errors: int
    error_samples: list[str]
    by_version: dict[str, int]
    states: list[dict[str, Any]]
    log_problems: list[str]
    ok: bool


@dataclass
class FaultSession:
    """What one run observed, before it is judged."""

    pids: list[int]
    mix: FaultMix
    states: list[FaultState]
    stats: Stats
    problems: list[str]


def run_faults(options: FaultOptions, log: Callable[[str], None]) -> FaultResult:
    """Serve under load while :class:`faults.injector.FaultInjector` rewrites the web.config."""
    with tempfile.TemporaryDirectory(prefix="iiscors-faults-") as tmp_name:
        config = Path(tmp_name) / "web.config"
        diagnostics = state_diagnostics(config)
        config.write_bytes(FAULT_VERSIONS["A"])
        watch = LogWatch(Path(tmp_name) / "iiscors.log")
        env = {CONFIG_ENV: str(config), RELOAD_ENV: str(options.reload_interval),
               LOG_ENV: str(watch.path)}
        with gunicorn(Path(tmp_name), env, options.workers, options.threads) as server:
            log(f"gunicorn on 127.0.0.1:{server.port} ({options.workers} gthread workers x "
                f"{options.threads} threads), reload_interval {options.reload_interval:g} s; "
                f"loading over {options.connections} connections while the web.config goes "
                f"through {', '.join(FAULT_STEPS)}")
            session = drive(server, config, diagnostics, watch, options)
        for line in server.error_lines():
            session.stats.error(f"gunicorn log: {line}")
        records = watch.records()
    counted = expected_log(config, diagnostics)
    problems = [*session.problems, *log_problems(records, session.pids, counted),
                *served_problems(session, options.grace)]
    return FaultResult(
        connections=options.connections,
        workers=options.workers,
        reload_interval=options.reload_interval,
        requests=len(session.stats.latencies),
        errors=session.stats.errors,
        error_samples=session.stats.samples,
        by_version=count_versions(session.mix.served),
        states=state_rows(session.states, session.mix.served, records, counted),
        log_problems=problems,
        ok=session.stats.errors == 0 and not problems and bool(session.mix.served),
    )


def drive(server: Gunicorn, config: Path, diagnostics: dict[str, list[str]], watch: LogWatch,
          options: FaultOptions) -> FaultSession:
    """The load, with the injector running the steps in a thread meanwhile."""
    pids = server.workers()
    mix = FaultMix()
    problems: list[str] = []
    expected = {**diagnostics, "bad-edit-after-flip": diagnostics["bad-edit"]}
    settle = settle_on_log(watch, lambda: pids, expected, hold=options.hold, problems=problems)
    injector = FaultInjector(config, settle, flip_seconds=options.flip_seconds,
                             mark=lambda: len(watch.records()))

    def inject() -> None:
        try:
            time.sleep(0.5)  # every worker serves A under load first
            injector.run()
            time.sleep(options.grace + 0.5)  # the restored version has to show
        except Exception as exc:
            problems.append(f"injector: {type(exc).__name__}: {exc}")
        finally:
            mix.done.set()

    thread = threading.Thread(target=inject, daemon=True)
    thread.start()
    stats = asyncio.run(load(server.port, MAX_SECONDS, options.connections, mix))
    mix.done.set()
    thread.join(30)
    if set(server.workers()) != set(pids):
        stats.error(f"worker set changed during the run: {pids} -> {server.workers()}")
    return FaultSession(pids, mix, injector.states, stats, problems)


def state_rows(states: list[FaultState], served: list[Served], records: list[Record],
               counted: dict[str, int]) -> list[dict[str, Any]]:
    """What each state saw: responses by version (by their start), log lines by worker."""
    marks = [state.mark for state in states] + [len(records)]
    rows = []
    for index, state in enumerate(states):
        by_version: dict[str, int] = {}
        for started, _, version, _ in served:
            if state.started <= started < state.ended:
                by_version[version] = by_version.get(version, 0) + 1
        logged: dict[str, int] = {}
        for pid, _, message in records[marks[index] : marks[index + 1]]:
            if message in counted:
                logged[str(pid)] = logged.get(str(pid), 0) + 1
        rows.append({"state": state.name, "seconds": round(state.ended - state.started, 3),
                     "writes": state.writes, "served": by_version, "logged_lines": logged})
    return rows


def log_problems(records: list[Record], pids: list[int], counted: dict[str, int]) -> list[str]:
    """Each worker must have logged exactly ``counted`` over the run, and no other error."""
    problems = []
    got: dict[int, dict[str, int]] = {pid: {} for pid in pids}
    for pid, level, message in records:
        if message in counted:
            got.setdefault(pid, {})[message] = got.get(pid, {}).get(message, 0) + 1
        elif level == "ERROR":
            problems.append(f"unexpected error logged by {pid}: {message}")
    for pid, lines in got.items():
        if lines != counted:
            problems.append(f"worker {pid} logged {lines}, expected {counted}")
    return problems


def served_problems(session: FaultSession, grace: float) -> list[str]:
    """The last good version kept serving through the bad states; the restored one is served."""
    problems = []
    served = session.mix.served
    flip = next(state for state in session.states if state.name == "flip")
    if any(v != "A" for _, ended, v, _ in served if ended < flip.started):
        problems.append("a version other than A was served before the flip")
    restore = session.states[-1]
    late = {v for started, _, v, _ in served if started >= restore.started + grace}
    if late != {"C"}:
        problems.append(f"served {grace:g} s after the restore: {late or 'nothing'}")
    return problems


def count_versions(served: list[Served]) -> dict[str, int]:
    by_version: dict[str, int] = {}
    for _, _, version, _ in served:
        by_version[version] = by_version.get(version, 0) + 1
    return by_version


def render_faults(r: FaultResult) -> str:
    lines = [
        f"requests   {r.requests} over {r.connections} connections, {r.workers} workers, "
        f"reload_interval {r.reload_interval:g} s",
        f"failed     {r.errors} (must be 0)",
        f"versions   {r.by_version}",
        "states     (responses by version, by start; diagnostic log lines by worker)",
    ]
    for row in r.states:
        writes = f" ({row['writes']} writes)" if row["writes"] > 1 else ""
        lines.append(
            f"  {row['state']:<20} {row['seconds']:7.2f} s{writes}  served {row['served']}  "
            f"logged {row['logged_lines']}"
        )
    lines += [f"  error: {s}" for s in r.error_samples]
    lines += [f"  problem: {p}" for p in r.log_problems]
    lines.append("PASS" if r.ok else "FAIL")
    return "\n".join(lines)
