"""Origins and origin patterns (contract B4, B5, B6).

Two things live here:

- :func:`parse_origin` decides whether an ``Origin`` header value is a serialized origin
  (contract B6) and splits it into scheme, host and port.  Anything else never matches a rule
  but the bare ``*`` and is never echoed.
- :class:`OriginMatcher` finds the most specific rule for an Origin without scanning the rules:
  every pattern is a key of one dict, and an Origin produces at most a handful of candidate keys
  (itself, ``scheme://*.`` plus each of its host's suffixes, ``scheme://*``), tried most specific
  first.  The cost depends on the Origin's length, never on the number of rules.

Matching is case-sensitive (contract B5): the dict keys are the patterns as written.
"""

from __future__ import annotations

import enum
import re
import string
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from iiscors.policy.model import table_steps

T = TypeVar("T")

#: Contract B6: longer Origin values are not serialized origins.
MAX_ORIGIN_BYTES = 2048

_LABEL = r"[A-Za-z0-9_-]+"
_SERIALIZED = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://"
    r"(?P<host>" + _LABEL + r"(?:\." + _LABEL + r")*\.?|\[[0-9A-Fa-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?"
)


class PatternKind(enum.IntEnum):
    """Rule forms, most specific first (contract B4)."""

    EXACT = 0
    HOST_WILDCARD = 1
    SCHEME_WILDCARD = 2
    ANY = 3
    #: a pattern that can never match a browser's Origin (contract B5: literal ``*``, B6)
    NEVER = 4


@dataclass(frozen=True, slots=True)
class ParsedOrigin:
    scheme: str
    host: str
    port: str | None
    #: index in the Origin value where the host starts (after ``scheme://``)
    host_start: int


def parse_origin(value: str) -> ParsedOrigin | None:
    """Contract B6: the parts of a serialized origin, or None (``null`` is handled by callers)."""
    match = _match(value)
    if match is None:
        return None
    return ParsedOrigin(match.group("scheme"), match.group("host"), match.group("port"),
                        match.start("host"))


def _match(value: str) -> re.Match[str] | None:
    if len(value) > MAX_ORIGIN_BYTES or not value.isascii():
        return None
    match = _SERIALIZED.fullmatch(value)
    if match is None:
        return None
    host = match.group("host")
    if host[0] == "[" and not _is_ipv6(host[1:-1]):
        return None
    return match


def _host_of(value: str) -> tuple[str, int] | None:
    """``(host, index where it starts)`` of a serialized origin, else None (contract B6).

    The request path's version of :func:`parse_origin`: a plain tuple, no object to build.
    """
    match = _match(value)
    if match is None:
        return None
    return match.group("host"), match.start("host")


def _is_ipv6(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def is_serialized_origin(value: str) -> bool:
    return value == "null" or _match(value) is not None


#: A serialized origin whose host is labels without a trailing dot, told by one match: the
#: exact pattern of nearly every rule (a 100,000-rule file is classified on every load).
_PLAIN_EXACT_SOURCE = (r"[A-Za-z][A-Za-z0-9+.-]*://" + _LABEL + r"(?:\." + _LABEL + r")*"
                       r"(?::[0-9]{1,5})?")
_PLAIN_EXACT = re.compile(_PLAIN_EXACT_SOURCE)
#: Plain exact patterns, one a line, told by one match over all of them (issue 17: one call
#: instead of one per rule).  The pattern never matches a line break, so every line is matched
#: whole; the outer repeat is possessive: once a line fails nothing can succeed, and giving
#: lines back would only cost time.
_PLAIN_EXACT_LINES = re.compile(f"(?:{_PLAIN_EXACT_SOURCE}\n)*+{_PLAIN_EXACT_SOURCE}")


def classify(pattern: str) -> PatternKind:
    """The rule form of an ``origin`` attribute (contract B5)."""
    if len(pattern) <= MAX_ORIGIN_BYTES and _PLAIN_EXACT.fullmatch(pattern) is not None:
        return PatternKind.EXACT  # what is_serialized_origin says of it, sooner
    if pattern == "*":
        return PatternKind.ANY
    scheme, sep, rest = pattern.partition("://")
    if sep and rest == "*" and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        return PatternKind.SCHEME_WILDCARD
    if sep and rest.startswith("*."):
        # scheme://*.suffix[:port] is a host wildcard when "scheme://x.suffix[:port]" would be a
        # serialized origin whose host has no trailing dot.
        probe = parse_origin(f"{scheme}://x.{rest[2:]}")
        if probe is not None and not probe.host.endswith(".") and not probe.host.startswith("["):
            return PatternKind.HOST_WILDCARD
        return PatternKind.NEVER
    if is_serialized_origin(pattern):
        return PatternKind.EXACT
    return PatternKind.NEVER


def _all_plain_exact(patterns: Collection[str]) -> bool:
    """Whether :func:`classify` calls every one of ``patterns`` EXACT at its first test (a
    plain exact origin no longer than contract B6 allows), told by one match over each step
    of :data:`~iiscors.policy.model.TABLE_STEP` of them (one match over 100,000 held the GIL
    33 ms beside a hot reload's requests: issue 17).  Empty ``patterns`` say False: nothing
    to classify."""
    listed = list(patterns)
    return bool(listed) and all(_plain_exact_lines(listed[start:stop])
                                for start, stop in table_steps(len(listed)))


def _plain_exact_lines(patterns: list[str]) -> bool:
    joined = "\n".join(patterns)
    # A pattern holding a line break would read as two lines: the count tells it.
    return (joined.count("\n") == len(patterns) - 1
            and max(map(len, patterns)) <= MAX_ORIGIN_BYTES
            and _PLAIN_EXACT_LINES.fullmatch(joined) is not None)


class OriginMatcher(Generic[T]):
    """The most-specific-rule lookup of contract B4, built once, read-only after.

    :param items: ``(pattern, value)`` pairs; patterns are unique (the configuration system
        rejects duplicate keys before this is built).
    """

    __slots__ = ("_any", "_exact", "_exact_only", "_first_label", "_hosts", "_one_head",
                 "_schemes")

    def __init__(self, items: Iterable[tuple[str, T]]) -> None:
        #: exact serialized origins only, so that a hit proves the Origin is one
        self._exact: dict[str, T] = {}
        #: "scheme://*.suffix[:port]" and "scheme://*", looked up by keys built from the Origin;
        #: never by the raw Origin, which could spell a pattern (contract B6)
        #: host wildcards by "scheme://", then by ".suffix[:port]"
        self._hosts: dict[str, dict[str, T]] = {}
        self._schemes: dict[str, T] = {}
        self._any: T | None = None
        for pattern, value in items:
            kind = classify(pattern)
            if kind is PatternKind.ANY:
                self._any = value
            elif kind is PatternKind.EXACT:
                self._exact[pattern] = value
            elif kind is PatternKind.HOST_WILDCARD:
                head, _, suffix = pattern.partition("*")
                self._hosts.setdefault(head, {})[suffix] = value
            elif kind is PatternKind.SCHEME_WILDCARD:
                self._schemes[pattern] = value
        #: :meth:`allowed`'s one-match split of an Origin (None without host wildcards), and
        #: the suffixes of the only scheme when the host wildcards have one
        self._first_label, self._one_head = _first_label_split(self._hosts)
        #: no pattern but exact origins (what :meth:`of` builds in bulk): :meth:`allowed` then
        #: says None at once
        self._exact_only = not self._hosts and not self._schemes and self._any is None

    @classmethod
    def of(cls, table: dict[str, T], *, plain: bool = False) -> OriginMatcher[T]:
        """The matcher of ``table`` (pattern -> value), equal to
        ``OriginMatcher(table.items())``, built in bulk when it can be (issue 17): when every
        pattern is a plain exact origin, as nearly every rule of a large file is, ``table``
        itself becomes the exact dict (so the caller gives it up) and no pattern is classified
        one by one.  ``plain``: the caller knows they all are (a reader proved it, see
        ``RuleTable.plain_exact``), so they are not checked again."""
        if not plain and not _all_plain_exact(table):
            return cls(table.items())
        matcher: OriginMatcher[T] = cls(())
        matcher._exact = table
        return matcher

    @property
    def any_rule(self) -> T | None:
        return self._any

    def values(self) -> Iterator[T]:
        """Every value, each once per pattern."""
        yield from self._exact.values()
        for suffixes in self._hosts.values():
            yield from suffixes.values()
        yield from self._schemes.values()
        if self._any is not None:
            yield self._any

    @property
    def exact(self) -> dict[str, T]:
        """The exact origins (read-only by convention): a caller on a hot path may try this
        dict first and call :meth:`match` only on a miss; a hit is a serialized origin."""
        return self._exact

    def match(self, origin: str) -> tuple[T | None, bool]:
        """Return ``(value, serialized)``: the most specific match, and whether ``origin`` is a
        serialized origin (contract B6: a value that is not one only ever matches ``*``).

        ``serialized`` is only meaningful with a match; without one it is not computed when it
        cannot matter (no parsing is needed to know a miss is unlisted).
        """
        # Exact keys are serialized origins, so a hit needs no parsing: the common case.
        hit = self._exact.get(origin)
        if hit is not None:
            return hit, True
        return self.match_patterns(origin)

    def allowed(self, origin: str) -> T | None:
        """The value :meth:`match_patterns` finds when it also says ``serialized``, else None,
        for an Origin already known not to be an exact key: what a first sight needs after
        its lookup in :attr:`exact` (``ScopePolicy.admit``; issue 17).

        A host wildcard's most common hit is told by one C-level match: ``scheme://``, one
        label of the characters B6 allows, and the rest from the first dot.  A hit there is
        the longest suffix (contract B4) and its labels are valid (B6), so it is exactly what
        :meth:`match_patterns` would return; after a miss there the walk goes on from the next
        dot, as :meth:`match_patterns` would.  Every other Origin is left to it."""
        first = self._first_label
        if first is not None and len(origin) <= MAX_ORIGIN_BYTES:
            found = first(origin)
            if found is not None:
                one = self._one_head
                suffixes = one if one is not None else self._hosts[found[1]]
                hit = suffixes.get(found[2])
                if hit is not None:
                    return hit
                return self.allowed_after_split(origin, found, suffixes)
        elif self._exact_only:
            return None  # no pattern but exact origins: a miss in exact is unlisted
        hit, serialized = self.match_patterns(origin)
        return hit if serialized else None

    @property
    def one_scheme_split(self) -> tuple[Callable[[str], re.Match[str] | None] | None,
                                        dict[str, T]]:
        """:meth:`allowed`'s split and the suffixes of its one scheme, when the host wildcards
        have one (else ``(None, {})``), for a caller on a hot path (``ScopePolicy.admit``): for
        an Origin of at most MAX_ORIGIN_BYTES that the split matches, ``suffixes.get(match[2])``
        is what :meth:`allowed` says when it is not None, and :meth:`allowed_after_split`
        otherwise."""
        if self._first_label is None or self._one_head is None:
            return None, {}
        return self._first_label, self._one_head

    def allowed_after_split(self, origin: str, found: re.Match[str],
                            suffixes: dict[str, T]) -> T | None:
        """:meth:`allowed` for an Origin whose split ``found`` (the suffixes of its scheme:
        ``suffixes``) missed at its first dot: the walk goes on from the next dot (B4)."""
        walked = self._suffix_walk(origin, found.end(1), origin.find(".", found.start(2) + 1),
                                   suffixes)
        hit, serialized = walked if walked is not None else self._scheme_or_any(origin)
        return hit if serialized else None

    def match_patterns(self, origin: str) -> tuple[T | None, bool]:
        """:meth:`match` for an Origin already known not to be an exact key (the caller tried
        :attr:`exact` first): the wildcard forms and ``*``."""
        if origin == "null":
            return self._any, True
        if len(origin) > MAX_ORIGIN_BYTES:
            return self._any, False
        if self._hosts:
            # Host wildcards: the Origin's "scheme://" picks a table of suffixes.
            start = origin.find("://") + 3
            suffixes = self._hosts.get(origin[:start]) if start > 2 else None
            if suffixes is not None:
                walked = self._suffix_walk(origin, start, origin.find(".", start), suffixes)
                if walked is not None:
                    return walked
        return self._scheme_or_any(origin)

    def _suffix_walk(self, origin: str, start: int, dot: int,
                     suffixes: dict[str, T]) -> tuple[T | None, bool] | None:
        """Host wildcards, longest suffix first (contract B4), from the dot at ``dot`` (-1: none)
        of an Origin whose host starts at ``start``: the table of its scheme's suffixes
        (".contoso.com[:port]") is looked up for the rest of the Origin after each dot.  The
        suffix and port came from a validated pattern, so on a hit only the labels before it
        need checking; a trailing-dot host or a path can never equal a pattern's suffix (B6).
        None: no suffix matched."""
        while dot > start:
            hit = suffixes.get(origin[dot:])
            if hit is not None:
                labels = origin[start:dot]
                if (labels.isalnum() and labels.isascii()) or (
                        _LABEL_CHARS.issuperset(labels) and ".." not in labels
                        and labels[-1] != "."):
                    return hit, True
                return self._any, False  # e.g. userinfo: "https://x@a.contoso.com"
            dot = origin.find(".", dot + 1)
        return None

    def _scheme_or_any(self, origin: str) -> tuple[T | None, bool]:
        """:meth:`match_patterns` once no host wildcard matched: a scheme wildcard, or ``*``."""
        if not self._schemes and self._any is None:
            return None, False
        found = _host_of(origin)
        if found is None:
            return self._any, False
        host, host_start = found
        if self._schemes and host[-1] != ".":
            # Contract B6: a trailing-dot host is matched only by * or an exact rule.
            hit = self._schemes.get(origin[:host_start] + "*")
            if hit is not None:
                return hit, True
        return self._any, True


#: At most this many schemes of host wildcards get :meth:`OriginMatcher.allowed`'s one-match
#: split (the usual one or two); with more, the whole lookup: a regular expression tries the
#: schemes one by one, so a first sight would cost with the configuration (contract B4's
#: lookup does not: one dict probe picks the scheme).
SPLIT_MAX_SCHEMES = 8


def _first_label_split(hosts: dict[str, dict[str, T]]
                       ) -> tuple[Callable[[str], re.Match[str] | None] | None,
                                  dict[str, T] | None]:
    """:attr:`OriginMatcher._first_label` and ``_one_head`` for the host wildcards ``hosts``
    (by ``scheme://``, then by ``.suffix[:port]``).

    The match reads one of the configured ``scheme://`` (a scheme holds no colon, so it ends
    at the Origin's first ``://``, as :meth:`OriginMatcher.match_patterns` finds it: group 1),
    then one label, then everything from the first dot (group 2).  ``_one_head`` is the only
    scheme's suffixes, when there is one (no lookup by group 1 then)."""
    if not hosts or len(hosts) > SPLIT_MAX_SCHEMES:
        return None, None
    heads = "|".join(map(re.escape, hosts))
    split = re.compile(f"({heads}){_LABEL}(\\..*)", re.DOTALL).fullmatch
    return split, (next(iter(hosts.values())) if len(hosts) == 1 else None)


#: What the labels a "*." wildcard stands for may hold (contract B5/B6): checked as a set (cheaper
#: than a regular expression on every wildcard hit), with the dots checked apart.
_LABEL_CHARS = frozenset(string.ascii_letters + string.digits + "-_.")
