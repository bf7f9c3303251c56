"""The access diff is exact (issue 16 part 1): a Hypothesis property over random pairs of small
configurations and random requests.

- Complete: whenever the two policies answer a request differently (outcome, status, or any
  Access-Control-* header, customHeaders included), a reported change covers that request: its
  scope, its region of Origin values, and its kind of request.  So when no change is reported,
  the two answer every request tried alike.
- Sound: every reported change is real: at each of its scopes, its witness Origin (or, for a
  customHeaders change, a request without Origin) is answered differently.
- The witnesses themselves land in the regions they stand for.

The region of a request is computed here independently of the diff: the most specific pattern
of either scope that matches the Origin (the library's own matcher over both scopes' patterns,
contract B4), else the remainder, split by contract B6.
"""

from __future__ import annotations

import os
import string
from collections.abc import Iterable
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iiscors.policy.access import Change, OriginKind, compare_access
from iiscors.policy.core import CorsRequest, Decision, Policy
from iiscors.policy.grants import access_headers
from iiscors.policy.model import EffectiveSection, OriginRule
from iiscors.policy.origins import OriginMatcher, is_serialized_origin
from iiscors.policy.witnesses import (
    MALFORMED_LABEL,
    NO_ORIGIN_LABEL,
    UNLISTED_LABEL,
    Region,
    witnesses,
)

settings.register_profile(
    "access", max_examples=300, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("access-long", parent=settings.get_profile("access"),
                          max_examples=3000, derandomize=False)
PROFILE = settings.get_profile(
    "access-long" if os.environ.get("HYPOTHESIS_PROFILE") == "long" else "access")

Scopes = dict[tuple[str, ...], EffectiveSection]

# Patterns chosen to nest, collide and straddle every rule of contract B4-B6: exact origins
# inside wildcards, a longer suffix inside a shorter one, ports, a trailing dot, the letter case
# of a scheme, null, the probe label the diff itself uses, and patterns that never match.
PATTERNS = [
    "https://a.com", "https://x.a.com", "https://y.x.a.com", "https://x.a.com:8443",
    "http://a.com", "https://b.com", "https://a.com.", "HTTPS://a.com", "https://[::1]",
    "https://1.2.3.4", "https://x-iiscors-probe.a.com", "https://x-iiscors-probe", "null",
    "https://*.a.com", "https://*.x.a.com", "https://*.a.com:8443", "https://*.com",
    "http://*.a.com", "https://*", "http://*", "x-iiscors-probe://*", "*",
    "https://a.com/", "https://*a.com",
]
ORIGINS = [
    *PATTERNS, "https://q.a.com", "https://q.x.a.com", "https://q.y.x.a.com", "https://q.com",
    "https://q.a.com:8443", "https://x.a.com:9", "https://q", "https://q.", "HTTPS://q.a.com",
    "https://x@a.com", "https://x@q.a.com", "https://a.com/", "", "ftp://z", "https://[::2]",
    "x-iiscors-probe://x-iiscors-probe", "https://x-iiscors-probe.invalid/not-an-origin",
    "https://q.a.com.", "https://Q.a.com",
]
PATHS = ["/", "/api", "/API/x", "/api/v1/z", "/admin", "/other", "/apix"]
#: one path under each scope a configuration may have, and one under none
GRID_PATHS = ["/", "/api", "/api/v1/z", "/admin", "/other"]
SCOPE_PATHS = [("api",), ("api", "v1"), ("admin",)]
CUSTOM = [("Access-Control-Allow-Origin", "*"), ("ACCESS-CONTROL-ALLOW-ORIGIN", "*"),
          ("Access-Control-Allow-Credentials", "true"),
          ("access-control-expose-headers", "X-C"), ("X-Other", "1"), ("Vary", "Accept")]


#: CORS is mostly on where it is configured: so that edits of rules are mostly observable
MOSTLY_TRUE = st.sampled_from([True, True, True, False])
METHODS = st.lists(st.sampled_from(["GET", "PUT", "get"]), max_size=2, unique=True)
HEADERS = st.lists(st.sampled_from(["X-A", "x-a", "X-B"]), max_size=2, unique=True)
EXPOSED = st.lists(st.sampled_from(["X-E", "X-F"]), max_size=2, unique=True)
#: every field of a rule but its origin, and how to draw a value for it
RULE_FIELDS = {
    "allowed": MOSTLY_TRUE, "allow_credentials": st.booleans(),
    "max_age": st.sampled_from([-1, 0, 60]), "allow_all_requested_headers": st.booleans(),
    "allow_headers": HEADERS.map(tuple), "allow_methods": METHODS.map(tuple),
    "expose_headers": EXPOSED.map(tuple),
}


def _rule(origin: str, data: st.DataObject) -> OriginRule:
    return OriginRule(origin, **{name: data.draw(values) for name, values in RULE_FIELDS.items()})


def _section(path: tuple[str, ...], data: st.DataObject) -> EffectiveSection:
    origins = data.draw(st.lists(st.sampled_from(PATTERNS), max_size=5, unique_by=str.casefold))
    return EffectiveSection(
        path=path,
        enabled=data.draw(MOSTLY_TRUE),
        fail_unlisted_origins=data.draw(st.booleans()),
        rules=tuple(_rule(origin, data) for origin in origins),
        custom_headers=tuple(data.draw(st.lists(st.sampled_from(CUSTOM), max_size=2,
                                                unique=True))),
        cors_module=data.draw(MOSTLY_TRUE),
    )


def _edit(section: EffectiveSection, data: st.DataObject) -> EffectiveSection:
    """One small edit, the kind a pull request makes: so that a single aspect changes alone
    and a change the diff misses is not hidden behind another it reports."""
    edit = data.draw(st.sampled_from(["enabled", "fail", "module", "custom", "add", "remove",
                                      "rule", "rule", "rule"]))
    rules = list(section.rules)
    if edit == "enabled":
        return replace(section, enabled=not section.enabled)
    if edit == "fail":
        return replace(section, fail_unlisted_origins=not section.fail_unlisted_origins)
    if edit == "module":
        return replace(section, cors_module=not section.cors_module)
    if edit == "custom":
        custom = data.draw(st.lists(st.sampled_from(CUSTOM), max_size=2, unique=True))
        return replace(section, custom_headers=tuple(custom))
    if edit == "add":
        taken = {r.origin.casefold() for r in rules}
        origin = data.draw(st.sampled_from(PATTERNS))
        if origin.casefold() not in taken:
            rules.insert(data.draw(st.integers(0, len(rules))), _rule(origin, data))
    elif rules:
        index = data.draw(st.integers(0, len(rules) - 1))
        if edit == "remove":
            del rules[index]
        else:
            name = data.draw(st.sampled_from(sorted(RULE_FIELDS)))
            now = getattr(rules[index], name)
            value = data.draw(RULE_FIELDS[name].filter(lambda v, now=now: v != now))
            rules[index] = replace(rules[index], **{name: value})
    return replace(section, rules=tuple(rules))


def _scopes(data: st.DataObject) -> Scopes:
    """A configuration: a root section and some of SCOPE_PATHS, each with its own section or
    the same as its parent (inherited, the common case)."""
    paths = [(), *data.draw(st.lists(st.sampled_from(SCOPE_PATHS), max_size=2, unique=True))]
    scopes: Scopes = {}
    for path in sorted(paths, key=len):
        parent = scopes.get(path[:-1]) or scopes[()] if path else None
        how = data.draw(st.sampled_from(["own", "inherited", "added"])) if parent else "own"
        if parent is None or how == "own":
            scopes[path] = _section(path, data)
        elif how == "inherited":
            scopes[path] = replace(parent, path=path)
        else:  # the parent's rules (the same objects) and a few of its own, as A9 merges
            taken = {r.origin.casefold() for r in parent.rules}
            extra = data.draw(st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=2,
                                       unique_by=str.casefold))
            rules = parent.rules + tuple(_rule(o, data) for o in extra
                                         if o.casefold() not in taken)
            scopes[path] = replace(parent, path=path, rules=rules)
    return scopes


def _edited(old: Scopes, data: st.DataObject) -> Scopes:
    """The new configuration: usually a few small edits of the old, sometimes a new path or
    a different configuration altogether."""
    if data.draw(st.integers(0, 9)) == 0:
        return _scopes(data)
    new = dict(old)
    for _ in range(data.draw(st.integers(1, 2))):
        path = data.draw(st.sampled_from([*old, *SCOPE_PATHS]))
        section = new.get(path) or replace(new[()], path=path)  # a new <location>
        new[path] = _edit(section, data)
    return new


REQUEST_HEADERS = [None, "X-A", "x-a", "x-iiscors-probe", "X-A, X-B", "X-B", "bad header", ""]


def aimed(scopes: Iterable[Scopes]) -> list[str]:
    """Origins of the configurations' patterns, a wildcard's with a label put in."""
    configured = {rule.origin for config in scopes for section in config.values()
                  for rule in section.rules}
    return sorted(p.replace("*", label) for p in configured
                  for label in ("q", "Q", "q.r", "x-iiscors-probe") if p != "*")


def grid(scopes: Iterable[Scopes]) -> list[CorsRequest]:
    """Every aimed and tricky Origin on every path, as an actual request and as preflights
    asking for no header, a listed one, and more than any rule lists."""
    found = []
    for origin in [None, *aimed(scopes), *ORIGINS]:
        for path in GRID_PATHS:
            found.append(CorsRequest("GET", origin, path=path))
            found.extend(CorsRequest("OPTIONS", origin, "PUT", headers, path)
                         for headers in (None, "X-A", "X-A, X-B"))
    return found


def requests(scopes: Iterable[Scopes]) -> st.SearchStrategy[CorsRequest]:
    """Random requests: aimed, tricky or arbitrary Origins, any method and headers."""
    return st.builds(
        CorsRequest,
        method=st.sampled_from(["GET", "POST", "OPTIONS", "OPTIONS"]),
        origin=st.one_of(st.none(), st.sampled_from([*aimed(scopes), *ORIGINS]),
                         st.text(max_size=12)),
        request_method=st.sampled_from([None, "PUT", "PUT", ""]),
        request_headers=st.sampled_from(REQUEST_HEADERS),
        path=st.sampled_from(PATHS),
    )


def answer(decision: Decision) -> tuple[object, ...]:
    """What the diff compares: outcome, status and every Access-Control-* header (names in
    any letter case and the order of two different names mean nothing to HTTP; the order of
    one name's values does)."""
    found = [(name.lower(), value) for name, value in access_headers(decision.headers)]
    return decision.outcome, decision.status, sorted(found, key=lambda p: p[0])


def scope_of(request: CorsRequest, old: Policy, new: Policy) -> str:
    """The deepest configured path of either configuration above the request path (A9)."""
    paths = (old.scope_for(request.path).section.path, new.scope_for(request.path).section.path)
    return "/" + "/".join(max(paths, key=len))


def region_of(origin: str | None, patterns: set[str]) -> str:
    if origin is None:
        return NO_ORIGIN_LABEL
    found, _ = OriginMatcher((p, p) for p in patterns).match(origin)
    if found is not None and found != "*":
        return found
    if not is_serialized_origin(origin):
        return MALFORMED_LABEL
    return "*" if "*" in patterns else UNLISTED_LABEL


def kind_of(request: CorsRequest) -> str:
    return "preflight" if request.method == "OPTIONS" and request.request_method else "actual"


def covered(request: CorsRequest, changes: tuple[Change, ...], old: Policy, new: Policy) -> bool:
    scope = scope_of(request, old, new)
    patterns = {r.origin for r in old.scope_for(request.path).section.rules}
    patterns |= {r.origin for r in new.scope_for(request.path).section.rules}
    region = region_of(request.origin, patterns)
    for change in changes:
        if scope not in change.scopes:
            continue
        if change.kind is OriginKind.EVERY_RESPONSE:
            return True
        if change.origin == region and any(
                a.requests in ("all", kind_of(request)) for a in change.aspects):
            return True
    return False


def witnessed(change: Change, old: Policy, new: Policy) -> bool:
    """Is the change real at every one of its scopes?"""
    for scope in change.scopes:
        if change.kind is OriginKind.EVERY_RESPONSE:
            tried = [CorsRequest(path=scope)]
        else:
            tried = [CorsRequest("GET", change.witness, path=scope),
                     CorsRequest("OPTIONS", change.witness, "PUT", None, scope),
                     CorsRequest("OPTIONS", change.witness, "PUT", "x-iiscors-probe", scope)]
        if all(answer(old.evaluate(r)) == answer(new.evaluate(r)) for r in tried):
            return False
    return True


@PROFILE
@given(st.data())
def test_the_diff_is_exact(data: st.DataObject) -> None:
    old_scopes = _scopes(data)
    new_scopes = _edited(old_scopes, data)
    changes = compare_access(old_scopes, new_scopes)
    old, new = Policy(old_scopes), Policy(new_scopes)
    both = [old_scopes, new_scopes]
    tried = grid(both) + data.draw(st.lists(requests(both), min_size=10, max_size=40))
    for request in tried:
        if answer(old.evaluate(request)) != answer(new.evaluate(request)):
            assert changes, f"no change reported, yet {request} is answered differently"
            assert covered(request, changes, old, new), (request, changes)
    for change in changes:
        assert witnessed(change, old, new), change


@PROFILE
@given(st.lists(st.sampled_from(PATTERNS), max_size=8, unique=True))
def test_every_witness_stands_in_its_region(patterns: list[str]) -> None:
    found = witnesses(patterns)
    for witness in found:
        assert region_of(witness.origin, set(patterns)) == witness.region.label, witness
    regions = {w.region for w in found}
    assert Region(NO_ORIGIN_LABEL, OriginKind.NO_ORIGIN) in regions
    assert Region(MALFORMED_LABEL, OriginKind.MALFORMED) in regions


def test_a_region_filled_by_exact_origins_has_no_witness() -> None:
    # A host wildcard whose suffix leaves room for one-character labels only, all of them
    # listed exactly: no other Origin falls in the wildcard (contract B6's 2,048 bytes).
    suffix = "." + "a" * (2048 - len("https://x."))
    wildcard = f"https://*{suffix}"
    exact = [f"https://{c}{suffix}" for c in string.ascii_letters + string.digits + "-_"]
    assert all(len(e) == 2048 and is_serialized_origin(e) for e in exact)
    assert not is_serialized_origin(f"https://ab{suffix}")
    assert wildcard not in [w.region.label for w in witnesses([wildcard, *exact])]
    # One label left free: the wildcard has a region again, and its witness is that origin.
    found = {w.region.label: w.origin for w in witnesses([wildcard, *exact[1:]])}
    assert found[wildcard] == exact[0]
