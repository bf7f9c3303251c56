"""Lint: configurations IIS accepts but that do not do what their author meant (W2xx for
``<cors>``; the customHeaders checks of :mod:`iiscors.config.headerlint`, W3xx and N3xx, run
from here too).

Runs only on configurations without errors (:func:`iiscors.config.load.analyse`), over the levels as
written (checks about one ``<add origin>`` rule and its lists, reported once where the rule is
written) and over the effective sections (checks about what applies at a path, such as
customHeaders colliding with an enabled ``<cors>``).  Warnings and notes never change behaviour
(contract A7, C3); every code is in :data:`iiscors.config.diagnostics.CATALOGUE` with its fix.

Not for: errors (the configuration system's refusals live in :mod:`iiscors.config.rules` and
:mod:`iiscors.config.scope`), W102/W103 (reported there too), or the notes about a whole file
(W101, N101: :mod:`iiscors.config.filenotes`).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import compress, repeat
from typing import cast

from iiscors.config.browsers import (
    MAX_AGE_FIREFOX,
    MAX_AGE_HONOURED,
    is_default_port,
    max_age_ignored_by,
    never_exposed,
    split_authority,
    split_port,
)
from iiscors.config.diagnostics import Diagnostic, make_at
from iiscors.config.headerlint import custom_header_checks
from iiscors.config.rules import Entry, Level
from iiscors.policy.model import EffectiveSection, Location, OriginRule, RuleTable, table_steps
from iiscors.policy.origins import MAX_ORIGIN_BYTES, OriginMatcher, PatternKind, classify

#: Origins a browser treats as potentially trustworthy even over http: (secure contexts), so
#: credentials to them do not cross the network.  W203 leaves them alone.
_LOOPBACK = re.compile(r"(localhost|[^/]*\.localhost|127(\.[0-9]{1,3}){3}|\[::1\])(:[0-9]+)?",
                       re.IGNORECASE)

#: Probe origins for W222: no real site has them, so the rule they hit is what an unlisted
#: origin (such as the site's own) hits.
_PROBES = ("https://own-site.invalid", "http://own-site.invalid")

#: The origin most rules of a large file are: a lower-case http(s) origin without a port or a
#: path, of at most MAX_ORIGIN_BYTES (contract B6: a longer one is not a serialized origin,
#: W223).  :func:`origin_problems` has nothing to say about it and it is an exact pattern, which
#: one match tells without the checks (a 100,000-rule file is linted on every load, issue 17).
#: The length is told by a look-ahead to the origin's end: the end of the text, or the NUL
#: that ends it in :data:`_ALL_PLAIN`.
_PLAIN = re.compile(rf"(?=[^\x00]{{0,{MAX_ORIGIN_BYTES}}}(?:\x00|\Z))"
                    r"https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*")


#: Origins joined by NUL, each matching :data:`_PLAIN`; the repeat is possessive (a failed
#: origin fails the whole match, so giving origins back only costs time: 2-3x at 10,000-100,000)
_ALL_PLAIN = re.compile(f"(?:{_PLAIN.pattern}\x00)*+{_PLAIN.pattern}")


def lint(levels: Sequence[Level], scopes: Mapping[tuple[str, ...], EffectiveSection]
         ) -> list[Diagnostic]:
    """Every lint warning and note for a configuration that has no errors, each reported once
    (at the place that causes it, whichever scopes it shows in)."""
    found: list[Diagnostic] = []
    shapes: dict[int, tuple[bool, bool]] = {}
    for level in levels:
        if level.cors is not None:
            for rule in _loud_rules(_rules_of(level.cors.entries), shapes):
                found.extend(rule_checks(rule))
    found.extend(_unused_rules(levels, scopes))
    for section in scopes.values():
        found.extend(_section_checks(section))
        found.extend(custom_header_checks(section))
    # A check about an inherited section fires in every scope below it: keep the first one per
    # code and place (messages may name the scope).
    unique: dict[tuple[str, str, int | None, int | None], Diagnostic] = {}
    for diagnostic in found:
        key = (diagnostic.code, diagnostic.file, diagnostic.line, diagnostic.column)
        unique.setdefault(key, diagnostic)
    return list(unique.values())


# -- one origin rule, as written --------------------------------------------------------------

def origin_problems(pattern: str) -> list[tuple[str, str]]:
    """``(code, message)`` for every reason the ``origin`` pattern never matches what a browser
    sends, or is unsafe (W204-W212, W223).  Empty for a pattern that works (contract B5, B6)."""
    if pattern == "*":
        return []
    if pattern == "null":
        return [("W211", "origin=\"null\" is allowed: sandboxed iframes, file: pages and "
                 "cross-origin redirects send Origin: null, so any site can forge it")]
    if pattern.lower().startswith("file:"):
        return [("W212", f"origin=\"{pattern}\": browsers send Origin: null for file: pages, so "
                 "this never matches, and trusting local files is unsafe")]
    if "{" in pattern or "}" in pattern:
        return [("W207", f"origin=\"{pattern}\" is a template: IIS matches it literally, so it "
                 "never matches")]
    if "\\*" in pattern:
        return [("W208", f"origin=\"{pattern}\" escapes the *: there is no escaping, the "
                 "backslash is literal and it never matches")]
    scheme, sep, rest = pattern.partition("://")
    if not sep:
        return [("W206", f"origin=\"{pattern}\" has no scheme: browsers always send one "
                 f"(such as http://{pattern}), so it never matches")]
    problems: list[tuple[str, str]] = []
    authority, cut, _ = split_authority(rest)
    if cut:
        problems.append(("W205", f"origin=\"{pattern}\" has a path or a trailing slash: "
                         f"browsers send {scheme}://{authority}".lower() + ", so it never matches"))
    head = f"{scheme}://{authority}"
    if head != head.lower():
        problems.append(("W204", f"origin=\"{pattern}\" has upper-case letters: browsers send "
                         f"{head.lower()} and matching is case-sensitive (contract B5), so it "
                         "never matches"))
    host, port = split_port(authority)
    if is_default_port(scheme, port):
        problems.append(("W210", f"origin=\"{pattern}\" writes out the default port {port}: "
                         f"browsers send {scheme.lower()}://{host.lower()}, so it never matches"))
        authority = host
    candidate = f"{scheme}://{authority}".lower()
    if classify(candidate) is PatternKind.NEVER:
        if "*" in candidate:
            problems.append(("W209", f"origin=\"{pattern}\": a * is a wildcard only as *, "
                             "scheme://* or scheme://*.suffix[:port]; here it is a literal "
                             "character (contract B5), so it never matches"))
        else:
            problems.append(("W223", f"origin=\"{pattern}\" is not a serialized origin "
                             "(contract B6), so it never matches a browser's Origin"))
    return problems


def _rules_of(entries: Sequence[Entry[OriginRule] | OriginRule]) -> Sequence[OriginRule]:
    """The rules a level's ``<cors>`` adds: its entries themselves (a table, or a tuple of
    rules), unless some is an :class:`Entry` (a ``<remove>``, a ``<clear/>``, an ``<add
    lockItem>``)."""
    if isinstance(entries, RuleTable) or all(map(isinstance, entries, repeat(OriginRule))):
        return cast(Sequence[OriginRule], entries)
    return [rule for entry in entries
            if (rule := entry if isinstance(entry, OriginRule) else entry.value) is not None]


def _loud_rules(rules: Sequence[OriginRule], shapes: dict[int, tuple[bool, bool]]
                ) -> Iterable[OriginRule]:
    """The rules :func:`rule_checks` may have something to say about (the others are
    :func:`_quiet`).  When every shape among them is quiet and without credentials, as in a
    large file of plain rules, these are the rules whose origin is not plain, found by C-level
    iterators (issue 17: a 100,000-rule file is linted on every load).  A table is read by
    its columns: only the rules found loud are built."""
    if isinstance(rules, RuleTable):
        return _loud_rows(rules, shapes)
    for rule in dict(zip(map(id, map(_SHAPE, rules)), rules, strict=True)).values():
        if id(rule.shape) not in shapes:
            shapes[id(rule.shape)] = _quiet_shape(rule)
    if all(quiet and not credentialed for quiet, credentialed in shapes.values()):
        origins = list(map(_ORIGIN, rules))
        # One match for all of them: NUL cannot be in an XML document (so in no origin).
        if _ALL_PLAIN.fullmatch("\x00".join(origins)):
            return ()
        return compress(rules, map(operator.not_, map(_PLAIN.fullmatch, origins)))
    return [rule for rule in rules if not _quiet(rule, shapes)]


def _loud_rows(table: RuleTable, shapes: dict[int, tuple[bool, bool]]) -> list[OriginRule]:
    """:func:`_loud_rules` of a table: each shape judged once (at its first rule), then each
    origin by :func:`_quiet`'s test, with no rule built but the loud ones."""
    judged = []
    for rule in table.first_of_each_shape():
        known = shapes.get(id(rule.shape))
        if known is None:
            known = shapes[id(rule.shape)] = _quiet_shape(rule)
        judged.append(known)
    origins = table.origins
    if all(quiet and not credentialed for quiet, credentialed in judged):
        # One match for all of them: NUL cannot be in an XML document (so in no origin).
        if _ALL_PLAIN.fullmatch("\x00".join(origins)):
            table.plain_exact = True  # each is a plain exact origin too: the policy's check
            return []  # is then spared (issue 17)
        return [table[index] for start, stop in table_steps(len(origins))
                for index in compress(range(start, stop), map(
                    operator.not_, map(_PLAIN.fullmatch, origins[start:stop])))]
    plain = _PLAIN.fullmatch
    return [table[index] for index, (origin, kind) in enumerate(zip(origins, table.kinds,
                                                                    strict=True))
            if not (judged[kind][0] and plain(origin) is not None
                    and not (judged[kind][1] and origin[4] == ":"))]


_SHAPE = operator.attrgetter("shape")
_ORIGIN = operator.attrgetter("origin")


def _quiet(rule: OriginRule, shapes: dict[int, tuple[bool, bool]] | None = None) -> bool:
    """Whether :func:`rule_checks` has nothing to say about ``rule``, told without building
    anything: a plain origin (:data:`_PLAIN`), credentials only over https:, a maxAge browsers
    honour, no located lists.  ``shapes``: what is known of the shapes met so far."""
    shapes = {} if shapes is None else shapes
    known = shapes.get(id(rule.shape))
    if known is None:
        known = shapes[id(rule.shape)] = _quiet_shape(rule)
    quiet, credentialed = known
    return (quiet and _PLAIN.fullmatch(rule.origin) is not None
            and not (credentialed and rule.origin[4] == ":"))


def _quiet_shape(rule: OriginRule) -> tuple[bool, bool]:
    """What :func:`rule_checks` needs to know of ``rule``'s shape (file, flags, lists:
    :attr:`OriginRule.shape`, shared by many rules, so asked once per shape) to tell, without
    building anything, that it has nothing to say: whether the shape is quiet (a maxAge
    browsers honour, no located list entry), and whether it allows credentials (then the
    origin must be https:).  The origin itself must be plain (:data:`_PLAIN`)."""
    return (rule.max_age <= MAX_AGE_HONOURED and not rule.header_locations,
            rule.allow_credentials and rule.allowed)


def rule_checks(rule: OriginRule) -> Iterator[Diagnostic]:
    """The checks about one ``<add origin>`` rule and its own lists."""
    where = rule.location
    if _PLAIN.fullmatch(rule.origin) is not None:
        kind = PatternKind.EXACT  # and no origin problem (see _PLAIN)
    else:
        for code, message in origin_problems(rule.origin):
            yield make_at(code, message, where)
        kind = classify(rule.origin)
    if rule.allowed and rule.allow_credentials:
        yield from _credential_checks(rule, kind)
    ignored = max_age_ignored_by(rule.max_age)
    if ignored is not None:
        yield make_at("W215", f"maxAge=\"{rule.max_age}\" is more than {ignored} honour "
                      f"(Chromium caps preflight caching at {MAX_AGE_HONOURED} s, Firefox at "
                      f"{MAX_AGE_FIREFOX} s)", attribute_at(rule, "maxAge"))
    headers = rule.header_locations
    allow_headers = [item for item in headers if item[0] == "allowHeaders"] \
        if rule.allow_all_requested_headers else []
    if allow_headers:
        yield make_at("W216", "allowAllRequestedHeaders=\"true\" together with a header list: "
                      "preflights echo the requested headers, and the list is sent only when a "
                      "preflight asks for none (contract B8)",
                      allow_headers[0][2])
    for what, value, at in headers:
        if what == "allowMethods" and value.upper() == "OPTIONS":
            yield make_at("W213", "OPTIONS in allowMethods is never needed: the preflight itself "
                          "is answered by the CORS module (contract B8)", at)
        elif what == "exposeHeaders" and never_exposed(value):
            yield make_at("W214", f"exposeHeaders lists '{value}': browsers never expose "
                          "Access-Control-* response headers to scripts", at)


def attribute_at(rule: OriginRule, name: str) -> Location:
    """Where the rule's attribute ``name`` was written (its ``origin`` if unknown)."""
    for attribute, where in rule.attribute_locations:
        if attribute == name:
            return where
    return rule.location


def _credential_checks(rule: OriginRule, kind: PatternKind) -> Iterator[Diagnostic]:
    where = attribute_at(rule, "allowCredentials")
    if kind is PatternKind.ANY:
        yield make_at("W201", "allowCredentials=\"true\" on origin=\"*\": alone, it sends "
                      "Access-Control-Allow-Origin: * which browsers refuse with credentials; "
                      "beside other rules, it lets every site make credentialed requests", where)
    elif kind is PatternKind.SCHEME_WILDCARD:
        yield make_at("W202", f"allowCredentials=\"true\" on origin=\"{rule.origin}\" lets every "
                      "site of that scheme make credentialed requests and read the answers", where)
    elif kind is not PatternKind.NEVER and rule.origin.lower().startswith("http://"):
        authority = rule.origin[len("http://"):]
        # Loopback origins are secure contexts: nothing crosses a network (W203's risk).
        if not _LOOPBACK.fullmatch(authority):
            yield make_at("W203", f"allowCredentials=\"true\" on the http: origin "
                          f"\"{rule.origin}\": anyone on the network path can inject script into "
                          "that page and use the user's credentials", where)


# -- what applies at a path -------------------------------------------------------------------

def _unused_rules(levels: Sequence[Level], scopes: Mapping[tuple[str, ...], EffectiveSection]
                  ) -> Iterator[Diagnostic]:
    """W218: a ``<cors>`` whose rules apply in no scope where CORS is enabled (contract B1).

    A level's rules apply in a scope when the scope's rules are the level's own table or
    tuple (the common case: told by identity, no rule built), or hold one of them; rules
    compare by value (file, place, origin, settings), never by identity: a
    :class:`RuleTable` builds its rules when asked."""
    enabled = [section.rules for section in scopes.values() if section.enabled]
    whole = set(map(id, enabled))
    applied: set[OriginRule] | None = None
    for level in levels:
        cors = level.cors
        if cors is None:
            continue
        rules = _rules_of(cors.entries)
        if not rules or id(rules) in whole:
            continue
        if applied is None:  # asked once, for the first level not told by identity
            applied = {rule for found in enabled for rule in found}
        if applied.isdisjoint(rules):
            yield make_at("W218", "Origin rules are configured but CORS is not enabled wherever "
                          "they apply (enabled is false or unset), so they do nothing",
                          cors.location)


def _section_checks(section: EffectiveSection) -> Iterable[Diagnostic]:
    where = section.cors_locations[-1] if section.cors_locations else None
    scope = "/" + "/".join(section.path)
    if section.cors_configured and section.enabled and not section.rules:
        yield make_at("W217", f"CORS is enabled for {scope} but has no origin rules: every CORS "
                      "request is unlisted", where)
    if section.cors_configured and not section.cors_module:
        yield make_at("W221", "The CorsModule is removed here while <cors> is configured: the "
                      "section has no effect (contract D1)",
                      section.module_removed_location or section.modules_location)
    if not section.active:
        return
    for (name, _), header_at in zip(section.custom_headers,
                                    section.custom_header_locations, strict=True):
        if name.lower().startswith("access-control-"):
            # Contract C1: customHeaders are added to every response, CORS's own included.
            yield make_at("W220", f"customHeaders adds '{name}' where <cors> is enabled: every "
                          "response carries it twice and browsers reject it", header_at)
    if section.fail_unlisted_origins and section.rules:
        # W219/W222 talk about failUnlistedOrigins: placed where the value in effect was
        # written, maybe in an outer level this scope inherits it from.
        yield from _fail_unlisted_checks(section, section.fail_unlisted_location or where,
                                         scope)


def _fail_unlisted_checks(section: EffectiveSection, where: Location | None,
                          scope: str) -> Iterator[Diagnostic]:
    rules = section.rules
    # Read by the rules' origins and shapes: a table builds only the rules asked for.
    origins = rules.origins if isinstance(rules, RuleTable) else tuple(map(_ORIGIN, rules))
    star = rules[origins.index("*")] if "*" in origins else None
    shaped = rules.first_of_each_shape() if isinstance(rules, RuleTable) else rules
    if star is not None and star.allowed and all(rule.allowed for rule in shaped):
        # Contract B7: with an allowed * every origin is listed and allowed: nothing is refused.
        yield make_at("W219", f"failUnlistedOrigins is true for {scope} but the allowed "
                      "origin=\"*\" rule lists every origin, so it never refuses one", where)
        return
    # W222 (contract B13): iiscors cannot know the site's own origin, so it asks what an origin
    # matched by no exact or host-wildcard rule gets.  Unless both an https: and an http:
    # stranger are allowed (a * or scheme wildcard), the site's own POST/PUT/DELETE (browsers
    # send Origin on them) get 403 unless its origin is one of the rules.
    # Only a wildcard or a probe itself can match a probe: the other rules need no classifying.
    matcher: OriginMatcher[OriginRule] = OriginMatcher(
        (origins[index], rules[index]) for index in _wildcards_and_probes(origins))
    refused = []
    for probe in _PROBES:
        rule, _ = matcher.match(probe)
        if rule is None or not rule.allowed:
            refused.append(probe.partition(":")[0] + ":")
    if refused:
        schemes = " and ".join(refused)
        yield make_at("W222", f"failUnlistedOrigins is true for {scope}: browsers send Origin "
                      "on a page's own POST/PUT/DELETE, so a site whose own origin is not listed "
                      f"gets 403 on its own forms (here every unlisted {schemes} origin is "
                      "refused)", where)


def _wildcards_and_probes(origins: Sequence[str]) -> Iterator[int]:
    """The positions of the origins holding a ``*`` or equal to a probe, found by C-level
    iterators a step of rows at a time (no single long call over 100,000 origins)."""
    for start, stop in table_steps(len(origins)):
        step = origins[start:stop]
        yield from compress(range(start, stop), map(
            operator.or_, map(operator.contains, step, repeat("*")),
            map(_PROBES.__contains__, step)))
