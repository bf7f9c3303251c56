"""Origin matching (contract B4-B6) against a deliberately simple reference matcher.

The reference scans every rule and keeps the most specific match; the real matcher never scans
(one dict, a few candidate keys).  Hypothesis generates rule sets and origins, hostile ones
included, and both must agree on which rule wins.
"""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iiscors import load_config
from iiscors.policy.origins import (
    SPLIT_MAX_SCHEMES,
    OriginMatcher,
    PatternKind,
    classify,
    parse_origin,
)

# -- the reference: plain string handling, no shared code with iiscors.policy.origins --------

HOST_CHARS = set(string.ascii_letters + string.digits + "-_")


def ref_serialized(origin: str) -> tuple[str, str, str | None] | None:
    """Contract B6 as literally as possible: (scheme, host, port) or None."""
    if origin == "null":
        return None
    if len(origin) > 2048 or "://" not in origin:
        return None
    scheme, rest = origin.split("://", 1)
    if not scheme or not scheme[0].isascii() or not scheme[0].isalpha():
        return None
    if any(not (c.isascii() and (c.isalnum() or c in "+-.")) for c in scheme):
        return None
    if rest.startswith("["):
        close = rest.find("]")
        if close < 0:
            return None
        host, after = rest[:close + 1], rest[close + 1:]
        import ipaddress
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return None
    else:
        host, _, port_part = rest.partition(":")
        after = ":" + port_part if _ else ""
        labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
        if not host or any(not label or set(label) - HOST_CHARS for label in labels):
            return None
    port = None
    if after:
        port = after[1:]
        if not after.startswith(":") or not port.isdigit() or not 1 <= len(port) <= 5 \
                or not port.isascii():
            return None
    return scheme, host, port


def ref_match(rules: list[str], origin: str) -> str | None:
    best: tuple[int, int] | None = None
    chosen = None
    parsed = ref_serialized(origin)
    for pattern in rules:
        rank: tuple[int, int] | None = None
        if pattern == "*":
            rank = (3, 0)
        elif parsed is not None or origin == "null":
            if pattern == origin:
                rank = (0, 0)
            elif parsed is not None and not parsed[1].endswith("."):
                scheme, host, port = parsed
                if pattern == scheme + "://*":
                    rank = (2, 0)
                elif pattern.startswith(scheme + "://*."):
                    rest = pattern[len(scheme) + 5:]  # after "scheme://*."
                    suffix, _, rule_port = rest.partition(":")
                    if (host.endswith("." + suffix) and (rule_port or None) == port
                            and not host.startswith("[")):
                        rank = (1, -len(suffix))
        if rank is not None and (best is None or rank < best):
            best, chosen = rank, pattern
    return chosen


# -- generators -----------------------------------------------------------------------------

LABELS = ["a", "b", "api", "contoso", "com", "evil", "Contoso", "x-y", "ontoso"]
SCHEMES = ["http", "https", "HTTPS"]
#: every length from 1 to 6 digits (B6 allows 5 at most), a few of them shared by rules and
#: origins so that they meet
PORTS = [None, "8", "80", "443", "0443", "8443", "65535", "99999", "123456", "008443"]

#: a host may end with a dot, in an Origin and in every kind of pattern (B6: only "*" and an
#: exact rule spelled with the dot can match it)
hosts = st.builds(lambda labels, dot: ".".join(labels) + dot,
                  st.lists(st.sampled_from(LABELS), min_size=1, max_size=4),
                  st.sampled_from(["", "", "."]))
ports = st.one_of(st.sampled_from(PORTS),
                  st.integers(1, 6).flatmap(lambda n: st.text("0123456789", min_size=n,
                                                              max_size=n)))
schemes = st.sampled_from(SCHEMES)


def with_port(text: str, port: str | None) -> str:
    return text if port is None else f"{text}:{port}"


#: lengths around B6's 2,048-byte bound, the bound and its neighbours most often
NEAR_THE_BOUND = st.one_of(st.integers(2045, 2051), st.integers(2000, 2100))


@st.composite
def long_origins(draw: st.DrawFn) -> str:
    """Origins of about 2,048 characters, on both sides of B6's bound (most within 3 of it): a
    long first label before a host the patterns use."""
    scheme, host, port = draw(schemes), draw(hosts), draw(ports)
    short = with_port(f"{scheme}://.{host}", port)
    padding = "a" * max(1, draw(NEAR_THE_BOUND) - len(short))
    return with_port(f"{scheme}://{padding}.{host}", port)


exact_origins = st.builds(lambda s, h, p: with_port(f"{s}://{h}", p), schemes, hosts, ports)
patterns = st.one_of(
    exact_origins,
    st.builds(lambda s, h, p: with_port(f"{s}://*.{h}", p), schemes, hosts, ports),
    st.builds(lambda s: f"{s}://*", schemes),
    st.just("*"),
    st.just("null"),
    st.builds(lambda s, h: f"{s}://api-*.{h}", schemes, hosts),   # literal *
    st.builds(lambda o: o + "/", exact_origins),                   # never matches
)
hostile_suffixes = st.sampled_from(["", ".", "/", "/path", "?q", "#f", "@evil.example",
                                    ".evil.example", " ", "\r\n", "\\", "%60", ",https://a.com"])
hostile_prefixes = st.sampled_from(["x@", "evil.com@", "a b.", "a..", ".", "_.", "é.", "a/"])
origins = st.one_of(
    st.just("null"),
    st.builds(lambda s, x, h, p: with_port(f"{s}://{x}{h}", p), schemes, hostile_prefixes,
              hosts, ports),
    patterns,  # an Origin spelling a pattern must never match it (B6)
    st.builds(lambda o, s: o + s, exact_origins, hostile_suffixes),
    st.builds(lambda s, h, p: with_port(f"{s}://{h}", p), schemes, hosts,
              st.sampled_from(["0", "65536", "99999", "8443", "443"])),
    long_origins(),
    st.text(max_size=30),
)


@settings(max_examples=600, deadline=None)
@given(rules=st.lists(patterns, max_size=8, unique_by=str.lower), origin=origins)
def test_matcher_agrees_with_the_reference(rules: list[str], origin: str) -> None:
    matcher = OriginMatcher((pattern, pattern) for pattern in rules)
    chosen, serialized = matcher.match(origin)
    assert chosen == ref_match(rules, origin)
    if chosen is not None:
        assert serialized == (origin == "null" or ref_serialized(origin) is not None)


@settings(max_examples=600, deadline=None)
@given(origin=st.one_of(st.text(max_size=60), origins, long_origins()))
def test_parse_origin_agrees_with_the_reference(origin: str) -> None:
    assert (parse_origin(origin) is not None) == (ref_serialized(origin) is not None)


def origin_of_length(length: int) -> str:
    return "https://" + "a" * (length - len("https://.contoso.com")) + ".contoso.com"


AT_BOUND, PAST_BOUND = origin_of_length(2048), origin_of_length(2049)


@pytest.mark.parametrize(("rules", "at_bound", "past_bound"), [
    pytest.param(["*", "https://app.contoso.com"], ("*", True), ("*", False),
                 id="star-beside-another-rule"),
    pytest.param(["https://*", "*"], ("https://*", True), ("*", False), id="scheme-wildcard"),
    pytest.param(["https://*.contoso.com", "*"], ("https://*.contoso.com", True), ("*", False),
                 id="host-wildcard"),
    pytest.param([AT_BOUND, PAST_BOUND, "*"], (AT_BOUND, True), ("*", False), id="exact"),
])
def test_b6_the_2048_byte_bound_holds_for_every_pattern_kind(
        rules: list[str], at_bound: tuple[str, bool], past_bound: tuple[str, bool]) -> None:
    """2,048 bytes is still an origin; one more is not: only "*" matches it, and it is never
    echoed (``serialized`` False)."""
    assert len(AT_BOUND) == 2048 and len(PAST_BOUND) == 2049
    matcher = OriginMatcher((rule, rule) for rule in rules)
    assert matcher.match(AT_BOUND) == at_bound
    assert matcher.match(PAST_BOUND) == past_bound
    assert ref_match(rules, AT_BOUND) == at_bound[0]
    assert ref_match(rules, PAST_BOUND) == past_bound[0]


@pytest.mark.parametrize(("pattern", "kind"), [
    ("*", PatternKind.ANY),
    ("https://*", PatternKind.SCHEME_WILDCARD),
    ("https://*.contoso.com", PatternKind.HOST_WILDCARD),
    ("https://*.contoso.com:8443", PatternKind.HOST_WILDCARD),
    ("https://app.contoso.com", PatternKind.EXACT),
    ("null", PatternKind.EXACT),
    ("https://*.contoso.com.", PatternKind.NEVER),
    ("https://api-*.contoso.com", PatternKind.NEVER),
    ("https://*:8443", PatternKind.NEVER),
    ("localhost:3000", PatternKind.NEVER),
    ("https://a.com/", PatternKind.NEVER),
    ("https://\\*.contoso.com", PatternKind.NEVER),
    ("http://{domain}", PatternKind.NEVER),
])
def test_b5_pattern_forms(pattern: str, kind: PatternKind) -> None:
    assert classify(pattern) is kind


def test_b4_cost_does_not_depend_on_the_number_of_rules() -> None:
    """The lookup touches a bounded number of dict keys, whatever the rule count."""
    probes: list[str] = []

    class CountingDict(dict[str, str]):
        def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
            probes.append(key)
            return super().get(key, default)

    matcher = OriginMatcher((f"https://*.domain{n}.test", "r") for n in range(10_000))
    matcher._hosts = CountingDict(matcher._hosts)  # type: ignore[assignment]
    assert matcher.match("https://a.b.domain9999.test")[0] == "r"
    assert len(probes) <= 4
    probes.clear()
    assert matcher.match("https://a.b.c.unlisted.test")[0] is None
    assert len(probes) <= 6


@pytest.mark.parametrize(("rules", "origin", "expected"), [
    (["https://*.b"], "https://a.b", "https://*.b"),
    (["https://*.b", "https://*.a.b"], "https://x.a.b", "https://*.a.b"),
    (["https://*.b:8443"], "https://a.b:8443", "https://*.b:8443"),
    (["https://*.b"], "https://a.b:8443", None),
    (["https://*.b"], "https://b", None),
    (["http://*", "*"], "http://a.b", "http://*"),
    (["*", "https://a.b"], "https://a.b", "https://a.b"),
    (["https://*.b"], "https://x@a.b", None),
    (["https://*.b"], "https://x.y_z.a.b", "https://*.b"),   # several labels, underscore
    (["https://*.b"], "https://x..a.b", None),   # an empty label before the suffix
    (["https://*.b"], "https://a..b", None),     # an empty label right before it
    (["https://*.b"], "https://a b.b", None),
])
def test_the_reference_itself(rules: list[str], origin: str, expected: str | None) -> None:
    """The reference must be right for the property test to mean anything."""
    assert ref_match(rules, origin) == expected
    assert OriginMatcher((r, r) for r in rules).match(origin)[0] == expected


# -- allowed(): the first sight's lookup (issue 17) -----------------------------------------


def ref_allowed(rules: list[str], origin: str) -> str | None:
    """What ``admit`` may answer: the chosen rule when the Origin is serialized (B6)."""
    chosen = ref_match(rules, origin)
    serialized = origin == "null" or ref_serialized(origin) is not None
    return chosen if serialized else None


def first_sight(matcher: OriginMatcher[str], origin: str) -> str | None:
    """``ScopePolicy.admit``'s lookup: the exact origins first, then :meth:`allowed`."""
    hit = matcher.exact.get(origin)
    return hit if hit is not None else matcher.allowed(origin)


@settings(max_examples=800, deadline=None)
@given(rules=st.lists(patterns, max_size=8, unique_by=str.lower), origin=origins)
def test_allowed_agrees_with_the_reference(rules: list[str], origin: str) -> None:
    matcher = OriginMatcher((pattern, pattern) for pattern in rules)
    assert first_sight(matcher, origin) == ref_allowed(rules, origin)


#: one scheme of host wildcards (the one-group split), two schemes (scheme and rest), and the
#: same beside the other pattern kinds
ONE_SCHEME = ["https://*.a.test", "https://*.b.a.test", "https://*.a.test:8443"]
TWO_SCHEMES = [*ONE_SCHEME, "http://*.a.test", "a.b+c-d://*.a.test"]
WITH_OTHERS = [*TWO_SCHEMES, "https://x.a.test", "http://*", "*"]
FIRST_LABEL_CASES = [
    "https://x.a.test",            # the first dot's suffix: the fast hit
    "https://x.b.a.test",          # two suffixes match: the longest (B4), at the first dot
    "https://x.y.a.test",          # the first dot's suffix misses, a later one hits
    "https://X-_9.a.test",         # every character B6 allows in a label, capitals
    "https://x.a.test:8443",       # the port belongs to the suffix
    "https://x.a.test:443",
    "https://x.a.test.",           # a trailing dot is never a wildcard's (B6)
    "https://x.a.test/", "https://x.a.test/p", "https://x.a.test\n", "https://x.a.test ",
    "https://u@x.a.test", "https://u:p@x.a.test",   # userinfo
    "https://.a.test",             # a dot right after "://"
    "https://x..a.test", "https://a.test", "https://test", "https://x",   # no dot
    "HTTPS://x.a.test", "Https://x.a.test",          # the scheme is case-sensitive here
    "https://bücher.a.test", "https://xn--bcher-kva.a.test", "https://x.a.tést",
    "http://x.a.test", "a.b+c-d://x.a.test", "a.b+c-d://x.y.a.test", "ftp://x.a.test",
    "https:/x.a.test", "https//x.a.test", "://x.a.test", "x://https://x.a.test",
    "https://x:y://x.a.test", "null", "", "*", "https://*.a.test",
    "https://" + "x" * 2033 + ".a.test",   # 2,048 characters: still an origin
    "https://" + "x" * 2034 + ".a.test",   # 2,049: only "*" matches, never echoed (B6)
]


@pytest.mark.parametrize("rules", [ONE_SCHEME, TWO_SCHEMES, WITH_OTHERS],
                         ids=["one-scheme", "two-schemes", "with-others"])
@pytest.mark.parametrize("origin", FIRST_LABEL_CASES)
def test_allowed_at_the_edges_of_the_first_label_split(rules: list[str], origin: str) -> None:
    """What the one-match split (``_first_label_split``) reads must never decide otherwise
    than the whole lookup, :meth:`OriginMatcher.match_patterns`, and the reference."""
    matcher = OriginMatcher((pattern, pattern) for pattern in rules)
    found, serialized = matcher.match(origin)
    assert first_sight(matcher, origin) == (found if serialized else None)
    assert first_sight(matcher, origin) == ref_allowed(rules, origin)


def counting_whole_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The Origins :meth:`OriginMatcher.match_patterns` is asked about from now on."""
    calls: list[str] = []
    whole = OriginMatcher.match_patterns

    def counted(self: OriginMatcher[str], value: str) -> tuple[str | None, bool]:
        calls.append(value)
        return whole(self, value)

    monkeypatch.setattr(OriginMatcher, "match_patterns", counted)
    return calls


@pytest.mark.parametrize(("rules", "origin", "expected"), [
    (ONE_SCHEME, "https://x.b.a.test", "https://*.b.a.test"),
    (ONE_SCHEME, "https://X-_9.a.test", "https://*.a.test"),
    (ONE_SCHEME, "https://x.a.test:8443", "https://*.a.test:8443"),
    (TWO_SCHEMES, "http://x.a.test", "http://*.a.test"),
    (TWO_SCHEMES, "a.b+c-d://x.a.test", "a.b+c-d://*.a.test"),
    (WITH_OTHERS, "https://x.b.a.test", "https://*.b.a.test"),
])
def test_a_split_origin_needs_no_whole_lookup(
        rules: list[str], origin: str, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The common first sight (one label before a wildcard's suffix) is told by the split
    alone, and when the first dot's suffix misses, the walk goes on from the next dot: the
    whole lookup (:meth:`OriginMatcher.match_patterns`) is not run either way."""
    matcher = OriginMatcher((pattern, pattern) for pattern in rules)
    calls = counting_whole_lookups(monkeypatch)
    assert matcher.allowed(origin) == expected
    dot = origin.index(".", origin.index("://"))
    later = f"{origin[:dot]}.y{origin[dot:]}"  # one label more: the first dot's suffix misses
    assert matcher.allowed(later) == ref_allowed(rules, later) == expected
    unlisted = f"{origin[:dot]}.unlisted"  # no suffix at all: the scheme wildcard, or "*"
    assert matcher.allowed(unlisted) == ref_allowed(rules, unlisted)
    assert calls == []


def test_exact_origins_alone_need_no_lookup_after_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where every pattern is an exact origin (the bulk form of a large file), an Origin not
    among them is unlisted at once, whatever it spells."""
    exact = ["https://a.test", "null", "http://b.test:8080"]
    matcher = OriginMatcher.of({pattern: pattern for pattern in exact})
    calls = counting_whole_lookups(monkeypatch)
    for origin in ["https://c.test", "https://a.test.", "null ", "https://x.a.test", "*",
                   "https://*", "https://" + "a" * 3000]:
        assert matcher.allowed(origin) is None
        assert ref_allowed(exact, origin) is None
    assert calls == []
    assert first_sight(matcher, "null") == "null"


@pytest.mark.parametrize("schemes", [1, SPLIT_MAX_SCHEMES, SPLIT_MAX_SCHEMES + 1, 500])
def test_many_schemes_of_host_wildcards_take_the_whole_lookup(
        schemes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The split tries its schemes one by one: past SPLIT_MAX_SCHEMES of them it is not built,
    and every first sight takes the whole lookup, whose cost does not grow with them (B4)."""
    rules = [f"s{i}://*.a.test" for i in range(schemes)]
    matcher = OriginMatcher((pattern, pattern) for pattern in rules)
    calls = counting_whole_lookups(monkeypatch)
    for i in (0, schemes - 1):
        assert matcher.allowed(f"s{i}://x.a.test") == f"s{i}://*.a.test"
        assert matcher.allowed(f"s{i}://x.y.a.test") == f"s{i}://*.a.test"
    assert len(calls) == (0 if schemes <= SPLIT_MAX_SCHEMES else 4)
    for i in (0, schemes - 1):
        assert matcher.allowed(f"s{i}://x@y.a.test") is None
    assert matcher.allowed(f"s{schemes}://x.a.test") is None


# -- ScopePolicy.admit's own probe of a one-scheme wildcard's usual hit --------------------

def admitting(rules: list[str]) -> Any:
    """A real ScopePolicy whose origin table is ``OriginMatcher((pattern, pattern) ...)`` for
    ``rules``, wired as ``ScopePolicy.__init__`` wires its own (what ``admit`` reads), so that
    admit's answer names the pattern that allowed the Origin."""
    scope = load_config(b'<configuration><system.webServer><cors enabled="true">'
                        b'<add origin="https://x.test" /></cors></system.webServer>'
                        b"</configuration>").policy.root
    matcher = OriginMatcher((pattern, pattern) for pattern in rules)
    scope._table = matcher
    scope._allowed = matcher.allowed
    scope._split, scope._split_suffixes = matcher.one_scheme_split
    scope._exact = matcher.exact
    return scope


def admitted(scope: Any, origin: str) -> str | None:
    scope.forget()
    answer = scope.admit(origin)
    return None if answer is None else answer[1]


@pytest.mark.parametrize("rules", [ONE_SCHEME, TWO_SCHEMES, WITH_OTHERS],
                         ids=["one-scheme", "two-schemes", "with-others"])
@pytest.mark.parametrize("origin", [*FIRST_LABEL_CASES, "https://my-app.a.test",
                                    "https://x.a.test:8443.a.test", "https://x.a.tes",
                                    "https://x.A.TEST", "https://\u0131.a.test"])
def test_admit_at_the_edges_of_its_own_probe(rules: list[str], origin: str) -> None:
    """admit's inline probe (the split's suffix from the first dot, for the one scheme of the
    host wildcards) never decides otherwise than the reference."""
    scope = admitting(rules)
    assert (scope._split is not None) == (rules is ONE_SCHEME)
    assert admitted(scope, origin) == ref_allowed(rules, origin)


@settings(max_examples=600, deadline=None)
@given(rules=st.lists(patterns, max_size=8, unique_by=str.lower), origin=origins)
def test_admit_agrees_with_the_reference(rules: list[str], origin: str) -> None:
    assert admitted(admitting(rules), origin) == ref_allowed(rules, origin)
