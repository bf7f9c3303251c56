"""The processes under test: started with their output in a log file, watched through Linux's
``/proc`` (children, RSS), and stopped (SIGTERM, then SIGKILL if they hang).  Only processes this
tool started are ever signalled."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

#: Seconds a process under test may take to accept connections.
START_TIMEOUT = 30.0


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def descendants(pid: int) -> list[int]:
    found = children(pid)
    for child in list(found):
        found += descendants(child)
    return found


def rss_kib(pid: int) -> int:
    """The resident set size of ``pid`` (0 if it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def tree_rss_kib(pid: int) -> int:
    """The RSS of ``pid`` and every process below it: whatever serves, however it forks."""
    return sum(rss_kib(p) for p in (pid, *descendants(pid)))


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to a process we started (a gunicorn master stops its workers), SIGKILL if it
    hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def log_tail(log: Path, chars: int = 2000) -> str:
    return log.read_text(errors="replace")[-chars:]


def error_lines(log: Path) -> list[str]:
    """The lines of a server's log that say something went wrong inside it."""
    return [line for line in log.read_text(errors="replace").splitlines()
            if "[ERROR]" in line or "Traceback" in line]


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path,
                  timeout: float = START_TIMEOUT) -> None:
    """Return once 127.0.0.1:``port`` accepts a connection; RuntimeError if ``proc`` exits or
    the time is up.  Nothing the process prints is parsed: a port that accepts is the sign."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{_name(proc)} exited with {proc.returncode}: {log_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{_name(proc)} did not accept connections on 127.0.0.1:{port} within "
                       f"{timeout:g} s: {log_tail(log)}")


def _name(proc: subprocess.Popen[bytes]) -> str:
    args = proc.args if isinstance(proc.args, list) else [str(proc.args)]
    return "`" + " ".join(str(a) for a in args) + "`"


def launched_process(argv: Sequence[str], log: Path,
                     env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``argv`` started, its output (stdout and stderr) in ``log``, ``env`` added."""
    with log.open("wb") as out:
        return subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT,
                                env=dict(os.environ, **(env or {})))


@contextmanager
def launched(argv: Sequence[str], log: Path, port: int,
             env: Mapping[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """``argv`` running, its output in ``log``, once ``port`` accepts; stopped on exit."""
    proc = launched_process(argv, log, env)
    try:
        wait_for_port(port, proc, log)
        yield proc
    finally:
        stop(proc)
