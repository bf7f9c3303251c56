"""The Origin values that tell two policies apart: one witness per class (issue 16, ``diff``).

Two scopes decide an Origin by the most specific pattern of their rules that matches it
(contract B4).  The patterns of both scopes together are nested or disjoint (an exact origin
inside a host wildcard, a longer suffix inside a shorter one of the same scheme and port, every
such pattern inside its scheme wildcard, everything inside ``*``), so every Origin value falls
in exactly one *region*:

- the most specific pattern of either scope that matches it (exact, host wildcard, scheme
  wildcard), which fixes the rule each scope picks for it; or
- the remainder, which only ``*`` can match, split in two by contract B6: serialized origins
  (``null`` and origins of schemes and hosts nothing else names) are echoed, values that are not
  serialized origins never are;
- and the requests without an ``Origin`` at all.

Every Origin of one region gets the same answer from each scope, up to the echoed value itself,
so one *witness* per region compares the two scopes exactly: the exact origin itself; for a host
wildcard ``scheme://*.suffix[:port]`` a fresh label under the suffix; for a scheme wildcard a
fresh host without a dot (which no host wildcard can match); for the remainder an origin of a
fresh scheme, ``null``, and a value that is not an origin.  A label is "fresh" when no exact
pattern uses it, so the witness set grows with the number of patterns and nothing else.

Pure, like the rest of :mod:`iiscors.policy`: it reads pattern strings, never files.
"""

from __future__ import annotations

import enum
import itertools
import string
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet
from typing import NamedTuple

from iiscors.policy.origins import MAX_ORIGIN_BYTES, PatternKind, classify

#: The label fresh witnesses use when no exact pattern already does (then a short one is found).
PROBE_LABEL = "x-iiscors-probe"
#: A value that is not a serialized origin (contract B6: it has a path).
MALFORMED_ORIGIN = f"https://{PROBE_LABEL}.invalid/not-an-origin"
NULL_ORIGIN = "null"

#: How the regions without a pattern of their own are named in a report.
UNLISTED_LABEL = "(origins no rule names)"
MALFORMED_LABEL = "(values that are not serialized origins)"
NO_ORIGIN_LABEL = "(requests without Origin)"
EVERY_RESPONSE_LABEL = "(every response)"

#: Every character a host label may hold (contract B6); matching is case-sensitive (B5).
_LABEL_ALPHABET = string.ascii_letters + string.digits + "-_"


class OriginKind(enum.StrEnum):
    """What a reported origin is: a rule pattern's form (contract B4) or a remainder."""

    EXACT = "exact"
    HOST_WILDCARD = "host-wildcard"
    SCHEME_WILDCARD = "scheme-wildcard"
    #: the bare ``*``: the serialized origins no other pattern matches
    ANY = "any"
    #: the same origins where neither scope has a ``*`` rule
    UNLISTED = "unlisted"
    MALFORMED = "malformed"
    NO_ORIGIN = "no-origin"
    #: customHeaders, added to every response of the scope (contract C1)
    EVERY_RESPONSE = "every-response"

    def __str__(self) -> str:
        return self.value


class Region(NamedTuple):
    """A class of Origin values both scopes decide alike: ``label`` is the pattern, or one of
    the ``*_LABEL`` names for the regions without a pattern of their own."""

    label: str
    kind: OriginKind


class Witness(NamedTuple):
    """One Origin value (None: no Origin header) standing for its whole region."""

    origin: str | None
    region: Region


_KINDS = {PatternKind.EXACT: OriginKind.EXACT, PatternKind.HOST_WILDCARD: OriginKind.HOST_WILDCARD,
          PatternKind.SCHEME_WILDCARD: OriginKind.SCHEME_WILDCARD}


def witnesses(patterns: Iterable[str], *, among: AbstractSet[str] | None = None
              ) -> list[Witness]:
    """One witness per region of ``patterns``, then the remainder, the malformed value and the
    request without Origin.

    :param patterns: the patterns whose regions are wanted.
    :param among: every pattern of both scopes (default: ``patterns``): fresh labels avoid
        them, and ``*`` among them names the remainder.
    """
    wanted = set(patterns)
    taken = wanted if among is None else among
    found = []
    schemes = {p.partition("://")[0] for p in taken}
    for pattern in sorted(wanted):
        kind = classify(pattern)
        if kind is PatternKind.EXACT:
            found.append(Witness(pattern, Region(pattern, OriginKind.EXACT)))
            continue
        if kind is PatternKind.HOST_WILDCARD:
            head, _, suffix = pattern.partition("*")  # "scheme://", ".suffix[:port]"
            witness = _fresh(head, suffix, taken)
        elif kind is PatternKind.SCHEME_WILDCARD:
            # A host without a dot: no host wildcard can match it.
            witness = _fresh(pattern[:-1], "", taken)
        else:
            continue  # "*" has the remainder; a pattern that never matches has no region (B5)
        if witness is not None:  # None: exact patterns fill the whole wildcard (B6 length)
            found.append(Witness(witness, Region(pattern, _KINDS[kind])))
    remainder = (Region("*", OriginKind.ANY) if "*" in taken
                 else Region(UNLISTED_LABEL, OriginKind.UNLISTED))
    found.append(Witness(f"{_fresh_scheme(schemes)}://{PROBE_LABEL}", remainder))
    if NULL_ORIGIN not in taken:
        found.append(Witness(NULL_ORIGIN, remainder))
    found.append(Witness(MALFORMED_ORIGIN, Region(MALFORMED_LABEL, OriginKind.MALFORMED)))
    found.append(Witness(None, Region(NO_ORIGIN_LABEL, OriginKind.NO_ORIGIN)))
    return found


def _labels() -> Iterator[str]:
    """The preferred label, then every short label, shortest first."""
    yield PROBE_LABEL
    for size in itertools.count(1):
        for letters in itertools.product(_LABEL_ALPHABET, repeat=size):
            yield "".join(letters)


def _fresh(head: str, tail: str, taken: AbstractSet[str]) -> str | None:
    """The first ``head + label + tail`` no pattern names and short enough to be a
    serialized origin (contract B6); None when every such origin is taken (the region is empty).

    Ends after at most ``len(taken) + 2`` lengths: each taken origin rules out one label.
    """
    for label in _labels():
        candidate = f"{head}{label}{tail}"
        if len(candidate) > MAX_ORIGIN_BYTES:
            if label == PROBE_LABEL:
                continue  # a shorter label may still fit
            return None  # labels only grow from here
        if candidate not in taken:
            return candidate
    raise AssertionError("unreachable: _labels() is infinite")  # pragma: no cover


def _fresh_scheme(schemes: set[str]) -> str:
    """A scheme no pattern uses, so that its origins reach only ``*`` (contract B5)."""
    for number in itertools.count():
        scheme = PROBE_LABEL if number == 0 else f"{PROBE_LABEL}{number}"
        if scheme not in schemes:
            return scheme
    raise AssertionError("unreachable")  # pragma: no cover
