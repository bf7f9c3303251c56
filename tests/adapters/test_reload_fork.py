"""The reload thread across ``os.fork`` in-process (issue 17): what gunicorn does to a middleware
built before its workers are forked, without gunicorn (tests/adapters/test_reload_preload.py runs
gunicorn ``--preload`` for real).

A thread does not survive a fork: the child must start its own, at once, so that it applies an
edit even if no request reaches it; the parent stops its thread before forking (a fork in the
middle of a rebuild would copy lxml's and logging's locks, held, into the child) and starts it
again at its next request.
"""

from __future__ import annotations

import io
import json
import os
import select
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

import iiscors.reload as reload_module
from iiscors import CorsMiddleware
from iiscors.reload import THREAD_NAME

from support import replace_file

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

ORIGIN = "https://a.example"
INTERVAL = 0.05
#: Long enough for a loaded 2-core machine; a test only waits this long when it fails.
PATIENCE = 20.0


def version(tag: str) -> bytes:
    return (f'<configuration><system.webServer><cors enabled="true"><add origin="{ORIGIN}"/>'
            f'</cors><httpProtocol><customHeaders><add name="X-Version" value="{tag}"/>'
            "</customHeaders></httpProtocol></system.webServer></configuration>").encode()


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [])
    return [b""]


def served_version(middleware: CorsMiddleware) -> str:
    seen: list[tuple[str, str]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen.extend(headers)
        return lambda data: None

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "x",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "HTTP_ORIGIN": ORIGIN,
               "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr}
    b"".join(middleware(environ, start_response))
    return dict(seen)["X-Version"]


def in_child(middleware: CorsMiddleware, out: int) -> None:
    """The forked child: its own thread, running at once; it applies the parent's edit with
    no request at all.  Reports what it saw as JSON on ``out``."""
    report: dict[str, Any] = {}
    thread = middleware._thread
    report["own_thread"] = thread is not None and thread.is_alive()
    # one per middleware alive in this process (earlier tests' may not be collected yet)
    report["threads"] = [t.name for t in threading.enumerate()].count(THREAD_NAME) - len(
        reload_module._WATCHING)
    old = middleware.policy
    deadline = time.monotonic() + PATIENCE
    while middleware.policy is old and time.monotonic() < deadline:
        time.sleep(0.01)
    report["applied"] = middleware.policy is not old
    report["version"] = served_version(middleware)
    os.write(out, json.dumps(report).encode())


def test_a_fork_gives_the_child_its_own_thread_and_stops_the_parents(tmp_path: Path) -> None:
    config = tmp_path / "web.config"
    replace_file(config, version("A"))
    middleware = CorsMiddleware(app, str(config), reload_interval=INTERVAL)
    before = middleware._thread
    assert before is not None and before.is_alive()
    read, out = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            in_child(middleware, out)
        finally:
            os._exit(0)
    os.close(out)
    try:
        # The parent: its thread was stopped for the fork (joined, not merely orphaned), and
        # its next request will start it again.
        assert not before.is_alive() and middleware._thread is None
        assert middleware._next_check == 0.0
        replace_file(config, version("B"))  # after the fork: only the child's thread can see it
        ready, _, _ = select.select([read], [], [], PATIENCE * 1.5)
        assert ready, "the child never reported"
        report = json.loads(os.read(read, 65536))
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert report == {"own_thread": True, "threads": 0, "applied": True, "version": "B"}
    assert served_version(middleware) in ("A", "B")  # this request starts the thread again
    after = middleware._thread
    assert after is not None and after is not before and after.is_alive()
    deadline = time.monotonic() + PATIENCE
    while served_version(middleware) != "B":
        assert time.monotonic() < deadline, "the parent never applied the edit"
        time.sleep(0.01)
