"""A replaced configuration is released gradually on the reload thread (issue 17): not in one
cascade of deallocations, which holds the GIL and stops every request thread for its whole
length (tens of milliseconds at 10,000 rules), but one object per list entry, in chunks."""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import iiscors.reload as reload_module
from iiscors import CorsMiddleware
from iiscors.reload import release_gradually

#: the order in which Nodes were freed
FREED: list[str] = []


class Node:
    """A part of a configuration, as far as release_gradually knows (an iiscors object)."""

    __module__ = "iiscors.tests_release"
    __slots__ = ("children", "name")

    def __init__(self, name: str, children: tuple[Node, ...] = ()) -> None:
        self.name, self.children = name, children

    def __del__(self) -> None:
        FREED.append(self.name)


def tree() -> Node:
    """r → (a, b), a → [a1, a2], b → {b1}: a tuple, a list and a dict on the way."""
    return Node("r", (Node("a", [Node("a1"), Node("a2")]),  # type: ignore[arg-type]
                      Node("b", ({"k": Node("b1")},))))  # type: ignore[arg-type]


def breadth_first(order: list[str]) -> bool:
    """The root, then both children, then the three grandchildren (names are paths)."""
    return [len(name) for name in order] == [1, 1, 1, 2, 2, 2]


@pytest.fixture(autouse=True)
def collector_off() -> Iterator[None]:
    """Everything must be freed by reference counting alone."""
    FREED.clear()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_a_plain_drop_is_one_cascade_depth_first() -> None:
    """What the release avoids: the last reference dropped, everything goes at once."""
    root = tree()
    del root
    assert FREED[0] == "r" and sorted(FREED) == ["a", "a1", "a2", "b", "b1", "r"]
    assert not breadth_first(FREED)  # a grandchild went before a child: one cascade


def test_everything_is_freed_one_object_per_entry_breadth_first() -> None:
    roots: list[object] = [tree()]
    release_gradually(roots)
    assert roots == []
    # Breadth-first: each object went when its own entry was deleted, not with its parent.
    assert breadth_first(FREED) and len(FREED) == 6


def test_what_something_else_holds_outlives_the_release() -> None:
    root = tree()
    kept = root.children[0]
    roots: list[object] = [root]
    del root
    release_gradually(roots)
    assert sorted(FREED) == ["b", "b1", "r"]
    assert kept.name == "a" and [n.name for n in kept.children] == ["a1", "a2"]


def test_types_modules_and_functions_are_not_followed() -> None:
    assert not reload_module._dismantled(Node)
    assert not reload_module._dismantled(os)
    assert not reload_module._dismantled(tree)
    assert reload_module._dismantled(Node("x")) and reload_module._dismantled((1,))


def test_the_reload_thread_releases_the_replaced_policy_gradually(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gc.enable()
    config = tmp_path / "web.config"
    config.write_bytes(b'<configuration><system.webServer><cors enabled="true">'
                       b'<add origin="https://a.example"/></cors></system.webServer>'
                       b"</configuration>")
    middleware = CorsMiddleware(lambda e, s: [], str(config), reload_interval=0.02)
    old_policy, old_config = middleware.policy, middleware.config
    released: list[list[object]] = []
    monkeypatch.setattr(reload_module, "release_gradually",
                        lambda roots: released.append(list(roots)))
    new = config.with_name("new")
    new.write_bytes(config.read_bytes().replace(b"a.example", b"b.example"))
    new.replace(config)
    deadline = time.monotonic() + 20
    while not released:
        assert time.monotonic() < deadline, "the edit was never applied"
        time.sleep(0.01)
    assert released == [[old_policy, old_config]]
    assert middleware.policy is not old_policy


def big_configuration(size: int) -> Node:
    """Shaped like a large configuration: a dict of ``size`` unique str keys (a str-keyed dict
    does not report its keys to gc.get_referents), a tuple of ``size`` unique strings, and
    ``size`` small rules of two unique strings each, every third one a Node."""
    lookup = {f"https://k{n}.example": Node(f"v{n}") for n in range(size)}
    names = tuple(f"name-{n}-{'x' * 20}" for n in range(size))
    rules = [(f"o{n}-{'y' * 20}", f"h{n}-{'z' * 20}") if n % 3 else Node(f"r{n}")
             for n in range(size)]
    return Node("root", (lookup, names, rules))  # type: ignore[arg-type]


def test_no_release_step_frees_more_than_a_bounded_number_of_objects() -> None:
    """Counts, not time: every step of the release (between two points where the interpreter
    may switch threads) frees at most RELEASE_CHUNK list entries' worth of objects, each with
    at most RELEASE_FANOUT leaves of its own.  Before, freeing the big dict freed its 20,000
    keys at once, and clearing the one id set freed ~80,000 ints at once."""
    size = 20_000
    roots: list[object] = [big_configuration(size)]
    bound = reload_module.RELEASE_CHUNK * (1 + reload_module.RELEASE_FANOUT)
    freed_per_step: list[int] = []
    nodes_per_step: list[int] = []
    before, nodes = sys.getallocatedblocks(), len(FREED)
    for _ in reload_module.release_steps(roots):
        after = sys.getallocatedblocks()
        freed_per_step.append(before - after)
        nodes_per_step.append(len(FREED) - nodes)
        before, nodes = after, len(FREED)
    assert roots == [] and len(FREED) == 1 + size + (size + 2) // 3  # everything went
    assert max(nodes_per_step) <= reload_module.RELEASE_CHUNK
    assert max(freed_per_step) <= bound, max(freed_per_step)


def test_no_step_reads_a_large_container_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts, not time: while the release finds what to hold, ``gc.get_referents`` is never
    asked about a large container (one call over 100,000 items held the GIL 1-8 ms beside a
    reload's requests, issue 17): its items are read RELEASE_ITEMS_STEP at a time, and still
    everything goes (a frozenset, a str-keyed dict's keys and values, a tuple, a list)."""
    size = 20_000
    roots: list[object] = [big_configuration(size), frozenset(map(str, range(size)))]
    widest: list[int] = []
    real = gc.get_referents

    def referents(*objects: object) -> list[object]:
        widest.append(max((len(value) for value in objects  # type: ignore[arg-type]
                           if isinstance(value, (tuple, list, dict, set, frozenset))),
                          default=0))
        return real(*objects)

    monkeypatch.setattr(gc, "get_referents", referents)
    FREED.clear()
    for _ in reload_module.release_steps(roots):
        pass
    assert widest and max(widest) <= reload_module.RELEASE_FANOUT
    assert roots == [] and len(FREED) == 1 + size + (size + 2) // 3  # everything went
