"""The cyclic garbage collector around a rebuild on the reload thread (issue 17).

Counts, never timing: during a check no automatic collection runs at all (each one would stop
every request thread to traverse the new configuration), and after a swap the rebuild's
survivors are moved out of the young generations without being traversed
(:func:`iiscors.reload.adopt_young_objects`), unless the application froze objects itself.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

import iiscors.reload as reload_module
from iiscors import CorsMiddleware
from iiscors.reload import NO_COLLECTION, THREAD_NAME

from support import replace_file

#: Long enough for a loaded 2-core machine; a test only waits this long when it fails.
PATIENCE = 30.0
#: Rules enough that a rebuild allocates several young collections' worth of objects today.
RULES = 3000


def webconfig(tag: str, rules: int = RULES) -> bytes:
    body = "".join(f'<add origin="https://a{n}.example" allowCredentials="true"><allowMethods>'
                   f'<add method="GET"/></allowMethods><exposeHeaders><add header="X-{tag}"/>'
                   "</exposeHeaders></add>\n" for n in range(rules))
    return (f'<configuration><system.webServer><cors enabled="true">\n{body}</cors>'
            "</system.webServer></configuration>").encode()


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [])
    return [b"ok"]


def swapped(middleware: CorsMiddleware, config: Path, tag: str) -> None:
    """Write version ``tag`` and wait until the reload thread swapped it in and is idle."""
    old = middleware.policy
    replace_file(config, webconfig(tag))
    deadline = time.monotonic() + PATIENCE
    while middleware.policy is old:
        assert time.monotonic() < deadline, "the edit was never applied"
        time.sleep(0.005)
    with middleware._lock:  # the check that swapped it has ended
        pass


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "web.config"
    replace_file(path, webconfig("A"))
    return path


@pytest.fixture
def collections() -> Iterator[list[tuple[str, int]]]:
    """(thread name, generation) of every collection that starts."""
    seen: list[tuple[str, int]] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append((threading.current_thread().name, info["generation"]))

    gc.callbacks.append(note)
    try:
        yield seen
    finally:
        gc.callbacks.remove(note)


def test_no_automatic_collection_runs_during_a_check(
        config: Path, collections: list[tuple[str, int]]) -> None:
    middleware = CorsMiddleware(app, str(config), reload_interval=0.01, max_bytes=1 << 24)
    seen_thresholds: list[tuple[int, int, int]] = []
    real_build = middleware.source.build

    def build() -> Any:
        seen_thresholds.append(gc.get_threshold())
        return real_build()

    middleware.source.build = build  # type: ignore[method-assign]
    thresholds = gc.get_threshold()
    gc.collect()
    collections.clear()
    swapped(middleware, config, "B")
    # Before issue 17's second pass this rebuild ran young collections on the reload thread,
    # each traversing what the rebuild had allocated so far (2 at 3,000 rules).
    assert [c for c in collections if c[0] == THREAD_NAME] == []
    assert seen_thresholds and set(seen_thresholds) == {NO_COLLECTION}
    assert gc.get_threshold() == thresholds  # restored exactly


def test_the_rebuilds_survivors_are_adopted_by_the_oldest_generation(config: Path) -> None:
    if not reload_module.adoption_supported():
        pytest.skip("gc.freeze()/unfreeze() adopt objects on CPython 3.11-3.13 with the GIL")
    middleware = CorsMiddleware(app, str(config), reload_interval=0.01, max_bytes=1 << 24)
    gc.disable()  # no collection of the test's own may promote them instead
    try:
        swapped(middleware, config, "B")
        oldest = {id(o) for o in gc.get_objects(generation=2)}
        young = {id(o) for o in gc.get_objects(generation=0)}
    finally:
        gc.enable()
    assert id(middleware.config) in oldest and id(middleware.policy) in oldest
    assert id(middleware.config) not in young


def test_an_applications_own_freeze_is_left_alone(config: Path) -> None:
    middleware = CorsMiddleware(app, str(config), reload_interval=0.01, max_bytes=1 << 24)
    marker = [object()]  # tracked, frozen below like a gunicorn --preload app's heap
    gc.collect()
    gc.freeze()
    gc.disable()  # no collection of the test's own may move the new objects
    try:
        swapped(middleware, config, "B")
        assert gc.get_freeze_count() > 0
        # still in the permanent generation, which gc.get_objects() does not list
        assert not any(o is marker for o in gc.get_objects())
        # not adopted either: the new configuration waits in the young generation
        assert not any(o is middleware.config for o in gc.get_objects(generation=2))
    finally:
        gc.enable()
        gc.unfreeze()


@pytest.mark.parametrize(("version", "gil", "supported"), [
    ((3, 11, 7), True, True), ((3, 12, 1), True, True), ((3, 13, 0), True, True),
    ((3, 13, 0), False, False), ((3, 14, 0), True, False), ((3, 10, 9), True, False)])
def test_adoption_only_where_freeze_and_unfreeze_do_what_it_relies_on(
        version: tuple[int, int, int], gil: bool, supported: bool) -> None:
    assert reload_module.adoption_supported(version, gil) is supported


def test_the_reload_thread_reads_beside_requests_and_nothing_else_does(
        config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17: a rebuild on the reload thread frees its documents a slice at a time and maps
    large ones in slices (iiscors.config.loader.beside_requests); a load anywhere else does
    not pay for it."""
    import iiscors.config.load as load_module
    import iiscors.config.loader as loader_module

    seen: list[tuple[str, bool]] = []
    real = loader_module.release

    def release(document: Any) -> None:
        if document.name == str(config):  # (another test's reload thread may still run)
            seen.append((threading.current_thread().name,
                         getattr(loader_module._SLICED, "on", False)))
        real(document)

    monkeypatch.setattr(load_module, "release", release)
    middleware = CorsMiddleware(app, str(config), reload_interval=0.01, max_bytes=1 << 24)
    assert seen == [(threading.current_thread().name, False)]
    swapped(middleware, config, "B")
    assert seen[1:] == [(THREAD_NAME, True)]
    assert getattr(loader_module._SLICED, "on", False) is False  # this thread: never set
