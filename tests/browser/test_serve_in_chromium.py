"""``iiscors serve --root`` as a person runs it, judged by Chromium, through a hot reload.

The process is the real command line (``python -m iiscors serve``), not an in-process
server: this is what the README tells people to run. The browser's verdict changes when
web.config is edited, stays on the last good configuration when the edit is unusable
(contract A8), and the server's own access log proves no request was answered with a 5xx.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ._cdp import Page
from ._harness import FetchSpec, run_fetch
from ._servers import PageServer
from ._verdict import Fetch, assert_agrees, predict

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)/")
ACCESS_LOG = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[\d.]+" (?P<status>\d{3})')


def site_config(origin: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <system.webServer>\n'
        f'    <cors enabled="true">\n      <add origin="{origin}" />\n    </cors>\n'
        "  </system.webServer>\n</configuration>\n"
    )


@dataclass
class Served:
    base: str
    process: subprocess.Popen[str]
    log_path: Path
    root: Path

    def access_log(self) -> list[tuple[str, str, int]]:
        text = self.log_path.read_text(errors="replace")
        return [(m["method"], m["target"], int(m["status"])) for m in ACCESS_LOG.finditer(text)]

    def write_config(self, text: str) -> None:
        path = self.root / "web.config"
        previous = path.stat().st_mtime if path.exists() else 0.0
        path.write_text(text, encoding="utf-8")
        # A coarse file system clock could leave mtime unchanged; push it forward so the
        # reload check (stat once per interval) cannot miss the edit.
        stamp = max(time.time(), previous + 1.0)
        os.utime(path, (stamp, stamp))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    root = tmp_path / "site"
    root.mkdir()
    (root / "data.json").write_text('{"hello": "static"}', encoding="utf-8")
    (root / "web.config").write_text(site_config("http://nobody.contoso.test"), encoding="utf-8")
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "iiscors",
                "serve",
                "--root",
                str(root),
                "--port",
                "0",
                "--reload-interval",
                "0.1",
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        base = _wait_until_listening(process, log_path)
        yield Served(base=base, process=process, log_path=log_path, root=root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _pump(stream: Iterable[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def _wait_until_listening(process: subprocess.Popen[str], log_path: Path) -> str:
    # A reader thread, not select() + readline(): readline buffers several lines at once, and
    # select() then reports nothing left to read while the "listening" line waits in the buffer.
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + 20
    seen = ""
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        seen += line
        found = LISTENING.search(line)
        if found:
            return found.group(1)
    pytest.fail(f"iiscors serve did not start:\n{seen}\n{log_path.read_text()}")


def _wait_for_policy(url: str, origin: str, expect_allow_origin: str | None) -> None:
    """Poll (outside the browser) until the server applies the edited web.config.

    Only a synchronisation step: the verdict that counts is the browser's, just after.
    """
    deadline = time.monotonic() + 10
    got: str | None = "<no answer>"
    while time.monotonic() < deadline:
        request = urllib.request.Request(url, headers={"Origin": origin})
        with urllib.request.urlopen(request, timeout=5) as response:
            got = response.headers.get("Access-Control-Allow-Origin")
        if got == expect_allow_origin:
            return
        time.sleep(0.1)
    pytest.fail(f"the server never applied the edit: Access-Control-Allow-Origin is {got!r}")


def _wait_for_log(served: Served, url: str, text: str) -> None:
    """Send requests (the reload check runs on a request) until the server logs ``text``."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with urllib.request.urlopen(url + "?poll", timeout=5):
            pass
        if text in served.log_path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    pytest.fail(f"the server never logged {text!r}:\n{served.log_path.read_text()}")


def _fresh_fetch(page: Page, page_url: str, url: str,
                 config: str) -> tuple[bool, str, str | None]:
    """Fetch ``url`` from a freshly loaded page; returns (allowed, reason, body).

    ``config`` is the web.config in force: the verdict it predicts (contract F1) must be what
    Chromium concluded.
    """
    page.navigate(page_url)
    outcome = run_fetch(page, FetchSpec(url=url, read_headers=("Content-Type",)))
    origin = page_url.rstrip("/")
    verdict, _, _ = predict(config, Fetch(page_origin=origin, url=url))
    assert_agrees(f"serve --root {url}", verdict, [outcome], f"web.config:\n{config}")
    return outcome.allowed, outcome.reason(), outcome.body


def test_serve_root_reload_is_seen_by_the_browser(
    served: Served, page: Page, page_server: PageServer
) -> None:
    page_url = f"http://127.0.0.1:{page_server.port}/"
    origin = f"http://127.0.0.1:{page_server.port}"
    url = f"{served.base}/data.json"

    # 1. web.config lists another origin only: blocked, Chromium says why.
    first = site_config("http://nobody.contoso.test")
    allowed, reason, _ = _fresh_fetch(page, page_url, url + "?step1", first)
    assert not allowed and "MissingAllowOriginHeader" in reason, reason

    # 2. Edited to list the page's origin: the running server applies it, the browser reads.
    served.write_config(site_config(origin))
    _wait_for_policy(url, origin, origin)
    allowed, reason, body = _fresh_fetch(page, page_url, url + "?step2", site_config(origin))
    assert allowed, reason
    assert body is not None and '"hello": "static"' in body, body

    # 3. Edited into malformed XML: the last good configuration keeps serving (A8).
    served.write_config(site_config(origin).replace("</cors>", "</cors"))
    _wait_for_log(served, url, "unusable after an edit")
    # The last good configuration is the one in force (and the one the verdict reads).
    allowed, reason, _ = _fresh_fetch(page, page_url, url + "?step3", site_config(origin))
    assert allowed, f"a malformed edit must not change the verdict: {reason}"

    # 4. Fixed, now listing another origin again: blocked once more.
    served.write_config(site_config("http://nobody.contoso.test"))
    _wait_for_policy(url, origin, None)
    allowed, reason, _ = _fresh_fetch(page, page_url, url + "?step4", first)
    assert not allowed and "MissingAllowOriginHeader" in reason, reason

    # The server side: every browser request reached it and none was a 5xx.
    log = served.access_log()
    for step in ("step1", "step2", "step3", "step4"):
        statuses = [status for _, target, status in log if target.endswith(step)]
        assert statuses == [200], f"{step}: server answered {statuses}; log {log}"
    assert served.process.poll() is None, "iiscors serve exited during the test"
