"""Helpers for the production-serving tests: start ``iiscors serve`` (or another server) as a
real process on 127.0.0.1, wait for its ready line, talk HTTP to it, stop it.

Copied from the flat serve tests on purpose (test modules do not import each other); only
loopback addresses are ever used.
"""

from __future__ import annotations

import http.client
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path

LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)/")


def web_config(cors: str = "", *, server: str = "") -> bytes:
    """A whole web.config around a ``<cors>`` snippet."""
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n<system.webServer>\n'
            f"{cors}\n{server}\n</system.webServer>\n</configuration>\n").encode()


@dataclass
class Server:
    """A running server process and everything it printed so far (stdout and stderr)."""

    process: subprocess.Popen[str]
    lines: queue.Queue[str]
    output: list[str] = field(default_factory=list)

    def text(self) -> str:
        self.collect()
        return "".join(self.output)

    def collect(self, wait: float = 0.0) -> None:
        """Move what the process printed into :attr:`output` (waiting up to ``wait`` s)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                self.output.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())
                                                  if wait else 0))
            except queue.Empty:
                return

    def wait_for(self, needle: str, timeout: float = 20) -> str:
        """The first line containing ``needle``, waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.output:
                if needle in line:
                    return line
            if self.process.poll() is not None and self.lines.empty():
                raise AssertionError(f"exited {self.process.returncode}: {''.join(self.output)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} in {timeout}s: {''.join(self.output)}")
            with suppress(queue.Empty):
                self.output.append(self.lines.get(timeout=0.1))

    @property
    def port(self) -> int:
        found = LISTENING.search(self.wait_for("listening on"))
        assert found, self.output
        return int(found.group(1))


def _pump(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


@contextmanager
def running(args: list[str], *, cwd: Path | None = None, ready: str = "listening on",
            env: dict[str, str] | None = None, timeout: float = 30,
            stderr_to: Path | None = None) -> Iterator[Server]:
    """Start a server process, wait for a line containing ``ready``; always stop it after
    (SIGTERM, then SIGKILL) and close its pipe.  Its standard error is read with its standard
    output, or written to ``stderr_to``."""
    with (open(stderr_to, "w") if stderr_to is not None else nullcontext()) as errors:
        process = subprocess.Popen(
            args, cwd=cwd, stdout=subprocess.PIPE, text=True,
            stderr=errors if errors is not None else subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True)
    reader.start()
    server = Server(process, lines)
    try:
        server.wait_for(ready, timeout)
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
            headers: dict[str, str] | None = None, body: bytes | None = None,
            timeout: float = 30) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def serve_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "iiscors", "serve", "--port", "0", *args]
