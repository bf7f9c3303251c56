"""The two scopes, old and new, that judge one request path (issue 16, ``iiscors diff``).

:class:`ScopePair` holds what every region of the path shares: both scopes, their
customHeaders' Access-Control-* headers (contract C1), their rules by pattern, and the requests
a witness is asked with.  It also knows when a region must be answered alike on both sides
without asking (:meth:`ScopePair.unchanged`, contract B4), which keeps the work of a diff in
proportion to what changed rather than to the size of the files.
"""

from __future__ import annotations

from iiscors.policy.core import CorsRequest, Decision, Policy, ScopePolicy
from iiscors.policy.grants import access_headers, by_name
from iiscors.policy.model import OriginRule
from iiscors.policy.witnesses import OriginKind, Region

#: The Access-Control-Request-Method of the preflights compared (the decision never reads it).
PREFLIGHT_METHOD = "PUT"


class ScopePair:
    """The two scopes that judge one request path, and what is shared by its regions."""

    def __init__(self, path: str, old: Policy, new: Policy, probe: str) -> None:
        self.path = path
        self.old: ScopePolicy = old.scope_for(path)
        self.new: ScopePolicy = new.scope_for(path)
        self.probe = probe
        # customHeaders' Access-Control-* headers: what a request without Origin gets (C1).
        self.old_custom = by_name(access_headers(old.evaluate(CorsRequest(path=path)).headers))
        self.new_custom = by_name(access_headers(new.evaluate(CorsRequest(path=path)).headers))
        self.old_rules = {rule.origin: rule for rule in self.old.section.rules}
        self.new_rules = {rule.origin: rule for rule in self.new.section.rules}
        self.same_settings = settings(self.old) == settings(self.new)
        #: both scopes' settings, with what tells why CORS is inactive (a memo key's part)
        self.both = (settings(self.old, full=True), settings(self.new, full=True))

    def requests(self, origin: str | None) -> tuple[CorsRequest, ...]:
        if origin is None:
            return (CorsRequest(path=self.path),)
        return (CorsRequest("GET", origin, path=self.path),
                CorsRequest("OPTIONS", origin, PREFLIGHT_METHOD, None, self.path),
                CorsRequest("OPTIONS", origin, PREFLIGHT_METHOD, self.probe, self.path))

    def same_rule(self, pattern: str) -> bool:
        """Both scopes hold ``pattern`` with the same answers, or neither holds it."""
        before, after = self.old_rules.get(pattern), self.new_rules.get(pattern)
        if before is None or after is None:
            return before is after
        return before is after or same_answers(before, after)

    def unchanged(self, region: Region) -> bool:
        """Is the region answered alike without asking?  Contract B4: the rule of its pattern
        answers every Origin of a pattern's region in each scope that holds it, and ``*`` (or
        no rule) answers the remainder and the values that are not origins (B6); a request
        without Origin depends on the scope's settings only.  So where the settings and that
        rule are the same on both sides, so are the answers."""
        if not self.same_settings:
            return False
        if region.kind is OriginKind.NO_ORIGIN:
            return True
        return self.same_rule("*" if region.kind in REMAINDERS else region.label)

    def decide(self, scope: ScopePolicy, request: CorsRequest) -> Decision:
        """``request`` decided by one of the pair's scopes: what :meth:`Policy.evaluate` does
        once it has found the scope (the path is the pair's)."""
        return scope.verdict(request.method, request.origin, request.request_method,
                             request.request_headers).decision(request.origin)


def same_answers(one: OriginRule, other: OriginRule) -> bool:
    """Do two rules of the same pattern answer alike?  Everything but where they are written
    (compared field by field: no key to build for each of 10,000 rules)."""
    return (one.allowed == other.allowed and one.allow_credentials == other.allow_credentials
            and one.max_age == other.max_age
            and one.allow_all_requested_headers == other.allow_all_requested_headers
            and one.allow_headers == other.allow_headers
            and one.allow_methods == other.allow_methods
            and one.expose_headers == other.expose_headers)


REMAINDERS = frozenset({OriginKind.ANY, OriginKind.UNLISTED, OriginKind.MALFORMED})


def settings(scope: ScopePolicy, *, full: bool = False) -> tuple[object, ...]:
    """What a scope's answers depend on besides its rules (B1, B7, B10, C1, D1); ``full``
    adds what tells why CORS is inactive (the cause of a change)."""
    found: tuple[object, ...] = (scope.active, scope.fail, scope.custom, scope.static_star)
    if full:
        found += (scope.section.enabled, scope.section.cors_module)
    return found
