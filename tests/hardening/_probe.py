"""Parse one hostile payload in a fresh interpreter and report what happened, as JSON.

Usage: ``python _probe.py PAYLOAD_NAME`` (run by ``test_hostile_configs.py``).

A fresh process per payload makes the peak-RSS measurement (``ru_maxrss``) mean something and
isolates hangs.  What is watched while ``check_config`` and ``load_config`` run:

- Python-level file/network/process access, through ``sys.addaudithook``;
- C-level file access (libxml2 does not go through Python's ``open``): every file reference in
  the payloads points at a FIFO, and a watcher thread detects a reader opening it;
- network access: every URL in the payloads points at a listener on 127.0.0.1 that must never
  see a connection;
- time (``time.perf_counter``), Python allocations (``tracemalloc``) and peak RSS
  (``resource.getrusage``), which also covers libxml2's own allocations.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import resource
import socket
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _payloads import PAYLOADS, XINCLUDE_SMUGGLED, Traps  # noqa: E402

import iiscors  # noqa: E402
from iiscors import ConfigError, check_config, load_config  # noqa: E402

_ALLOWED_OPEN_ROOTS = tuple(
    {
        os.path.realpath(p)
        for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, Path(iiscors.__file__).parent.parent)
    }
)
_WATCHED_EVENTS = {
    "socket.connect",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "urllib.Request",
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "ftplib.connect",
    "http.client.connect",
}


def _rss_peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _diag(d: Any) -> dict[str, Any]:
    sev = getattr(d.severity, "value", d.severity)
    return {
        "code": d.code,
        "severity": str(sev),
        "message": d.message,
        "file": None if d.file is None else str(d.file),
        "line": d.line,
        "column": d.column,
    }


class FifoWatcher(threading.Thread):
    """Detects any reader opening the FIFO (the open blocks until a writer appears)."""

    def __init__(self, path: str) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.opened = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader, the normal case
                    raise
                time.sleep(0.001)
                continue
            self.opened += 1
            with contextlib.suppress(OSError):
                # if it is read as XML, give it something that would widen the policy
                os.write(fd, XINCLUDE_SMUGGLED.encode())
            os.close(fd)


def main(name: str) -> dict[str, Any]:
    payload = PAYLOADS[name]
    tmp = tempfile.mkdtemp(prefix="iiscors-probe-")
    fifo = os.path.join(tmp, "trap.fifo")
    os.mkfifo(fifo)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    traps = Traps(fifo=fifo, port=listener.getsockname()[1])

    source: bytes | str
    if payload.extra.get("sparse_size"):
        path = os.path.join(tmp, "web.config")
        with open(path, "wb") as fh:
            fh.write(b'<?xml version="1.0"?>\n<configuration>')
            fh.truncate(int(payload.extra["sparse_size"]))
        source = path
    else:
        data = payload.build(traps)
        if payload.as_path:
            path = os.path.join(tmp, "web.config")
            Path(path).write_bytes(data)
            source = path
        else:
            source = data
    display = source if isinstance(source, str) else "hostile/web.config"

    # Warm up on a valid file so lazily loaded package resources (schemas) are not counted.
    from _payloads import VALID_CONFIG

    check_config(VALID_CONFIG.format(encoding="utf-8").encode(), name="warmup.config")

    events: list[list[str]] = []
    armed = threading.Event()

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if not armed.is_set():
            return
        if event == "open":
            target = args[0]
            if isinstance(target, int):
                return
            real = os.path.realpath(os.fsdecode(target))
            if not real.startswith(_ALLOWED_OPEN_ROOTS) or real.startswith(tmp):
                if isinstance(source, str) and real == os.path.realpath(source):
                    return  # reading the file we were asked to read is fine
                events.append([event, real])
        elif event in _WATCHED_EVENTS:
            events.append([event, repr(args)[:200]])

    sys.addaudithook(hook)
    watcher = FifoWatcher(fifo)
    watcher.start()

    kwargs: dict[str, Any] = {"max_bytes": payload.max_bytes}
    if not isinstance(source, str):
        kwargs["name"] = display

    rss_before = _rss_peak_kib()
    tracemalloc.start()
    armed.set()
    t0 = time.perf_counter()
    diags = check_config(source, **kwargs)
    t1 = time.perf_counter()
    load: dict[str, Any]
    config = None
    try:
        config = load_config(source, **kwargs)
        load = {"raised": None, "codes": []}
    except ConfigError as exc:
        load = {"raised": "ConfigError", "codes": [d.code for d in exc.diagnostics]}
    t2 = time.perf_counter()
    armed.clear()
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = _rss_peak_kib()

    time.sleep(0.02)  # let the watcher notice a late open
    watcher.stop.set()
    watcher.join(1)
    try:
        conn, _ = listener.accept()
        conn.close()
        connected = True
    except BlockingIOError:
        connected = False

    probe_decision = None
    if config is not None:
        from iiscors.policy import CorsRequest

        dec = config.evaluate(CorsRequest(method="GET", origin="https://evil.example"))
        probe_decision = {"outcome": dec.outcome, "headers": [list(h) for h in dec.headers]}

    return {
        "name": name,
        "display": display,
        "diagnostics": [_diag(d) for d in diags],
        "load": load,
        "check_seconds": t1 - t0,
        "load_seconds": t2 - t1,
        "py_peak_bytes": py_peak,
        "rss_growth_kib": rss_after - rss_before,
        "audit_events": events,
        "fifo_opened": watcher.opened,
        "network_connected": connected,
        "probe_decision": probe_decision,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
