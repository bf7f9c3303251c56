"""Helpers for the framework tests: start a real server process on 127.0.0.1, wait until it
answers, talk HTTP to it, stop it.

Copied from tests/serving/_serving_procs.py on purpose (test modules do not import each other);
only loopback addresses are ever used.
"""

from __future__ import annotations

import http.client
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Path(__file__).resolve().parent / "django_project"


@dataclass
class Server:
    """A running server process and everything it printed so far (stdout and stderr)."""

    process: subprocess.Popen[str]
    port: int
    lines: queue.Queue[str]
    output: list[str] = field(default_factory=list)

    def text(self) -> str:
        with suppress(queue.Empty):
            while True:
                self.output.append(self.lines.get_nowait())
        return "".join(self.output)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pump(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


def _answers(port: int) -> bool:
    try:
        request(port, "GET", "/", timeout=2)
    except OSError:
        return False
    return True


@contextmanager
def running(args: list[str], port: int, *, cwd: Path | None = None,
            env: dict[str, str] | None = None, timeout: float = 60) -> Iterator[Server]:
    """Start a server listening on 127.0.0.1:``port``, wait until it answers HTTP; always stop
    it after (SIGTERM, then SIGKILL).  ``PYTHONPATH`` holds the worktree, so that the iiscors
    under test is the one imported."""
    path = os.pathsep.join(filter(None, [str(ROOT), str(cwd or ""), os.environ.get(
        "PYTHONPATH", "")]))
    process = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env={**os.environ, "PYTHONUNBUFFERED": "1",
                                               "PYTHONPATH": path, **(env or {})})
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True)
    reader.start()
    server = Server(process, port, lines)
    try:
        deadline = time.monotonic() + timeout
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the server did not start: {server.text()}")
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        reader.join(5)
        if process.stdout is not None:
            process.stdout.close()


def request(port: int, method: str = "GET", path: str = "/",
            headers: dict[str, str] | None = None,
            timeout: float = 30) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def eventually(check: Callable[[], bool], timeout: float = 15) -> bool:
    """Whether ``check()`` becomes true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def copy_project(into: Path) -> Path:
    """A copy of the Django test project (its web.config may then be edited)."""
    target = into / "django_project"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def python(*args: str) -> list[str]:
    return [sys.executable, *args]
