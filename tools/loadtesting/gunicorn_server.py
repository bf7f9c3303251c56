"""gunicorn on 127.0.0.1 serving :mod:`loadtesting.app`, for the CORS and fault load tests."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from _benchlib import free_loopback_port, gunicorn_argv

from loadtesting.processes import START_TIMEOUT, children, error_lines, launched_process, stop


def gunicorn_command(port: int, workers: int, threads: int) -> list[str]:
    """gunicorn with ``gthread`` workers serving ``loadtesting.app:make_app()``."""
    return gunicorn_argv(port, "loadtesting.app:make_app()", workers=workers,
                         worker_class="gthread", threads=threads, keep_alive=30)


def wait_ready(port: int, proc: subprocess.Popen[bytes], workers: int, log: Path) -> None:
    """Return once gunicorn answers 200 and all its ``workers`` have started."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(12).startswith(b"HTTP/1.1 200") and len(children(proc.pid)) >= workers:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer within {START_TIMEOUT:g} s: "
                       f"{log.read_text(errors='replace')}")


@dataclass
class Gunicorn:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def workers(self) -> list[int]:
        return children(self.proc.pid)

    def error_lines(self) -> list[str]:
        return error_lines(self.log)


@contextmanager
def gunicorn(tmp: Path, env: Mapping[str, str], workers: int, threads: int) -> Iterator[Gunicorn]:
    """gunicorn serving, its log in ``tmp``, once every worker is up; stopped on exit."""
    port = free_loopback_port()
    log = tmp / "gunicorn.log"
    proc = launched_process(gunicorn_command(port, workers, threads), log, env)
    try:
        wait_ready(port, proc, workers, log)
        yield Gunicorn(proc, port, log)
    finally:
        stop(proc)
