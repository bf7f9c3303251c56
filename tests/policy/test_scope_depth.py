"""The scope lookup costs work in proportion to the request path's depth (issue 12 item 14).

``Policy.scope_for`` finds the deepest configured path above a request path (contract A9).  It
used to build a tuple of every prefix of the path and hash each one, so one 60,000-segment
``<location>`` and a 64 KiB request path cost 4.4 s of CPU per request.  The cost is counted
here, not timed: the request path's segments are instrumented strings that count every hash
and comparison made on them, and the count must stay within a small multiple of the depth.
Beside that, a property test pins the answers to the old algorithm's on random trees.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iiscors import load_config
from iiscors.policy.core import Policy
from iiscors.policy.model import EffectiveSection

#: Work allowed per segment of the request path: a hash and a comparison or two per step.
OPERATIONS_PER_SEGMENT = 4


class Budget:
    """Counts operations on request-path segments; fails the test as soon as it is spent."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self) -> None:
        self.used += 1
        if self.used > self.limit:
            raise AssertionError(f"more than {self.limit} operations on path segments")


class CountedSegment(str):
    budget: Budget

    def __hash__(self) -> int:
        self.budget.spend()
        return str.__hash__(self)

    def __eq__(self, other: object) -> bool:
        self.budget.spend()
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        self.budget.spend()
        return str.__ne__(self, other)


class CountedPath(str):
    """A request path whose case-folded segments are :class:`CountedSegment`."""

    budget: Budget

    def casefold(self) -> CountedPath:
        return counted(str.casefold(self), self.budget)

    def split(self, sep: str | None = None, maxsplit: int = -1) -> list[str]:
        segments = []
        for part in str.split(self, sep, maxsplit):
            segment = CountedSegment(part)
            segment.budget = self.budget
            segments.append(segment)
        return segments


def counted(path: str, budget: Budget) -> CountedPath:
    instrumented = CountedPath(path)
    instrumented.budget = budget
    return instrumented


def deep_config(depth: int) -> str:
    location = "/".join("x" for _ in range(depth))
    return (f'<configuration><location path="{location}"><system.webServer>'
            '<cors enabled="true"><add origin="https://deep.example" /></cors>'
            "</system.webServer></location></configuration>")


def scope_work(policy: Policy, path: str) -> tuple[tuple[str, ...], int]:
    """The configured path found for ``path``, and the operations made on its segments."""
    depth = path.count("/") + 1
    budget = Budget(OPERATIONS_PER_SEGMENT * depth + 16)
    found = policy.scope_for(counted(path, budget)).section.path
    return found, budget.used


def test_instrumentation_counts_the_old_quadratic_lookup() -> None:
    # The counter works: the old algorithm, rebuilding every prefix of a path the location
    # does not cover, runs out of budget.
    scopes = load_config(deep_config(300).encode()).scopes
    budget = Budget(OPERATIONS_PER_SEGMENT * 300 + 16)
    with pytest.raises(AssertionError, match="operations on path segments"):
        old_scope_for(scopes, counted("/x" * 299, budget))


@pytest.mark.parametrize("depth", [1, 10, 1_000])
def test_work_is_linear_in_the_depth(depth: int) -> None:
    policy = load_config(deep_config(depth).encode()).policy
    found, used = scope_work(policy, "/x" * depth + "/")  # covered
    assert found == ("x",) * depth
    assert used <= OPERATIONS_PER_SEGMENT * depth + 16
    found, used = scope_work(policy, "/x" * (depth - 1))  # one short: not covered
    assert found == ()
    assert used <= OPERATIONS_PER_SEGMENT * depth + 16


def test_a_64_kib_path_against_a_60000_segment_location() -> None:
    policy = load_config(deep_config(60_000).encode()).policy
    path = "/x" * 32_768  # 64 KiB, a prefix of the location: not covered by it
    found, used = scope_work(policy, path)
    assert found == ()
    assert used <= OPERATIONS_PER_SEGMENT * 32_768 + 16
    deeper = "/x" * 60_001 + "/file.txt"  # below the location: covered
    found, used = scope_work(policy, deeper)
    assert found == ("x",) * 60_000
    assert used <= OPERATIONS_PER_SEGMENT * 60_002 + 16
    elsewhere = "/y" * 32_768  # no configured path starts there: one step
    found, used = scope_work(policy, elsewhere)
    assert found == () and used <= OPERATIONS_PER_SEGMENT


# -- the answers are the old algorithm's -------------------------------------------------------


def old_scope_for(scopes: Mapping[tuple[str, ...], EffectiveSection],
                  path: str) -> EffectiveSection:
    """The lookup as it was before issue 12 (quadratic), written out as the reference."""
    depth = max((len(p) for p in scopes), default=0)
    segments = [s for s in path.casefold().split("/") if s][:depth]
    for length in range(len(segments), 0, -1):
        section = scopes.get(tuple(segments[:length]))
        if section is not None:
            return section
    return scopes[()]


def sections(paths: set[tuple[str, ...]]) -> dict[tuple[str, ...], EffectiveSection]:
    return {(): EffectiveSection(path=())} | {p: EffectiveSection(path=p) for p in paths}


SEGMENT = st.sampled_from(["a", "b", "api", "apix", "ß", "ss", "Ä", "ä", "x"])
CONFIGURED = st.sets(st.lists(SEGMENT.map(str.casefold), min_size=1, max_size=5).map(tuple),
                     max_size=8)
REQUEST = st.lists(st.sampled_from(["", "a", "A", "b", "api", "API", "apix", "ß", "SS", "ss",
                                    "Ä", "ä", "x", "file.txt"]), max_size=8).map("/".join)


@settings(max_examples=300, deadline=None)
@given(paths=CONFIGURED, request=REQUEST)
def test_the_same_scope_as_the_old_lookup(paths: set[tuple[str, ...]], request: str) -> None:
    scopes = sections(paths)
    policy = Policy(scopes)
    for path in (request, "/" + request, "/" + request + "/", "//" + request):
        assert policy.scope_for(path).section is old_scope_for(scopes, path), path


def test_the_root_alone() -> None:
    policy = Policy(sections(set()))
    assert policy.scope_for("/anything").section.path == ()
    assert policy.scope_for("").section.path == ()
