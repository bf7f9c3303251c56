"""Who can now do what that they could not before: the exact access diff of two policies
(issue 16, ``iiscors diff``).

:func:`compare_access` takes the effective sections of two configurations (what
:attr:`iiscors.config.load.Config.scopes` holds) and returns every :class:`Change` in what IIS
answers.  It is exact, not sampled, because it compares the two policies over the finite set of
request classes that can be told apart:

- per *scope*: every configured path of either configuration, and the root.  A request path is
  judged by the deepest configured path above it (contract A9); the deepest of either
  configuration's paths above it is one of these, and both policies judge the request as they
  judge that path;
- per *region* of Origin values (:mod:`iiscors.policy.witnesses`): every pattern of either
  scope, the remainder, values that are not origins (B6), no Origin at all;
- per request kind: an actual request, a preflight, and a preflight asking for a fresh header
  (which tells ``allowAllRequestedHeaders`` apart, B8/B14).

Each combination is decided by both policies with :meth:`iiscors.policy.core.Policy.evaluate`
(the one evaluator); where the answers differ, :mod:`iiscors.policy.grants` says how.  Answers
are compared on their outcome, status and Access-Control-* headers: ``Vary`` and other headers
grant no access.  customHeaders (contract C1) are added to every response of a scope, so their
Access-Control-* headers are compared once per scope.  A change found in several scopes, with
the same cause at the same place, is reported once with all its scopes.

Pure: it imports only :mod:`iiscors.policy`, and reads no file.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from iiscors.policy import headers as h
from iiscors.policy.core import CorsRequest, Decision, Headers, Outcome, Policy, ScopePolicy
from iiscors.policy.grants import (
    DIRECTION_ORDER,
    PREFLIGHT_REQUESTS,
    Aspect,
    Direction,
    Grant,
    access_headers,
    by_name,
    compare,
    credentialed,
    custom_aspects,
    grant_of,
    without,
)
from iiscors.policy.model import EffectiveSection, Location, OriginRule
from iiscors.policy.witnesses import (
    EVERY_RESPONSE_LABEL,
    PROBE_LABEL,
    OriginKind,
    Region,
    Witness,
    witnesses,
)

Scopes = Mapping[tuple[str, ...], EffectiveSection]

#: A configuration that does not exist (a file added or deleted): CORS disabled everywhere.
NO_CONFIGURATION: Scopes = {(): EffectiveSection(path=())}

_CREDENTIALS = h.ALLOW_CREDENTIALS.lower()

#: The Access-Control-Request-Method of the preflights compared (the decision never reads it).
PREFLIGHT_METHOD = "PUT"


class Cause(enum.StrEnum):
    """What in the configuration made the change."""

    RULE = "rule"
    ENABLED = "enabled"
    MODULE = "module"
    FAIL_UNLISTED = "failUnlistedOrigins"
    CUSTOM_HEADERS = "customHeaders"

    def __str__(self) -> str:
        return self.value


class Side(enum.StrEnum):
    """Which configuration a change's location is in: the new one, or the old one when what
    made the change was removed."""

    NEW = "new"
    OLD = "old"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Change:
    """One change in access.

    :param scopes: the paths (``/``, ``/api``...) where requests get the new answer.
    :param origin: the pattern, or a label for a region without one (:mod:`.witnesses`).
    :param kind: the pattern's form, or the region's.
    :param direction: ``widens`` if any aspect widens, else ``narrows`` if any narrows.
    :param credentials: it widens what a credentialed request from the origin gets (loudest).
    :param aspects: what changed, each with its own class.
    :param cause: what in the configuration made the change; ``location`` is where it is
        written, in the new configuration or (``side`` old) in the old one.
    :param witness: an Origin value whose answers differ (None for customHeaders).
    """

    scopes: tuple[str, ...]
    origin: str
    kind: OriginKind
    direction: Direction
    credentials: bool
    aspects: tuple[Aspect, ...]
    cause: Cause
    location: Location | None
    side: Side
    witness: str | None

    def sort_key(self) -> tuple[object, ...]:
        where = self.location
        return (not self.credentials, DIRECTION_ORDER[self.direction],
                where.file if where else "", (where.line or 0) if where else 0,
                self.scopes, self.origin)


#: Everything a rule's answers depend on, where it is written aside.
_RuleKey = tuple[object, ...]


class _Pair:
    """The two scopes that judge one request path, and what is shared by its regions.

    :param keys: rule keys by ``id(rule)``, shared by all pairs (scopes inherit the same rule
        objects from the levels above them).
    """

    def __init__(self, path: str, old: Policy, new: Policy, probe: str,
                 keys: dict[int, _RuleKey]) -> None:
        self.path = path
        self.old_policy, self.new_policy = old, new
        self.old: ScopePolicy = old.scope_for(path)
        self.new: ScopePolicy = new.scope_for(path)
        self.probe = probe
        # customHeaders' Access-Control-* headers: what a request without Origin gets (C1).
        self.old_custom = by_name(access_headers(old.evaluate(CorsRequest(path=path)).headers))
        self.new_custom = by_name(access_headers(new.evaluate(CorsRequest(path=path)).headers))
        self.old_rules = {rule.origin: rule for rule in self.old.section.rules}
        self.new_rules = {rule.origin: rule for rule in self.new.section.rules}
        self._keys = keys
        self.same_settings = _settings(self.old) == _settings(self.new)
        self._both = (_settings(self.old, full=True), _settings(self.new, full=True))

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
        return before is after or self._key(before) == self._key(after)

    def _key(self, rule: OriginRule) -> _RuleKey:
        key = self._keys.get(id(rule))
        if key is None:
            key = self._keys[id(rule)] = (
                rule.allowed, rule.allow_credentials, rule.max_age,
                rule.allow_all_requested_headers, rule.allow_headers, rule.allow_methods,
                rule.expose_headers)
        return key

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
        return self.same_rule("*" if region.kind in _REMAINDERS else region.label)

    def memo_key(self, witness: Witness) -> tuple[object, ...] | None:
        """What the witness's answers depend on, when that is known without asking: the
        settings of both scopes and the rule answering its region on each side (contract B4,
        see :meth:`unchanged`).  Scopes inherit the same rule objects, so a region met again
        in a deeper scope with the same settings is not asked again.  None when the region's
        pattern is held by one side only (the other side's rule is then a wider pattern)."""
        region = witness.region
        if region.kind is OriginKind.NO_ORIGIN:
            before = after = None
        else:
            pattern = "*" if region.kind in _REMAINDERS else region.label
            before, after = self.old_rules.get(pattern), self.new_rules.get(pattern)
            if region.kind not in _REMAINDERS and (before is None or after is None):
                return None
        return witness, id(before), id(after), self._both


_REMAINDERS = frozenset({OriginKind.ANY, OriginKind.UNLISTED, OriginKind.MALFORMED})


def _settings(scope: ScopePolicy, *, full: bool = False) -> tuple[object, ...]:
    """What a scope's answers depend on besides its rules (B1, B7, B10, C1, D1); ``full``
    adds what tells why CORS is inactive (the cause of a change)."""
    found: tuple[object, ...] = (scope.active, scope.fail, scope.custom, scope.static_star)
    if full:
        found += (scope.section.enabled, scope.section.cors_module)
    return found


def compare_access(old: Scopes, new: Scopes) -> tuple[Change, ...]:
    """Every change in access from ``old`` to ``new`` (scopes as built by the config room),
    the loudest first: widening with credentials, widening, narrowing, neutral."""
    old_policy, new_policy = Policy(old), Policy(new)
    probe = _probe_header(old, new)
    keys: dict[int, _RuleKey] = {}
    memo: dict[tuple[object, ...], Change | None] = {}
    grouped: dict[tuple[object, ...], tuple[Change, list[str]]] = {}
    for path in sorted(old.keys() | new.keys()):  # a path before the paths below it
        where = "/" + "/".join(path)
        pair = _Pair(where, old_policy, new_policy, probe, keys)
        for change in (*_custom_changes(pair), *_region_changes(pair, memo)):
            # A setting (enabled, <modules>, failUnlistedOrigins) inherited by deeper scopes
            # is reported once, where the shallowest of them says it is written.
            where_written = change.location if change.cause in _WRITTEN_AT_RULE else None
            key = (change.origin, change.kind, change.aspects, change.cause, where_written,
                   change.side, change.credentials)
            grouped.setdefault(key, (change, []))[1].append(where)
    changes = [_with_scopes(change, scopes) for change, scopes in grouped.values()]
    return tuple(sorted(changes, key=Change.sort_key))


def _with_scopes(change: Change, scopes: list[str]) -> Change:
    return Change(tuple(scopes), change.origin, change.kind, change.direction,
                  change.credentials, change.aspects, change.cause, change.location,
                  change.side, change.witness)


def _probe_header(*configurations: Scopes) -> str:
    """An Access-Control-Request-Headers value no rule lists as its allowHeaders: echoed only
    where allowAllRequestedHeaders is true (contract B8)."""
    listed = {",".join(rule.allow_headers) for scopes in configurations
              for section in scopes.values() for rule in section.rules}
    probe, number = PROBE_LABEL, 0
    while probe in listed:
        number += 1
        probe = f"{PROBE_LABEL}-{number}"
    return probe


def _custom_changes(pair: _Pair) -> list[Change]:
    """customHeaders' Access-Control-* changes: one per header name (contract C1)."""
    changes = []
    for key, aspect in custom_aspects(pair.old_custom, pair.new_custom):
        location, side = _custom_location(pair, key)
        loud = aspect.direction is Direction.WIDENS and any(
            name.lower() == _CREDENTIALS and value == "true"
            for name, value in pair.new_custom)
        changes.append(Change((), EVERY_RESPONSE_LABEL, OriginKind.EVERY_RESPONSE,
                              aspect.direction, loud, (aspect,), Cause.CUSTOM_HEADERS,
                              location, side, None))
    return changes


def _custom_location(pair: _Pair, key: str) -> tuple[Location | None, Side]:
    for section, side in ((pair.new.section, Side.NEW), (pair.old.section, Side.OLD)):
        for (name, _), where in zip(section.custom_headers, section.custom_header_locations,
                                    strict=False):
            if name.lower() == key:
                return where, side
    return None, Side.NEW


_WRITTEN_AT_RULE = frozenset({Cause.RULE, Cause.CUSTOM_HEADERS})


def _region_changes(pair: _Pair, memo: dict[tuple[object, ...], Change | None]
                    ) -> list[Change]:
    """The changes of every region of the pair's patterns, one witness each, asked of both
    policies unless the region is answered alike by construction (:meth:`_Pair.unchanged`)."""
    among = pair.old_rules.keys() | pair.new_rules.keys()
    wanted = among if not pair.same_settings else [
        pattern for pattern in among if not pair.same_rule(pattern)]
    found: dict[Region, Change] = {}
    for witness in witnesses(wanted, among=among):
        if witness.region in found or pair.unchanged(witness.region):
            continue  # the remainder has two witnesses; they are decided alike
        key = pair.memo_key(witness)
        if key is None:
            change = _witness_change(pair, witness)
        elif key in memo:
            change = memo[key]
        else:
            change = memo[key] = _witness_change(pair, witness)
        if change is not None:
            found[witness.region] = change
    return list(found.values())


#: One request's answer as compared: outcome, status, the CORS module's Access-Control-*.
_Answer = tuple[Outcome, int | None, Headers]


def _decide(policy: Policy, requests: Iterable[CorsRequest], custom: Headers
            ) -> tuple[list[Decision], tuple[_Answer, ...]]:
    decisions = [policy.evaluate(request) for request in requests]
    key = tuple((d.outcome, d.status, by_name(without(access_headers(d.headers), custom)))
                for d in decisions)
    return decisions, key


def _witness_change(pair: _Pair, witness: Witness) -> Change | None:
    requests = pair.requests(witness.origin)
    old, old_key = _decide(pair.old_policy, requests, pair.old_custom)
    new, new_key = _decide(pair.new_policy, requests, pair.new_custom)
    if old_key == new_key:
        return None
    aspects: list[Aspect] = []
    if witness.origin is not None:
        aspects = compare(_grant(witness.origin, old_key, pair.probe),
                          _grant(witness.origin, new_key, pair.probe))
    if not aspects:
        # Some header no aspect names differs: shown as it is, so that nothing goes unseen.
        aspects = [Aspect("headers", _raw(old_key), _raw(new_key), Direction.NEUTRAL)]
    direction = min((a.direction for a in aspects), key=DIRECTION_ORDER.__getitem__)
    loud = direction is Direction.WIDENS and credentialed(new[0].headers, witness.origin)
    cause, location, side = _locate(pair, old[0], new[0])
    return Change((), witness.region.label, witness.region.kind, direction, loud,
                  tuple(aspects), cause, location, side, witness.origin)


def _grant(origin: str, key: tuple[_Answer, ...], probe: str) -> Grant:
    """The grant read from the answers to :meth:`_Pair.requests` (actual, preflight, probe)."""
    actual, preflight, probed = key
    return grant_of(actual[0], origin, actual[2], preflight[2], probed[2], probe)


def _raw(key: tuple[_Answer, ...]) -> str:
    parts = []
    for outcome, status, headers in key:
        shown = "; ".join(f"{name}: {value}" for name, value in headers)
        parts.append(" ".join(str(part) for part in (outcome, status, shown) if part))
    return " | ".join(parts)


def _locate(pair: _Pair, old: Decision, new: Decision
            ) -> tuple[Cause, Location | None, Side]:
    """What made the change, and where it is written (the new file, or the old for what was
    removed)."""
    before, after = pair.old.section, pair.new.section
    if before.active != after.active:
        if before.cors_module != after.cors_module:  # contract D1
            return (Cause.MODULE, *_pick(after.modules_location, before.modules_location))
        return (Cause.ENABLED, *_pick(_last(after.cors_locations), _last(before.cors_locations)))
    refused = {Outcome.DENIED, Outcome.PASSTHROUGH}
    if (before.fail_unlisted_origins != after.fail_unlisted_origins
            and {old.outcome, new.outcome} <= refused):
        return (Cause.FAIL_UNLISTED,
                *_pick(_last(after.cors_locations), _last(before.cors_locations)))
    if new.rule is not None:
        return Cause.RULE, new.rule.location, Side.NEW
    if old.rule is not None:
        kept = pair.new_rules.get(old.rule.origin)  # still there, now answering otherwise (B10)
        if kept is not None:
            return Cause.RULE, kept.location, Side.NEW
        return Cause.RULE, old.rule.location, Side.OLD
    return (Cause.RULE, *_pick(_last(after.cors_locations), _last(before.cors_locations)))


def _last(locations: tuple[Location, ...]) -> Location | None:
    return locations[-1] if locations else None


def _pick(new: Location | None, old: Location | None) -> tuple[Location | None, Side]:
    return (new, Side.NEW) if new is not None or old is None else (old, Side.OLD)


def failing(change: Change, fail_on: str) -> bool:
    """``--fail-on``: ``any`` change, a change that ``widen``s, one that widens with
    ``credentials``, or ``none``."""
    if fail_on == "any":
        return True
    if fail_on == "widen":
        return change.direction is Direction.WIDENS
    if fail_on == "credentials":
        return change.credentials
    return False


__all__ = ["NO_CONFIGURATION", "PREFLIGHT_REQUESTS", "Aspect", "Cause", "Change", "Direction",
           "OriginKind", "Side", "compare_access", "failing"]
