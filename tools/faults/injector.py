"""The injector: runs :data:`faults.versions.FAULT_STEPS` against a web.config, and what it
needs to know when a step has been seen (the served app's log, parsed)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from faults.versions import BAD_EDIT, BAD_EDIT_STEPS, FAULT_STEPS, FAULT_VERSIONS

#: The served app's log lines: ``iiscors-log <pid> <LEVEL> <message>`` (a logging format).
LOG_PREFIX = "iiscors-log"
LOG_FORMAT = LOG_PREFIX + " %(process)d %(levelname)s %(message)s"


def atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class LogWatch:
    """The served app's log file (:data:`LOG_FORMAT`), parsed: ``(pid, level, message)``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self) -> list[tuple[int, str, str]]:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        found = []
        for line in text.splitlines():
            prefix, _, rest = line.partition(" ")
            pid, _, rest = rest.partition(" ")
            level, _, message = rest.partition(" ")
            if prefix == LOG_PREFIX and pid.isdigit():
                found.append((int(pid), level, message))
        return found


@dataclass
class FaultState:
    name: str
    started: float  # time.monotonic() when the step was installed
    mark: int = 0  # the log's length (records) just before
    ended: float = float("nan")  # when the next one was
    writes: int = 1


Settle = Callable[[FaultState], None]


class FaultInjector:
    """Runs :data:`FAULT_STEPS` against ``path`` (which holds version A), calling
    ``settle(state)`` after each step to hold it (sleep, or wait until every worker logged it);
    the flip step writes B and A alternately at ``flip_hz`` for ``flip_seconds``, ending on B,
    before its settle.  ``states`` records what was installed when; ``mark()`` (the log's
    length) is taken just before each step.
    """

    _mark = 0

    def __init__(self, path: Path, settle: Settle, *, flip_seconds: float = 2.0,
                 flip_hz: float = 50.0, mark: Callable[[], int] = lambda: 0) -> None:
        self.path = path
        self.settle = settle
        self.mark = mark
        self.flip_seconds = flip_seconds
        self.flip_hz = flip_hz
        self.states: list[FaultState] = []

    def _install(self, name: str) -> FaultState:
        now = time.monotonic()
        if self.states:
            self.states[-1].ended = now
        state = FaultState(name, now, self._mark)
        self.states.append(state)
        return state

    def run(self) -> list[FaultState]:
        for step in FAULT_STEPS:
            self._mark = self.mark()
            if step in BAD_EDIT_STEPS:
                atomic_write(self.path, BAD_EDIT)
            elif step == "truncated":
                os.truncate(self.path, len(BAD_EDIT) // 2)
            elif step == "deleted":
                self.path.unlink()
            elif step == "restore":
                atomic_write(self.path, FAULT_VERSIONS["C"])
            state = self._install(step)
            if step == "flip":
                self._flip(state)
            self.settle(state)
        self.states[-1].ended = time.monotonic()
        return self.states

    def _flip(self, state: FaultState) -> None:
        """B and A alternately, atomically, for ``flip_seconds``, ending on B."""
        state.writes = 0
        stop = time.monotonic() + self.flip_seconds
        while time.monotonic() < stop or state.writes % 2 == 0:
            state.writes += 1
            atomic_write(self.path, FAULT_VERSIONS["B" if state.writes % 2 else "A"])
            time.sleep(1 / self.flip_hz)


def settle_on_log(watch: LogWatch, workers: Callable[[], list[int]], expected: dict[str, list[str]],
                  *, hold: float, timeout: float = 15.0,
                  problems: list[str] | None = None) -> Settle:
    """A settle that waits until every worker logged the step's diagnostics (bad states whose
    lines are in ``expected``) or a reload (the flip and the restore), then holds the step
    ``hold`` more seconds, so that repeated checks of an identical bad state would show."""

    def logged_by(state: FaultState, pids: set[int]) -> set[int] | None:
        """The workers that logged ``state`` so far (None: nothing to wait for)."""
        fresh = watch.records()[state.mark:]
        if state.name in expected:
            wanted = set(expected[state.name])
            return {pid for pid in pids if wanted <= {m for p, _, m in fresh if p == pid}}
        if state.name in ("flip", "restore"):
            return {p for p, _, m in fresh if "reloaded" in m or "usable again" in m}
        return None

    def settle(state: FaultState) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = set(workers())
            done = logged_by(state, pids)
            if done is None or (pids and pids <= done):
                break
            time.sleep(0.05)
        else:
            if problems is not None:
                problems.append(f"{state.name}: not every worker logged it within {timeout:g} s")
        time.sleep(hold)

    return settle
