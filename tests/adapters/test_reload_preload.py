"""The reload thread under a forking server, for real: gunicorn ``--preload`` on 127.0.0.1.

With ``--preload`` the middleware is built in gunicorn's master process, which then forks the
workers.  A thread started in the master does not exist in the workers: the master's reload
thread (started with the middleware) is stopped at the fork and not started again, since the
master serves no request, and each worker starts its own at the fork (issue 17).  An edit made
while no request comes must then be applied by every worker on its own, and served by it from
then on.
"""

from __future__ import annotations

import http.client
import importlib.metadata
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ORIGIN = "https://app.example.com"
PATIENCE = 30.0

MODULE = """\
import json, logging, os, threading
from iiscors import CorsMiddleware

logging.basicConfig(level=logging.INFO, format="%(process)d %(message)s")

BUILT_IN = os.getpid()


def inner(environ, start_response):
    body = json.dumps({"pid": os.getpid(), "built_in": BUILT_IN,
                       "threads": sorted(t.name for t in threading.enumerate())}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


application = CorsMiddleware(inner, os.environ["IISCORS_TEST_CONFIG"], reload_interval=0.1)
with open(os.environ["IISCORS_TEST_THREADS"], "w") as out:  # in the master, before the fork
    out.write(json.dumps(sorted(t.name for t in threading.enumerate())))
"""


def config(tag: str) -> bytes:
    return (f'<configuration><system.webServer><cors enabled="true">'
            f'<add origin="{ORIGIN}" /></cors><httpProtocol><customHeaders>'
            f'<add name="X-Version" value="{tag}"/></customHeaders></httpProtocol>'
            "</system.webServer></configuration>").encode()


def no_control_socket() -> list[str]:
    """gunicorn 25.1 and later start a thread of their own in the master after the workers (a
    control socket server): turned off, so that the master's threads are iiscors's alone."""
    found = re.match(r"(\d+)\.(\d+)", importlib.metadata.version("gunicorn"))
    version = (int(found.group(1)), int(found.group(2))) if found else (0, 0)
    return ["--no-control-socket"] if version >= (25, 1) else []


@contextmanager
def gunicorn(tmp_path: Path, web: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """gunicorn --preload, 2 sync workers, a free loopback port; stopped on exit."""
    log = tmp_path / "gunicorn.log"
    argv = [sys.executable, "-m", "gunicorn", "--preload", "--workers", "2", "--bind",
            "127.0.0.1:0", "--graceful-timeout", "2", "--chdir", str(tmp_path),
            *no_control_socket(), "served:application"]
    env = dict(os.environ, IISCORS_TEST_CONFIG=str(web), PYTHONUNBUFFERED="1",
               IISCORS_TEST_THREADS=str(tmp_path / "threads.json"))
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + PATIENCE
        while (found := re.search(r"Listening at: http://127\.0\.0\.1:(\d+)",
                                  log.read_text(errors="replace"))) is None:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield proc, int(found.group(1))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def get(port: int) -> tuple[str | None, dict[str, Any]]:
    """One allowed GET on a new connection: (X-Version, the app's JSON)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/", headers={"Origin": ORIGIN})
        response = conn.getresponse()
        body = json.loads(response.read())
        assert response.getheader("Access-Control-Allow-Origin") == ORIGIN
        return response.getheader("X-Version"), body
    finally:
        conn.close()


def reloaded_by(log: Path) -> set[int]:
    """The processes that logged a reload of the web.config."""
    return {int(pid) for pid in re.findall(r"^(\d+) iiscors: reloaded ", log.read_text(
        errors="replace"), re.MULTILINE)}


def test_each_forked_worker_reloads_on_its_own_thread(
        tmp_path: Path) -> None:
    pytest.importorskip("gunicorn")
    (tmp_path / "served.py").write_text(MODULE)
    web = tmp_path / "web.config"
    web.write_bytes(config("1"))
    with gunicorn(tmp_path, web) as (master, port):
        built = json.loads((tmp_path / "threads.json").read_text())
        assert built.count("iiscors-reload") == 1  # the master's, until it forks
        version, body = get(port)
        assert version == "1"
        assert body["built_in"] == master.pid != body["pid"]  # built before the fork
        # The master stopped its thread at the fork and serves no request: one thread left
        # (gunicorn's own control thread turned off above). join() returns as the thread's
        # Python part ends; the kernel may list its task a moment longer, so the list is read
        # until it is one.
        deadline = time.monotonic() + PATIENCE
        while (tasks := os.listdir(f"/proc/{master.pid}/task")) != [str(master.pid)]:
            assert time.monotonic() < deadline, f"the master kept its threads: {tasks}"
            time.sleep(0.05)
        new = web.with_name("web.config.new")
        new.write_bytes(config("2"))
        new.replace(web)
        # No request now: each worker's own thread must apply the edit.
        deadline = time.monotonic() + PATIENCE
        while len(reloaded_by(tmp_path / "gunicorn.log")) < 2:
            assert time.monotonic() < deadline, "not every worker reloaded without requests"
            time.sleep(0.05)
        reloaded = reloaded_by(tmp_path / "gunicorn.log")
        assert master.pid not in reloaded
        workers: dict[int, list[str]] = {}
        while len(workers) < 2:
            assert time.monotonic() < deadline, f"a worker answered nothing: {workers}"
            version, body = get(port)
            assert version == "2", body  # every worker reloaded: never the old version
            workers[body["pid"]] = body["threads"]
        assert set(workers) == reloaded
        for pid, names in workers.items():
            assert names.count("iiscors-reload") == 1, (pid, names)
