"""Parse one hostile payload in a fresh interpreter and report what happened, as JSON.

Usage: ``python _probe.py PAYLOAD_NAME...``, one JSON report per line on stdout
(run by ``test_hostile_configs.py``).

A fresh process (per batch of payloads) makes the peak-RSS measurement (``ru_maxrss``, reported
cumulatively from the batch's baseline, so a later payload can only look worse) mean something
and isolates hangs.  What is watched while ``check_config`` and ``load_config`` run:

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

from _payloads import PAYLOADS, VALID_CONFIG, XINCLUDE_SMUGGLED, Traps  # noqa: E402

import iiscors  # noqa: E402
from iiscors import ConfigError, check_config, load_config  # noqa: E402
from iiscors.policy.core import CorsRequest  # noqa: E402

_ALLOWED_OPEN_ROOTS = tuple(
    {
        os.path.realpath(p)
        for p in (
            sys.prefix,
            sys.base_prefix,
            sys.exec_prefix,
            Path(iiscors.__file__).parent.parent,
        )
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
                time.sleep(0.002)
                continue
            self.opened += 1
            with contextlib.suppress(OSError):
                # if it is read as XML, give it something that would widen the policy
                os.write(fd, XINCLUDE_SMUGGLED.encode())
            os.close(fd)


class Probe:
    """Traps shared by every payload of one probe process."""

    def __init__(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="iiscors-probe-")
        self.fifo = os.path.join(self.tmp, "trap.fifo")
        os.mkfifo(self.fifo)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.setblocking(False)
        self.traps = Traps(fifo=self.fifo, port=self.listener.getsockname()[1])
        self.events: list[list[str]] = []
        self.armed = threading.Event()
        self.source_path: str | None = None
        self.watcher = FifoWatcher(self.fifo)
        # Warm up on a valid file so lazily loaded package resources (schemas) are not counted.
        check_config(VALID_CONFIG.format(encoding="utf-8").encode(), name="warmup.config")
        sys.addaudithook(self._hook)
        self.watcher.start()
        self.rss_baseline = _rss_peak_kib()

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.armed.is_set() or threading.current_thread() is self.watcher:
            return  # the watcher's own opens of the FIFO are the trap, not the parser
        if event == "open":
            target = args[0]
            if isinstance(target, int):
                return
            real = os.path.realpath(os.fsdecode(target))
            if self.source_path is not None and real == self.source_path:
                return  # reading the file we were asked to read is fine
            if not real.startswith(_ALLOWED_OPEN_ROOTS) or real.startswith(self.tmp):
                self.events.append([event, real])
        elif event in _WATCHED_EVENTS:
            self.events.append([event, repr(args)[:200]])

    def _connected(self) -> bool:
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True

    def run(self, name: str) -> dict[str, Any]:
        payload = PAYLOADS[name]
        source: bytes | str
        path = os.path.join(self.tmp, f"{name}.web.config")
        if payload.extra.get("sparse_size"):
            with open(path, "wb") as fh:
                fh.write(b'<?xml version="1.0"?>\n<configuration>')
                fh.truncate(int(payload.extra["sparse_size"]))
            source = path
        else:
            data = payload.build(self.traps)
            if payload.as_path:
                Path(path).write_bytes(data)
                source = path
            else:
                source = data
        display = source if isinstance(source, str) else "hostile/web.config"
        self.source_path = os.path.realpath(source) if isinstance(source, str) else None
        kwargs: dict[str, Any] = {"max_bytes": payload.max_bytes}
        if not isinstance(source, str):
            kwargs["name"] = display

        self.events = []
        opened_before = self.watcher.opened
        tracemalloc.start()
        self.armed.set()
        t0 = time.perf_counter()
        if UNSAFE:
            return self._unsafe(source, name, opened_before)
        diags = check_config(source, **kwargs)
        t1 = time.perf_counter()
        config = None
        load: dict[str, Any]
        try:
            config = load_config(source, **kwargs)
            load = {"raised": None, "codes": []}
        except ConfigError as exc:
            load = {"raised": "ConfigError", "codes": [d.code for d in exc.diagnostics]}
        t2 = time.perf_counter()
        self.armed.clear()
        _, py_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_growth = _rss_peak_kib() - self.rss_baseline  # cumulative over the batch: stricter
        time.sleep(0.01)  # let the watcher notice a late open

        probe_decision = None
        if config is not None:
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
            "rss_growth_kib": rss_growth,
            "audit_events": list(self.events),
            "fifo_opened": self.watcher.opened - opened_before,
            "network_connected": self._connected(),
            "probe_decision": probe_decision,
        }

    def _unsafe(self, source: bytes | str, name: str, opened_before: int) -> dict[str, Any]:
        """Canary mode: parse with a deliberately unsafe lxml parser to prove the traps fire."""
        from lxml import etree

        class CarelessResolver(etree.Resolver):
            """What a careless loader might add: fetch http(s) references with urllib."""

            def resolve(self, url: str | None, pubid: str | None, context: Any) -> Any:
                if url and url.startswith("http"):
                    import urllib.request

                    with urllib.request.urlopen(url, timeout=0.5) as resp:
                        return self.resolve_string(resp.read(), context)
                return None

        parser = etree.XMLParser(load_dtd=True, resolve_entities=True, no_network=False)
        parser.resolvers.add(CarelessResolver())
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        with contextlib.suppress(Exception):
            etree.fromstring(data, parser)
        self.armed.clear()
        tracemalloc.stop()
        time.sleep(0.05)
        return {
            "name": name,
            "fifo_opened": self.watcher.opened - opened_before,
            "network_connected": self._connected(),
            "audit_events": list(self.events),
        }


UNSAFE = os.environ.get("IIS_PROBE_UNSAFE") == "1"

if __name__ == "__main__":
    probe = Probe()
    for payload_name in sys.argv[1:]:
        print(json.dumps(probe.run(payload_name)), flush=True)
