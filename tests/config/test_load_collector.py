"""Reading a configuration runs no cyclic garbage collection (issue 17: a 100,000-rule file
allocates hundreds of thousands of objects, each collection they would trigger walks them all,
and a collection stops every thread of the process)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from iiscors import load_config

RULES = 20_000


def webconfig() -> bytes:
    rules = "".join(f'<add origin="https://a{n}.example" allowCredentials="true"><allowMethods>'
                    '<add method="GET"/></allowMethods></add>\n' for n in range(RULES))
    return (f'<configuration><system.webServer><cors enabled="true">\n{rules}</cors>'
            "</system.webServer></configuration>").encode()


@pytest.fixture
def collections() -> Iterator[list[int]]:
    started: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(note)
    try:
        yield started
    finally:
        gc.callbacks.remove(note)


def test_a_large_file_is_read_without_a_collection(collections: list[int]) -> None:
    data = webconfig()
    gc.collect()
    collections.clear()
    config = load_config(data, max_bytes=len(data))
    # at most the young generation's, once the collector is back (it was dozens)
    assert collections in ([], [0])
    assert gc.isenabled()
    assert len(config.scopes[()].rules) == RULES


def test_a_collector_switched_off_by_the_caller_stays_off() -> None:
    gc.disable()
    try:
        load_config(b'<configuration><system.webServer><cors enabled="true">'
                    b'<add origin="https://a.example"/></cors></system.webServer>'
                    b"</configuration>")
        assert not gc.isenabled()
    finally:
        gc.enable()
