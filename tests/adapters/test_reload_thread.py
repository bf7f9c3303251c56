"""Hot reload off the request path (issue 17, contract A8): the reload thread of iiscors.reload.

Correctness, not timing: a rebuild held back on purpose shows that requests keep the current
policy meanwhile; the swap is whole; a bad edit keeps the last good policy; the thread runs from
the middleware's construction and applies an edit with no request at all, outlives an
exception (and, ended by anything else, is started again by the next request), ends with its
middleware, and does not rebuild again and again while a file is racy when its content is
unchanged.  Across a fork: tests/adapters/test_reload_fork.py (os.fork in process) and
tests/adapters/test_reload_preload.py (gunicorn --preload, for real).
"""

from __future__ import annotations

import gc
import io
import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

import iiscors.reload as reload_module
from iiscors import CorsMiddleware
from iiscors.reload import NO_COLLECTION, REBUILD_SWITCH_INTERVAL, THREAD_NAME

from support import replace_file

ORIGIN = "https://a.example"
#: Long enough for a loaded 2-core machine; a test only waits this long when it fails.
PATIENCE = 20.0
INTERVAL = 0.02


def version(tag: str) -> bytes:
    """A web.config whose answers say which version produced them twice (the rule's
    Expose-Headers and a customHeaders X-Version), so that a mixed answer would show."""
    return (f'<configuration><system.webServer><cors enabled="true" failUnlistedOrigins="true">'
            f'<add origin="{ORIGIN}"><exposeHeaders><add header="X-{tag}"/></exposeHeaders>'
            f'</add></cors><httpProtocol><customHeaders><add name="X-Version" value="{tag}"/>'
            "</customHeaders></httpProtocol></system.webServer></configuration>").encode()


BAD = b"<configuration><system.webServer><cors enabled='maybe'><add/></cors>"


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def answer(middleware: CorsMiddleware) -> tuple[str, list[tuple[str, str]]]:
    """One allowed GET: (the version it came from, its headers)."""
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["headers"] = headers
        return lambda data: None

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "x",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "HTTP_ORIGIN": ORIGIN,
               "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr}
    b"".join(middleware(environ, start_response))
    headers = seen["headers"]
    versions = [v for n, v in headers if n == "X-Version"]
    expose = [v for n, v in headers if n == "Access-Control-Expose-Headers"]
    assert len(versions) == 1 and expose == [f"X-{versions[0]}"], headers  # never mixed
    return versions[0], headers


def served(middleware: CorsMiddleware, tag: str) -> None:
    """Send requests (each may wake the thread) until ``tag`` is served."""
    deadline = time.monotonic() + PATIENCE
    while answer(middleware)[0] != tag:
        assert time.monotonic() < deadline, f"version {tag} was never served"
        time.sleep(INTERVAL)


def until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def reload_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "web.config"
    replace_file(path, version("A"))
    return path


def test_one_thread_from_construction_and_no_request_looks_at_the_files(
        config_file: Path) -> None:
    middleware = CorsMiddleware(app, str(config_file), reload_interval=3600)
    thread = middleware._thread
    assert thread is not None and thread.name == THREAD_NAME and thread.daemon
    assert thread.is_alive() and thread in reload_threads()
    assert middleware._next_check == math.inf  # the thread times the checks, not requests
    for _ in range(5):
        assert answer(middleware)[0] == "A"
    assert middleware._thread is thread
    # Nothing to watch, or no reload, or reload_interval 0 (the request checks): no thread.
    for built in (CorsMiddleware(app, version("A")),
                  CorsMiddleware(app, str(config_file), reload=False),
                  CorsMiddleware(app, str(config_file), reload_interval=0)):
        assert built._thread is None


def test_an_edit_is_applied_without_any_request(config_file: Path) -> None:
    """The promise of every worker: an edit is served within about reload_interval plus the
    rebuild, whatever requests come (here none at all until it is applied)."""
    middleware = CorsMiddleware(app, str(config_file), reload_interval=INTERVAL)
    old = middleware.policy
    replace_file(config_file, version("B"))
    until(lambda: middleware.policy is not old, "the edit was not applied without requests")
    assert answer(middleware)[0] == "B"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_thread_ended_by_an_error_is_started_again_by_the_next_request(
        config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    middleware = CorsMiddleware(app, str(config_file), reload_interval=INTERVAL)
    first = middleware._thread
    assert first is not None

    def interrupted() -> None:
        raise KeyboardInterrupt  # not an Exception: _background_check lets it end the thread

    monkeypatch.setattr(middleware, "_background_check", interrupted)
    first.join(PATIENCE)
    assert not first.is_alive() and middleware._next_check == 0.0
    monkeypatch.undo()
    replace_file(config_file, version("B"))
    served(middleware, "B")
    second = middleware._thread
    assert second is not None and second is not first and second.is_alive()


def test_requests_keep_the_current_policy_while_the_new_one_is_built(
        config_file: Path) -> None:
    middleware = CorsMiddleware(app, str(config_file), reload_interval=INTERVAL)
    real_build = middleware.source.build
    building, release = threading.Event(), threading.Event()
    default = sys.getswitchinterval()
    during: list[float] = []
    collector: list[tuple[int, int, int]] = []
    thresholds = gc.get_threshold()

    def held_build() -> Any:
        during.append(sys.getswitchinterval())
        collector.append(gc.get_threshold())
        building.set()
        assert release.wait(PATIENCE)
        return real_build()

    middleware.source.build = held_build  # type: ignore[method-assign]
    replace_file(config_file, version("B"))
    until(lambda: answer(middleware) and building.is_set(), "the rebuild never started")
    # The rebuild is held: every request meanwhile is answered, whole, from version A.
    for _ in range(20):
        assert answer(middleware)[0] == "A"
        time.sleep(INTERVAL / 4)
    release.set()
    served(middleware, "B")
    # Meanwhile the interpreter switched threads more often (a request waits less for the
    # GIL), and the interval is restored afterwards.
    assert during == [min(default, REBUILD_SWITCH_INTERVAL)]
    until(lambda: sys.getswitchinterval() == default, "the switch interval was not restored")
    # ... and the collector made no automatic collection at all (each would stop the requests)
    # and its thresholds are restored afterwards.
    assert collector == [NO_COLLECTION]
    until(lambda: gc.get_threshold() == thresholds, "the collector's thresholds were not restored")


def test_concurrent_requests_see_one_version_or_the_other_never_a_mixture(
        config_file: Path) -> None:
    middleware = CorsMiddleware(app, str(config_file), reload_interval=0.005)
    seen: dict[str, int] = {}
    problems: list[str] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                tag = answer(middleware)[0]
            except AssertionError as exc:  # a mixed answer
                problems.append(str(exc))
                continue
            seen[tag] = seen.get(tag, 0) + 1

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for flip in range(1, 31):
            replace_file(config_file, version("B" if flip % 2 else "A"))
            if flip % 10 == 0:
                replace_file(config_file, BAD)
            time.sleep(0.03)
        replace_file(config_file, version("C"))
        until(lambda: seen.get("C", 0) > 0, "the last version was never served")
    finally:
        stop.set()
        for thread in threads:
            thread.join(PATIENCE)
    assert not problems, problems[:3]
    assert seen.get("A", 0) > 0 and seen.get("B", 0) > 0, seen


def test_a_bad_edit_keeps_the_last_good_policy(config_file: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """Contract A8 through the thread: the error is logged once, version A keeps serving,
    then the fixed file is served."""
    caplog.set_level(logging.INFO, logger="iiscors")
    middleware = CorsMiddleware(app, str(config_file), reload_interval=INTERVAL)
    good = middleware.policy
    replace_file(config_file, BAD)

    def logged() -> bool:
        answer(middleware)
        return any("unusable" in r.getMessage() for r in caplog.records)

    until(logged, "the bad edit was never logged")
    for _ in range(10):
        assert answer(middleware)[0] == "A"
        time.sleep(INTERVAL)
    assert middleware.policy is good
    unusable = [r for r in caplog.records if "unusable" in r.getMessage()]
    assert len(unusable) == 1 and unusable[0].levelno == logging.ERROR
    replace_file(config_file, version("B"))
    served(middleware, "B")


def test_the_thread_survives_an_exception_in_a_check(config_file: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    middleware = CorsMiddleware(app, str(config_file), reload_interval=INTERVAL)
    real_build = middleware.source.build
    calls: list[int] = []

    def failing_build() -> Any:
        calls.append(1)
        raise RuntimeError("disk on fire")

    middleware.source.build = failing_build  # type: ignore[method-assign]
    replace_file(config_file, version("B"))

    def failed() -> bool:
        answer(middleware)
        return len(calls) >= 3  # it failed, and was tried again, and again

    until(failed, "the check never ran")
    thread = middleware._thread
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None  # logged once, traceback
    assert answer(middleware)[0] == "A"  # the current policy kept serving
    middleware.source.build = real_build  # type: ignore[method-assign]
    served(middleware, "B")
    assert middleware._thread is thread and thread is not None and thread.is_alive()


def test_the_thread_ends_with_its_middleware(config_file: Path) -> None:
    middleware = CorsMiddleware(app, str(config_file), reload_interval=INTERVAL)
    middleware._next_check = 0.0
    answer(middleware)
    thread = middleware._thread
    assert thread is not None
    del middleware
    gc.collect()
    thread.join(PATIENCE)
    assert not thread.is_alive()


def test_a_racy_file_is_not_rebuilt_again_and_again_when_its_content_is_unchanged(
        config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Within the racy window (here held open), checks compare content digests: one rebuild
    for the edit, none for the checks after it; an edit the stat cannot see is still caught."""
    monkeypatch.setattr(reload_module, "RACY_NS", 3600 * 10**9)
    middleware = CorsMiddleware(app, str(config_file), reload_interval=3600)
    builds: list[int] = []
    real_build = middleware.source.build

    def counted() -> Any:
        builds.append(1)
        return real_build()

    middleware.source.build = counted  # type: ignore[method-assign]
    replace_file(config_file, version("B"))
    assert middleware.check_reload() is True
    for _ in range(20):
        assert middleware.check_reload() is False
    assert len(builds) == 1
    # Same size, same stat (frozen here, as on a coarse clock): the content tells.
    frozen = middleware._snapshot
    monkeypatch.setattr(reload_module, "current", lambda snapshot: frozen)
    config_file.write_bytes(version("C"))
    assert middleware.check_reload() is True
    assert answer(middleware)[0] == "C"
    assert len(builds) == 2
