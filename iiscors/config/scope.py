"""Scoping: the effective sections for each configured path (contract A6, A9, C1, D1).

IIS builds the configuration of a request path level by level: the site's web.config, its
``<location path>`` elements least specific first, then each sub-directory's web.config down to
the request's directory.  Attributes set lower override; a lower ``<add>`` is appended after the
inherited entries; ``<clear/>`` drops everything inherited; ``<remove>`` drops one entry.  A
duplicate key in the effective collection is an error, wherever the two entries were written.

:func:`build_scopes` computes the effective sections once, for every path some level names, so
that a request only has to find the deepest configured path above it (:mod:`iiscors.policy.core`).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from itertools import repeat
from typing import TypeVar, cast

from iiscors.config.diagnostics import Diagnostic, make_at, related_at
from iiscors.config.rewrite import effective_recipe
from iiscors.config.rules import FIRST_ADDED, Broken, Directive, Entry, Level, duplicate_message
from iiscors.policy.model import EffectiveSection, Location, OriginRule, RuleTable, table_steps

T = TypeVar("T")

#: The global module name the IIS CORS installer registers (reference §1.1).
CORS_MODULE = "corsmodule"


#: A collection as levels build it: each item by its case-folded key, the directive that
#: added it (an :class:`Entry`, or an ``<add origin>``'s :class:`OriginRule` itself)
Collection = dict[str, Directive[T]]


def apply_entries(inherited: Collection[T], entries: Sequence[Directive[T]], key: str,
                  diagnostics: list[Diagnostic], *, warn_missing: bool = True) -> Collection[T]:
    """Apply one level's add/remove/clear to an inherited collection (contract A6); keys
    compare case-insensitively."""
    if not inherited:
        added = _only_rules(entries)
        if added is not None:
            return added
    items = dict(inherited)
    for entry in entries:
        folded = entry.key.casefold()
        if entry.op == "clear":
            items.clear()
        elif entry.op == "remove":
            if items.pop(folded, None) is None and warn_missing:
                diagnostics.append(make_at("W103", f"<remove {key}=\"{entry.key}\"/>: no such "
                                           "entry here", entry.location))
        elif folded in items:
            # Contract E1: located at the lower entry, naming the first one (maybe another
            # file's) as related information.
            diagnostics.append(make_at("E302", duplicate_message(key, entry.key), entry.location,
                                       (related_at(FIRST_ADDED, items[folded].location),)))
        else:
            items[folded] = entry
    return items


def _only_rules(entries: Sequence[Directive[T]]) -> Collection[T] | None:
    """The collection a level's ``<add origin>`` rules make on their own, when they are nothing
    else and no two share an origin (the common case, told by one dict: issue 17); else None."""
    if not all(map(isinstance, entries, repeat(OriginRule))):
        return None
    rules = cast(Sequence[OriginRule], entries)
    found = dict(zip(map(str.casefold, map(_ORIGIN, rules)), rules, strict=True))
    return cast("Collection[T]", found) if len(found) == len(entries) else None


_ORIGIN = operator.attrgetter("origin")


def merge(path: tuple[str, ...], levels: Sequence[Level], diagnostics: list[Diagnostic],
          broken: Broken | None = None) -> EffectiveSection:
    """Fold ``levels`` (already in IIS order, outermost first) into one effective section.

    An error found while merging a level (a duplicate key, E302) is also noted in ``broken``
    under that level's path: its scope is unusable (contract E6).
    """
    enabled = fail_unlisted = False
    rules: Collection[OriginRule] | RuleTable = {}
    headers: Collection[tuple[str, str]] = {}
    modules: Collection[None] = {}
    cors_module = True
    modules_at: Location | None = None
    removed_at: Location | None = None
    fail_at: Location | None = None
    cors_at: list[Location] = []
    for level in levels:
        found = len(diagnostics)
        if level.cors is not None:
            cors = level.cors
            cors_at.append(cors.location)
            if cors.enabled is not None:
                enabled = cors.enabled
            if cors.fail_unlisted_origins is not None:
                fail_unlisted = cors.fail_unlisted_origins
                fail_at = cors.fail_unlisted_at
            rules = _apply_rules(rules, cors.entries, diagnostics)
        if level.custom_headers is not None:
            # Headers like X-Powered-By are inherited from applicationHost.config, which
            # iiscors never sees: removing one is normal, not a mistake.
            headers = apply_entries(headers, level.custom_headers.entries, "name", diagnostics,
                                    warn_missing=False)
        if level.modules is not None:
            modules_at = level.modules.location
            # The collection rules of A6 (duplicates); modules inherited from
            # applicationHost.config are invisible here, so a <remove> of one is normal.
            modules = apply_entries(modules, level.modules.entries, "name", diagnostics,
                                    warn_missing=False)
            cors_module, removed_at = cors_module_state(level.modules.entries, cors_module,
                                                        removed_at)
        if broken is not None:
            for diagnostic in diagnostics[found:]:
                if diagnostic.is_error:
                    broken.setdefault(level.path, []).append(diagnostic)
    return EffectiveSection(
        path=path,
        enabled=enabled,
        fail_unlisted_origins=fail_unlisted,
        rules=_values(rules, levels),
        custom_headers=tuple(cast(tuple[str, str], entry.value) for entry in headers.values()),
        cors_module=cors_module,
        cors_configured=bool(cors_at),
        cors_locations=tuple(cors_at),
        custom_header_locations=tuple(entry.location for entry in headers.values()),
        modules_location=modules_at,
        fail_unlisted_location=fail_at,
        module_removed_location=None if cors_module else removed_at,
        options_recipe=effective_recipe(level.rewrite for level in levels),  # contract C2
    )


def _apply_rules(inherited: Collection[OriginRule] | RuleTable,
                 entries: Sequence[Directive[OriginRule]],
                 diagnostics: list[Diagnostic]) -> Collection[OriginRule] | RuleTable:
    """:func:`apply_entries` for a level's origin rules, which keeps a level's
    :class:`RuleTable` whole when it is the whole collection: nothing inherited, no two
    origins alike (the common case, issue 17: no rule is built).  Else the rules are
    built, one by one, as the collection's entries."""
    if isinstance(entries, RuleTable) and not inherited and entries.unique_origins():
        return entries
    if isinstance(inherited, RuleTable):
        inherited = _collection(inherited)
    return apply_entries(inherited, entries, "origin", diagnostics)


def _collection(table: RuleTable) -> Collection[OriginRule]:
    """A table's rules as a collection, by case-folded origin (they are unique)."""
    found: Collection[OriginRule] = {}
    for start, stop in table_steps(len(table)):
        found.update(zip(map(str.casefold, table.origins[start:stop]),
                         table.rows(start, stop), strict=True))
    return found


def _values(rules: Collection[OriginRule] | RuleTable,
            levels: Sequence[Level]) -> Sequence[OriginRule]:
    """The rules in effect: a level's own table, or the very tuple a level holds, when they
    are all of its entries (one reference per origin fewer: issue 17); otherwise a new table
    where some level's rules were a table (they were built one by one to be merged)."""
    if isinstance(rules, RuleTable):
        return rules
    columnar = False
    for level in levels:
        entries = level.cors.entries if level.cors is not None else ()
        if isinstance(entries, RuleTable):
            columnar = True
        elif len(entries) == len(rules) and all(map(operator.is_, entries, rules.values())) \
                and all(map(isinstance, entries, repeat(OriginRule))):
            return cast(tuple[OriginRule, ...], entries)
    values = (rule if type(rule) is OriginRule else cast(OriginRule, rule.value)
              for rule in rules.values())
    return RuleTable.of(values) if columnar else tuple(values)


def cors_module_state(entries: Iterable[Entry[None]], present: bool,
                      removed_at: Location | None) -> tuple[bool, Location | None]:
    """Contract D1: whether CorsModule is still there after one level's ``<modules>``
    directives (it is registered globally; only its presence matters), and where it was last
    removed (a ``<remove>`` or a ``<clear/>``)."""
    for entry in entries:
        if entry.op == "clear" or (entry.op == "remove" and entry.key.casefold() == CORS_MODULE):
            present, removed_at = False, entry.location
        elif entry.op == "add" and entry.key.casefold() == CORS_MODULE:
            present = True
    return present, removed_at


def covers(prefix: tuple[str, ...], path: tuple[str, ...]) -> bool:
    """Contract A9: whole-segment prefix (segments are already case-folded)."""
    return path[:len(prefix)] == prefix


def levels_for(path: tuple[str, ...], levels: Sequence[Level]) -> list[Level]:
    """The levels that apply at ``path``, in IIS merge order: shallower path first, then the
    shallower file, then document order.  A ``<location path>`` counts as configuration at its
    path, as a web.config there would (so a parent's ``<location path="api">`` applies before
    ``api/web.config``, and a parent's ``<location path="api/x">`` after it)."""
    applicable = [level for level in levels if covers(level.path, path)]
    applicable.sort(key=lambda level: (len(level.path), level.depth, level.order))
    return applicable


def application_of(path: tuple[str, ...], applications: Sequence[tuple[str, ...]]
                   ) -> tuple[str, ...]:
    """The application ``path`` is in: the deepest application path covering it (the site's
    root application, ``()``, when none does)."""
    return max((app for app in applications if covers(app, path)), key=len, default=())


def applied(path: tuple[str, ...], levels: Sequence[Level],
            applications: Sequence[tuple[str, ...]] = ()) -> list[Level]:
    """:func:`levels_for`, less the sections a ``<location inheritInChildApplications="false">``
    holds where ``path`` is in a child application of that location's (contract E3)."""
    found = levels_for(path, levels)
    if not applications:
        return found  # without application boundaries the attribute changes nothing (E3)
    here = application_of(path, applications)
    result = []
    for level in found:
        dropped = [name for name, holder in level.holders
                   if not holder.inherit_in_child_applications
                   and application_of(level.path, applications) != here]
        if dropped:
            level = replace(level, cors=None if "cors" in dropped else level.cors,
                            custom_headers=(None if "httpProtocol" in dropped
                                            else level.custom_headers),
                            modules=None if "modules" in dropped else level.modules)
        result.append(level)
    return result


def build_scopes(levels: Sequence[Level], broken: Broken | None = None,
                 applications: Sequence[tuple[str, ...]] = ()) -> tuple[
        dict[tuple[str, ...], EffectiveSection], list[Diagnostic]]:
    """Effective sections for the root, for every path a level names and for every
    application path (contract E3: an application boundary may change what applies).

    Errors found while merging are returned, and noted in ``broken`` by the path whose scope
    they make unusable (contract E6); a path already in ``broken`` gets a scope of its own.
    """
    diagnostics: list[Diagnostic] = []
    noted: Broken = {}
    paths = ({(): None} | {level.path: None for level in levels} | dict.fromkeys(broken or {})
             | dict.fromkeys(applications))
    scopes = {path: merge(path, applied(path, levels, applications), diagnostics, noted)
              for path in paths}
    if broken is not None:
        for path, found in noted.items():
            broken.setdefault(path, []).extend(_unique(found))
    return scopes, _unique(diagnostics)


def mark_unusable(scopes: Mapping[tuple[str, ...], EffectiveSection],
                  broken: Iterable[tuple[str, ...]]) -> dict[tuple[str, ...], EffectiveSection]:
    """``scopes`` with every scope at or below a broken path marked unusable (contract E6:
    IIS reads a URL's configuration through every level above it, so an unusable level fails
    every request below it, and only those)."""
    prefixes = list(broken)
    marked = dict(scopes)
    for path, section in scopes.items():
        if any(covers(prefix, path) for prefix in prefixes):
            marked[path] = replace(section, unusable=True)
    return marked


def _unique(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    # A problem in an outer level shows again in every scope that inherits it: report it once.
    return list(dict.fromkeys(diagnostics))


def covering(scopes: Mapping[tuple[str, ...], EffectiveSection],
             path: tuple[str, ...]) -> EffectiveSection:
    """The section that applies at ``path``: the deepest configured path covering it (the
    root's when none does)."""
    for length in range(len(path), 0, -1):
        section = scopes.get(path[:length])
        if section is not None:
            return section
    return scopes[()]


def keep_last_good(scopes: Mapping[tuple[str, ...], EffectiveSection],
                   broken: Iterable[tuple[str, ...]],
                   last: Mapping[tuple[str, ...], EffectiveSection]) -> tuple[
        dict[tuple[str, ...], EffectiveSection], list[tuple[str, ...]]]:
    """Contract A8 per scope (E6): ``scopes`` of a reload, where every broken path whose scope
    was served until now keeps the sections ``last`` served there (its own and those below it).

    A broken path that ``last`` already answered 500 for stays unusable.  Returns the scopes and
    the paths that kept their last good sections.
    """
    merged = dict(scopes)
    kept: list[tuple[str, ...]] = []
    for path in sorted(broken, key=len):
        if any(covers(outer, path) for outer in kept):
            continue  # inside a scope already kept whole
        served = covering(last, path)
        if served.unusable:
            continue  # unusable before the edit too: it stays so (500)
        for below in [p for p in merged if covers(path, p)]:
            del merged[below]
        merged.update({p: section for p, section in last.items() if covers(path, p)})
        merged.setdefault(path, replace(served, path=path))
        kept.append(path)
    return merged, kept
