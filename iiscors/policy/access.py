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

Each combination is decided by both policies' own decision core (the one evaluator: each
side's scope found once per path with :meth:`~iiscors.policy.core.Policy.scope_for`, then
:meth:`~iiscors.policy.core.ScopePolicy.decide`, as :meth:`~iiscors.policy.core.Policy.evaluate`
does); where the answers differ, :mod:`iiscors.policy.grants` says how.  Two shortcuts keep the
work in proportion to the change, both from contract B4 (the rule that matched an Origin, and
the scope's settings, decide everything about it): a region whose pattern has the same rule and
settings on both sides is not asked at all (:meth:`~iiscors.policy.scope_pair.ScopePair.
unchanged`), and a witness met again in a deeper scope, matched by the same rules with the same
settings, is not asked twice.  Answers
are compared on their outcome, status and Access-Control-* headers: ``Vary`` and other headers
grant no access.  customHeaders (contract C1) are added to every response of a scope, so their
Access-Control-* headers are compared once per scope.  A change found in several scopes, with
the same cause at the same place, is reported once with all its scopes.

Pure: it imports only :mod:`iiscors.policy`, and reads no file.
"""

from __future__ import annotations

from collections.abc import Mapping

from iiscors.policy import headers as h
from iiscors.policy.changes import FAIL_ON, Cause, Change, Side, failing
from iiscors.policy.core import Decision, Headers, Outcome, Policy
from iiscors.policy.grants import (
    DIRECTION_ORDER,
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
from iiscors.policy.model import EffectiveSection, Location
from iiscors.policy.scope_pair import ScopePair
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
#: Causes written at one place whatever the scope; the others (enabled, <modules>,
#: failUnlistedOrigins) are inherited by deeper scopes, which may locate them elsewhere.
_WRITTEN_AT_RULE = frozenset({Cause.RULE, Cause.CUSTOM_HEADERS})


def compare_access(old: Scopes, new: Scopes) -> tuple[Change, ...]:
    """Every change in access from ``old`` to ``new`` (scopes as built by the config room),
    the loudest first: widening with credentials, widening, narrowing, neutral."""
    old_policy, new_policy = Policy(old), Policy(new)
    probe = _probe_header(old, new)
    memo: dict[tuple[object, ...], Change | None] = {}
    grouped: dict[tuple[object, ...], tuple[Change, list[str]]] = {}
    for path in sorted(old.keys() | new.keys()):  # a path before the paths below it
        where = "/" + "/".join(path)
        pair = ScopePair(where, old_policy, new_policy, probe)
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


def _custom_changes(pair: ScopePair) -> list[Change]:
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


def _custom_location(pair: ScopePair, key: str) -> tuple[Location | None, Side]:
    for section, side in ((pair.new.section, Side.NEW), (pair.old.section, Side.OLD)):
        for (name, _), where in zip(section.custom_headers, section.custom_header_locations,
                                    strict=False):
            if name.lower() == key:
                return where, side
    return None, Side.NEW


def _region_changes(pair: ScopePair, memo: dict[tuple[object, ...], Change | None]
                    ) -> list[Change]:
    """The changes of every region of the pair's patterns, one witness each, asked of both
    scopes unless the region is answered alike by construction (:meth:`ScopePair.unchanged`)."""
    among = pair.old_rules.keys() | pair.new_rules.keys()
    wanted = among if not pair.same_settings else [
        pattern for pattern in among if not pair.same_rule(pattern)]
    found: dict[Region, Change] = {}
    for witness in witnesses(wanted, among=among):
        if witness.region in found or pair.unchanged(witness.region):
            continue  # the remainder has two witnesses; they are decided alike
        change = _witness_change(pair, witness, memo)
        if change is not None:
            found[witness.region] = change
    return list(found.values())


#: One request's answer as compared: outcome, status, the CORS module's Access-Control-*.
_Answer = tuple[Outcome, int | None, Headers]


def _answer(decision: Decision, custom: Headers) -> _Answer:
    return (decision.outcome, decision.status,
            by_name(without(access_headers(decision.headers), custom)))


def _witness_change(pair: ScopePair, witness: Witness,
                    memo: dict[tuple[object, ...], Change | None]) -> Change | None:
    """Ask both scopes about the witness.  The answers to an Origin depend only on the
    scope's settings and the rule that matched it (contract B4-B10), and deeper scopes inherit
    the same rule objects: a witness met again with the same rules and settings is answered
    from ``memo`` after its actual request."""
    first, *others = pair.requests(witness.origin)
    old = [pair.decide(pair.old, first)]
    new = [pair.decide(pair.new, first)]
    # The region too: one Origin value may stand for different regions in two scopes (a
    # fresh label in one is a pattern's in another), and the change is named after it.
    key = (witness, id(old[0].rule), id(new[0].rule), pair.both)
    if key in memo:
        return memo[key]
    if old[0].outcome is not new[0].outcome:
        # Allowed, denied or passed through: the same for a preflight (B7, B8), and all that
        # is reported then (:func:`~iiscors.policy.grants.compare`).
        others = []
    old += [pair.decide(pair.old, request) for request in others]
    new += [pair.decide(pair.new, request) for request in others]
    old_key = tuple(_answer(d, pair.old_custom) for d in old)
    new_key = tuple(_answer(d, pair.new_custom) for d in new)
    change = memo[key] = None if old_key == new_key else _change(pair, witness, old, new,
                                                                 old_key, new_key)
    return change


def _change(pair: ScopePair, witness: Witness, old: list[Decision], new: list[Decision],
            old_key: tuple[_Answer, ...], new_key: tuple[_Answer, ...]) -> Change:
    aspects: list[Aspect] = []
    if witness.origin is not None:
        aspects = compare(_grant(witness.origin, old_key, pair.probe),
                          _grant(witness.origin, new_key, pair.probe))
    if not aspects:
        # Some header no aspect names differs: shown as it is, so that nothing goes unseen.
        aspects = [Aspect("headers", _raw(old_key), _raw(new_key), Direction.NEUTRAL)]
    before, after = old[0].rule, new[0].rule
    if before is not None and after is not None and before.origin != after.origin:
        # Which rule answers: an exact origin now answered by a wildcard, and so on (B4).
        aspects.append(Aspect("rule", before.origin, after.origin, Direction.NEUTRAL))
    direction = min((a.direction for a in aspects), key=DIRECTION_ORDER.__getitem__)
    loud = direction is Direction.WIDENS and credentialed(new[0].headers, witness.origin)
    cause, location, side = _locate(pair, old[0], new[0])
    return Change((), witness.region.label, witness.region.kind, direction, loud,
                  tuple(aspects), cause, location, side, witness.origin)


def _grant(origin: str, key: tuple[_Answer, ...], probe: str) -> Grant:
    """The grant read from the answers to :meth:`ScopePair.requests` (actual, preflight, probe)."""
    actual, *preflights = key
    preflight, probed = preflights or (actual, actual)  # no preflight asked: outcomes differ
    return grant_of(actual[0], origin, actual[2], preflight[2], probed[2], probe)


def _raw(key: tuple[_Answer, ...]) -> str:
    parts = []
    for outcome, status, headers in key:
        shown = "; ".join(f"{name}: {value}" for name, value in headers)
        parts.append(" ".join(str(part) for part in (outcome, status, shown) if part))
    return " | ".join(parts)


def _locate(pair: ScopePair, old: Decision, new: Decision
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


__all__ = ["FAIL_ON", "NO_CONFIGURATION", "Aspect", "Cause", "Change", "Direction", "OriginKind",
           "Side", "compare_access", "failing"]
