"""A minimal Chrome DevTools Protocol driver for Debian's headless Chromium.

Why this and not Playwright or Selenium: both need either a browser download or an extra
driver package, and ``websocket-client`` is not a dependency of the project. Chromium's
``--remote-debugging-pipe`` speaks CDP over two inherited file descriptors (it reads
commands on fd 3 and writes replies and events on fd 4, each message a JSON text ended by
a NUL byte), so the standard library is enough and there is no port to discover or race on.

Only what the browser suite needs is here: one browser process per test session, one fresh
browser context per case (its own cookie jar, HTTP cache, connection pool and CORS preflight
cache), commands that wait for their reply, and events kept per CDP session so a case can
read what Chromium itself concluded (``Network.loadingFailed`` carries ``corsErrorStatus``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JsonObject = dict[str, Any]

# The flags the issue lists as required on these machines; each one removes a source of
# flakiness or of traffic that is not loopback (background networking, component updates,
# sync, QUIC). --no-sandbox because the suite runs as root in CI.
REQUIRED_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
)

# Host names the suite uses for wildcard-subdomain cases. They all resolve to loopback, so no
# traffic ever leaves the machine; anything not listed is answered NOTFOUND by the same rule
# set rather than going to a real resolver.
HOST_RESOLVER_RULES = (
    "MAP *.contoso.test 127.0.0.1, MAP contoso.test 127.0.0.1, "
    "MAP *.microsoft.test 127.0.0.1, MAP microsoft.test 127.0.0.1, "
    "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"
)

# The fds the child must see; fixed by Chromium's --remote-debugging-pipe.
_CHILD_READ_FD = 3
_CHILD_WRITE_FD = 4
# Parent-side copies are moved at or above this number so the shell redirections below can
# never clobber one of them (a pipe end that happens to be fd 3 or 4 would be).
_HIGH_FD = 100


class CdpError(RuntimeError):
    """A CDP command failed, timed out, or the browser went away."""


def find_chromium() -> str | None:
    """Return the Chromium executable to use, or None when there is none.

    ``IISCORS_CHROMIUM`` overrides the search (a developer with Chrome elsewhere); otherwise
    the names Debian (``chromium``) and other distributions use are tried in order.
    """
    override = os.environ.get("IISCORS_CHROMIUM")
    if override:
        return override if os.access(override, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    reply: JsonObject | None = None


class Browser:
    """One headless Chromium process driven over ``--remote-debugging-pipe``.

    :param executable: path of the Chromium binary (or Debian's wrapper script).
    :param workdir: an empty directory owned by the test session; the profile, HOME and
        XDG directories and the browser's stderr log all go under it.
    :param extra_flags: more command-line switches (e.g. ``--host-resolver-rules=``).
    """

    def __init__(self, executable: str, workdir: Path, extra_flags: Sequence[str] = ()) -> None:
        self._workdir = workdir
        self.stderr_path = workdir / "chromium-stderr.log"
        self._lock = threading.Lock()
        self._events_changed = threading.Condition(self._lock)
        self._pending: dict[int, _Pending] = {}
        self._events: dict[str, list[JsonObject]] = {}
        self._next_id = 0
        self._closed = False

        home = workdir / "home"
        env = dict(os.environ)
        # A fresh HOME and XDG tree: Chromium and its wrapper otherwise read and write the
        # user's real profile, crash reports and font caches.
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_CACHE_HOME=str(home / ".cache"),
            XDG_DATA_HOME=str(home / ".local" / "share"),
            XDG_RUNTIME_DIR=str(home / "run"),
        )
        for sub in (".config", ".cache", ".local/share", "run"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(home / "run", 0o700)

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        child_r = _move_high(to_child_r)
        child_w = _move_high(from_child_w)
        self._write_fd = to_child_w
        self._read_fd = from_child_r

        args = [
            executable,
            *REQUIRED_FLAGS,
            f"--user-data-dir={workdir / 'profile'}",
            "--remote-debugging-pipe",
            *extra_flags,
            "about:blank",
        ]
        # bash (not sh: dash cannot name fds above 9) places the pipe ends on fds 3 and 4 and
        # closes the high copies, then execs Debian's wrapper, which execs the real binary.
        # This avoids preexec_fn, which is unsafe once the server threads are running.
        script = (
            f'exec "$@" {_CHILD_READ_FD}<&{child_r} {_CHILD_WRITE_FD}>&{child_w} '
            f"{child_r}<&- {child_w}>&-"
        )
        with open(self.stderr_path, "wb") as stderr:
            self._process = subprocess.Popen(
                ["/bin/bash", "-c", script, "bash", *args],
                pass_fds=(child_r, child_w),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        os.close(child_r)
        os.close(child_w)
        self._reader = threading.Thread(target=self._read_loop, name="cdp-reader", daemon=True)
        self._reader.start()
        try:
            self.version = self.send("Browser.getVersion", timeout=30)
        except CdpError:
            self.close()
            raise

    # -- transport -----------------------------------------------------------------------

    def _read_loop(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._read_fd, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                self._dispatch(json.loads(raw))
        with self._lock:
            self._closed = True
            for pending in self._pending.values():
                pending.done.set()
            self._events_changed.notify_all()

    def _dispatch(self, message: JsonObject) -> None:
        with self._lock:
            if "id" in message:
                pending = self._pending.pop(message["id"], None)
                if pending is not None:
                    pending.reply = message
                    pending.done.set()
                return
            session = message.get("sessionId", "")
            self._events.setdefault(session, []).append(message)
            self._events_changed.notify_all()

    def send(
        self,
        method: str,
        params: JsonObject | None = None,
        session_id: str | None = None,
        timeout: float = 15.0,
    ) -> JsonObject:
        """Send one command and return its ``result``; raise CdpError on error or timeout."""
        with self._lock:
            if self._closed:
                raise CdpError(f"browser is gone; cannot send {method}. {self.stderr_tail()}")
            self._next_id += 1
            command_id = self._next_id
            pending = _Pending()
            self._pending[command_id] = pending
        message: JsonObject = {"id": command_id, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        try:
            os.write(self._write_fd, json.dumps(message).encode() + b"\0")
        except OSError as exc:
            raise CdpError(f"cannot send {method}: {exc}. {self.stderr_tail()}") from exc
        if not pending.done.wait(timeout):
            with self._lock:
                self._pending.pop(command_id, None)
            raise CdpError(f"{method} got no reply within {timeout} s")
        reply = pending.reply
        if reply is None:
            raise CdpError(f"browser exited during {method}. {self.stderr_tail()}")
        if "error" in reply:
            raise CdpError(f"{method} failed: {reply['error']}")
        result: JsonObject = reply.get("result", {})
        return result

    # -- events --------------------------------------------------------------------------

    def events(self, session_id: str) -> list[JsonObject]:
        """A snapshot of every event received so far on one CDP session."""
        with self._lock:
            return list(self._events.get(session_id, ()))

    def wait_for_event(
        self,
        session_id: str,
        method: str,
        predicate: Callable[[JsonObject], bool] = lambda _params: True,
        timeout: float = 15.0,
        start: int = 0,
    ) -> JsonObject:
        """Block until an event named ``method`` whose params satisfy ``predicate`` arrives.

        Only events from index ``start`` on count, so a second fetch in the same page never
        mistakes the first fetch's event for its own.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for event in self._events.get(session_id, [])[start:]:
                    if event.get("method") == method and predicate(event.get("params", {})):
                        params: JsonObject = event.get("params", {})
                        return params
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    raise CdpError(f"no {method} event within {timeout} s")
                self._events_changed.wait(remaining)

    def forget_events(self, session_id: str) -> None:
        with self._lock:
            self._events.pop(session_id, None)

    # -- lifecycle -----------------------------------------------------------------------

    def stderr_tail(self, limit: int = 1500) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""
        return f"chromium stderr tail: {text[-limit:]}" if text else ""

    def close(self) -> None:
        """Ask the browser to exit, then make sure it did (only our own process is killed)."""
        if self._process.poll() is None:
            with contextlib.suppress(CdpError):
                self.send("Browser.close", timeout=5)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        for fd in (self._write_fd, self._read_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


def _move_high(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, _HIGH_FD)
    os.close(fd)
    return high


class Page:
    """A tab in a fresh browser context, attached with a flat CDP session.

    A new context per case is what keeps one case's preflight cache, cookies and open
    connections from deciding the next case's outcome.
    """

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.context_id: str = browser.send(
            "Target.createBrowserContext", {"disposeOnDetach": True}
        )["browserContextId"]
        self.target_id: str = browser.send(
            "Target.createTarget", {"url": "about:blank", "browserContextId": self.context_id}
        )["targetId"]
        self.session_id: str = browser.send(
            "Target.attachToTarget", {"targetId": self.target_id, "flatten": True}
        )["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.send(f"{domain}.enable")

    def send(
        self, method: str, params: JsonObject | None = None, timeout: float = 15.0
    ) -> JsonObject:
        return self.browser.send(method, params, session_id=self.session_id, timeout=timeout)

    def navigate(self, url: str, timeout: float = 15.0) -> None:
        """Load ``url`` and wait for its load event; fail loudly if the page did not load."""
        result = self.send("Page.navigate", {"url": url}, timeout=timeout)
        if result.get("errorText"):
            raise CdpError(f"navigation to {url} failed: {result['errorText']}")
        frame_id = result["frameId"]
        self.browser.wait_for_event(
            self.session_id,
            "Page.frameStoppedLoading",
            lambda params: params.get("frameId") == frame_id,
            timeout=timeout,
        )
        # Page.navigate reports many failures only as an error page; check what loaded.
        href = self.evaluate("location.href")
        if href != url:
            raise CdpError(f"navigated to {url} but the page is at {href!r}")

    def evaluate(self, expression: str, timeout: float = 15.0) -> object:
        """Evaluate JavaScript in the page, awaiting a promise; return its JSON value."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            timeout=timeout,
        )
        if "exceptionDetails" in result:
            raise CdpError(f"script threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def set_cookie(self, url: str, name: str, value: str) -> None:
        ok = self.send("Network.setCookie", {"url": url, "name": name, "value": value})
        if not ok.get("success", True):
            raise CdpError(f"Network.setCookie refused {name} for {url}")

    def events(self) -> list[JsonObject]:
        return self.browser.events(self.session_id)

    def close(self) -> None:
        try:
            self.browser.send("Target.disposeBrowserContext", {"browserContextId": self.context_id})
        finally:
            self.browser.forget_events(self.session_id)


def make_workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="iiscors-chromium-"))
