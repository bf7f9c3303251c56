"""What one answer grants an origin, and what changed between two answers (issue 16, ``diff``).

:class:`Grant` is read from the headers of :class:`~iiscors.policy.core.Decision` objects (the
one evaluator decides; nothing here decides a request): the outcome, and for an allowed origin
the Access-Control-* headers the CORS module sends (contract B8-B10).  :func:`compare` turns two
grants into :class:`Aspect` objects, each classed ``widens``, ``narrows`` or ``neutral``:

- ``widens``: someone can do something they could not (a new origin, credentials, a method, a
  header, the app now called for an origin it used to refuse with 403);
- ``narrows``: the reverse;
- ``neutral``: an observable change that grants nothing (maxAge, list order).

customHeaders (contract C1) are added to every response of a scope, whatever the request:
:func:`custom_aspects` compares their Access-Control-* headers on their own.
"""

from __future__ import annotations

import enum
from collections import Counter
from typing import NamedTuple

from iiscors.policy import headers as h
from iiscors.policy.core import Headers, Outcome

#: How an echoed Access-Control-Allow-Origin is shown (the value is the request's Origin).
ECHO = "the request's Origin"
NONE_SHOWN = "(none)"

#: Which requests an aspect concerns.
ALL_REQUESTS, ACTUAL_REQUESTS, PREFLIGHT_REQUESTS = "all", "actual", "preflight"

_RANK = {Outcome.DENIED: 0, Outcome.PASSTHROUGH: 1, Outcome.ALLOWED: 2}
_ACCESS = {Outcome.DENIED: "denied (403)",
           Outcome.PASSTHROUGH: "not allowed (no CORS headers; the app answers)"}
#: customHeaders lists compared without letter case (header names); origins and methods keep it.
_FOLDED_LISTS = frozenset(name.lower() for name in (h.ALLOW_HEADERS, h.EXPOSE_HEADERS,
                                                    "Access-Control-Request-Headers"))


class Direction(enum.StrEnum):
    """The class of a change: does it give access, take it away, or neither?"""

    WIDENS = "widens"
    NARROWS = "narrows"
    NEUTRAL = "neutral"

    def __str__(self) -> str:
        return self.value


#: Sort order: the widest first.
DIRECTION_ORDER = {Direction.WIDENS: 0, Direction.NARROWS: 1, Direction.NEUTRAL: 2}


class Aspect(NamedTuple):
    """One thing that changed in the answer: ``what`` (``access``, ``allow-origin``,
    ``credentials``, ``methods``, ``allow-headers``, ``all-requested-headers``,
    ``expose-headers``, ``max-age``, ``headers``, a customHeaders name, or ``rule``: the
    pattern of the rule that answers, shown beside another aspect), its old and new value as
    shown, its class, and which requests it concerns."""

    what: str
    old: str
    new: str
    direction: Direction
    requests: str = ALL_REQUESTS


class Grant(NamedTuple):
    """What the answers to one origin grant (the fields after ``outcome`` only when allowed)."""

    outcome: Outcome
    allow_origin: str | None = None
    credentials: bool = False
    methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    #: allowAllRequestedHeaders: the requested headers are echoed (contract B8, B14)
    all_requested: bool = False
    expose: tuple[str, ...] = ()
    max_age: str | None = None


#: The names the decision core writes, as it writes them (tried first: no lower-casing).
_CORE_NAMES = frozenset({h.ALLOW_ORIGIN, h.ALLOW_CREDENTIALS, h.ALLOW_METHODS, h.ALLOW_HEADERS,
                         h.EXPOSE_HEADERS, h.MAX_AGE})


def access_headers(headers: Headers) -> Headers:
    """The Access-Control-* headers among ``headers`` (any letter case), in order."""
    return tuple(pair for pair in headers if pair[0] in _CORE_NAMES
                 or pair[0].lower().startswith(h.ACCESS_CONTROL_PREFIX))


def by_name(headers: Headers) -> Headers:
    """``headers`` in the order of their names (letter case aside), each name's values in their
    own order: how answers are compared, since only the order of one name's values matters."""
    return tuple(sorted(headers, key=lambda pair: pair[0].lower()))


def without(headers: Headers, custom: Headers) -> Headers:
    """``headers`` less one occurrence of each of ``custom`` (contract C1: customHeaders are in
    every response, so what is left is what the CORS module itself sends)."""
    if not custom:
        return headers
    left = Counter(custom)
    kept = []
    for pair in headers:
        if left[pair]:
            left[pair] -= 1
        else:
            kept.append(pair)
    return tuple(kept)


def _value(headers: Headers, name: str) -> str | None:
    return next((value for key, value in headers if key == name), None)


def _items(headers: Headers, name: str) -> tuple[str, ...]:
    value = _value(headers, name)
    return tuple(h.split_list(value)) if value else ()


def grant_of(outcome: Outcome, origin: str | None, actual: Headers, preflight: Headers,
             probe: Headers, probe_value: str) -> Grant:
    """The grant of one origin from the CORS module's headers (customHeaders removed) of its
    actual request, its preflight, and a preflight requesting the fresh ``probe_value``."""
    if outcome is not Outcome.ALLOWED:
        return Grant(outcome)
    allow_origin = _value(actual, h.ALLOW_ORIGIN)
    if allow_origin is not None and allow_origin == origin:
        allow_origin = ECHO  # contract B10: the echoed Origin, whatever its value
    return Grant(
        outcome,
        allow_origin=allow_origin,
        credentials=_value(actual, h.ALLOW_CREDENTIALS) == "true",
        methods=_items(preflight, h.ALLOW_METHODS),
        allow_headers=_items(preflight, h.ALLOW_HEADERS),
        all_requested=_value(probe, h.ALLOW_HEADERS) == probe_value,
        expose=_items(actual, h.EXPOSE_HEADERS),
        max_age=_value(preflight, h.MAX_AGE),
    )


def credentialed(headers: Headers, origin: str | None) -> bool:
    """Would a credentialed request from ``origin`` be let through by these headers?  (The
    Fetch CORS check: the Origin echoed, not ``*``, and Allow-Credentials exactly ``true``.)"""
    if origin is None:
        return False
    names = {(name.lower(), value) for name, value in headers}
    return ((h.ALLOW_CREDENTIALS.lower(), "true") in names
            and (h.ALLOW_ORIGIN.lower(), origin) in names)


def _access(grant: Grant) -> str:
    if grant.outcome is Outcome.ALLOWED:
        return "allowed, with credentials" if grant.credentials else "allowed"
    return _ACCESS[grant.outcome]


def _shown(items: tuple[str, ...]) -> str:
    return h.join(items) if items else NONE_SHOWN


def list_direction(old: tuple[str, ...], new: tuple[str, ...], *, fold: bool) -> Direction:
    """A list that gains an item widens (even if it loses another); one that only loses
    narrows; the same items in another order or letter case are neutral."""
    def items(values: tuple[str, ...]) -> set[str]:
        return {v.casefold() for v in values} if fold else set(values)
    before, after = items(old), items(new)
    if after - before:
        return Direction.WIDENS
    return Direction.NARROWS if before - after else Direction.NEUTRAL


def _gain(old: bool, new: bool) -> Direction:
    if old == new:
        return Direction.NEUTRAL
    return Direction.WIDENS if new else Direction.NARROWS


def compare(old: Grant, new: Grant) -> list[Aspect]:
    """Every aspect in which ``new`` differs from ``old`` (empty when they grant alike)."""
    if old.outcome is not new.outcome:
        widens = _RANK[new.outcome] > _RANK[old.outcome]
        return [Aspect("access", _access(old), _access(new),
                       Direction.WIDENS if widens else Direction.NARROWS)]
    if old.outcome is not Outcome.ALLOWED:
        return []
    found: list[Aspect] = []
    if old.allow_origin != new.allow_origin:
        # "*" and the echoed Origin grant the same to a request without credentials; with
        # Allow-Credentials only the echo lets a credentialed request through.
        found.append(Aspect("allow-origin", old.allow_origin or NONE_SHOWN,
                            new.allow_origin or NONE_SHOWN,
                            _gain(_echoes_credentials(old), _echoes_credentials(new))))
    if old.credentials != new.credentials:
        found.append(Aspect("credentials", str(old.credentials).lower(),
                            str(new.credentials).lower(), _gain(old.credentials,
                                                                new.credentials)))
    found.extend(_lists(old, new))
    if old.max_age != new.max_age:
        found.append(Aspect("max-age", old.max_age or NONE_SHOWN, new.max_age or NONE_SHOWN,
                            Direction.NEUTRAL, PREFLIGHT_REQUESTS))
    return found


def _echoes_credentials(grant: Grant) -> bool:
    return grant.allow_origin == ECHO and grant.credentials


def _lists(old: Grant, new: Grant) -> list[Aspect]:
    found: list[Aspect] = []
    if old.methods != new.methods:
        found.append(Aspect("methods", _shown(old.methods), _shown(new.methods),
                            list_direction(old.methods, new.methods, fold=False),
                            PREFLIGHT_REQUESTS))
    if old.all_requested != new.all_requested:
        found.append(Aspect("all-requested-headers", str(old.all_requested).lower(),
                            str(new.all_requested).lower(),
                            _gain(old.all_requested, new.all_requested), PREFLIGHT_REQUESTS))
    if old.allow_headers != new.allow_headers:
        # With allowAllRequestedHeaders the list is sent only when no header is requested.
        direction = (Direction.NEUTRAL if new.all_requested else
                     list_direction(old.allow_headers, new.allow_headers, fold=True))
        found.append(Aspect("allow-headers", _shown(old.allow_headers),
                            _shown(new.allow_headers), direction, PREFLIGHT_REQUESTS))
    if old.expose != new.expose:
        found.append(Aspect("expose-headers", _shown(old.expose), _shown(new.expose),
                            list_direction(old.expose, new.expose, fold=True), ACTUAL_REQUESTS))
    return found


def custom_aspects(old: Headers, new: Headers) -> list[tuple[str, Aspect]]:
    """customHeaders' Access-Control-* headers that differ, by lower-cased name (contract C1):
    a value gained widens, a value lost narrows, maxAge is neutral."""
    def by_name(pairs: Headers) -> dict[str, tuple[str, list[str]]]:
        found: dict[str, tuple[str, list[str]]] = {}
        for name, value in pairs:
            found.setdefault(name.lower(), (name, []))[1].append(value)
        return found
    before, after = by_name(old), by_name(new)
    aspects = []
    for key in sorted(before.keys() | after.keys()):
        name, old_values = before.get(key, ("", []))
        name, new_values = after.get(key, (name, []))
        if old_values == new_values:
            continue
        direction = Direction.NEUTRAL
        if key != h.MAX_AGE.lower():
            direction = list_direction(_tokens(old_values), _tokens(new_values),
                                       fold=key in _FOLDED_LISTS)
        aspects.append((key, Aspect(name, "; ".join(old_values) or NONE_SHOWN,
                                    "; ".join(new_values) or NONE_SHOWN, direction)))
    return aspects


def _tokens(values: list[str]) -> tuple[str, ...]:
    return tuple(item for value in values for item in h.split_list(value))
