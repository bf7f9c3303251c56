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

from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar, cast

from iiscors.config.diagnostics import Diagnostic, make_at
from iiscors.config.rewrite import effective_recipe
from iiscors.config.rules import Entry, Level, duplicate_message
from iiscors.policy.model import EffectiveSection, Location, OriginRule

T = TypeVar("T")

#: The global module name the IIS CORS installer registers (reference §1.1).
CORS_MODULE = "corsmodule"


def apply_entries(inherited: Sequence[tuple[str, T, Location]], entries: Iterable[Entry[T]],
                  key: str, diagnostics: list[Diagnostic], *,
                  warn_missing: bool = True) -> list[tuple[str, T, Location]]:
    """Apply one level's add/remove/clear to an inherited collection (contract A6).

    Items are ``(key as written, value, location)``; keys compare case-insensitively.
    """
    items = {k.casefold(): (k, v, where) for k, v, where in inherited}
    for entry in entries:
        folded = entry.key.casefold()
        if entry.op == "clear":
            items.clear()
        elif entry.op == "remove":
            if items.pop(folded, None) is None and warn_missing:
                diagnostics.append(make_at("W103", f"<remove {key}=\"{entry.key}\"/>: no such "
                                           "entry here", entry.location))
        elif folded in items:
            diagnostics.append(make_at("E302", duplicate_message(key, entry.key), entry.location))
        else:
            # An add always carries its value (None only for <modules>, whose adds have none).
            items[folded] = (entry.key, cast(T, entry.value), entry.location)
    return list(items.values())


def merge(path: tuple[str, ...], levels: Sequence[Level],
          diagnostics: list[Diagnostic]) -> EffectiveSection:
    """Fold ``levels`` (already in IIS order, outermost first) into one effective section."""
    enabled = fail_unlisted = False
    rules: list[tuple[str, OriginRule, Location]] = []
    headers: list[tuple[str, tuple[str, str], Location]] = []
    modules: list[tuple[str, None, Location]] = []
    cors_module = True
    modules_at: Location | None = None
    cors_at: list[Location] = []
    for level in levels:
        if level.cors is not None:
            cors = level.cors
            cors_at.append(cors.location)
            if cors.enabled is not None:
                enabled = cors.enabled
            if cors.fail_unlisted_origins is not None:
                fail_unlisted = cors.fail_unlisted_origins
            rules = apply_entries(rules, cors.entries, "origin", diagnostics)
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
            for entry in level.modules.entries:
                # Contract D1: CorsModule is registered globally; only its presence matters.
                if entry.op == "clear" or (entry.op == "remove" and
                                           entry.key.casefold() == CORS_MODULE):
                    cors_module = False
                elif entry.op == "add" and entry.key.casefold() == CORS_MODULE:
                    cors_module = True
    return EffectiveSection(
        path=path,
        enabled=enabled,
        fail_unlisted_origins=fail_unlisted,
        rules=tuple(rule for _, rule, _ in rules),
        custom_headers=tuple(pair for _, pair, _ in headers),
        cors_module=cors_module,
        cors_configured=bool(cors_at),
        cors_locations=tuple(cors_at),
        custom_header_locations=tuple(where for _, _, where in headers),
        modules_location=modules_at,
        options_recipe=effective_recipe(level.rewrite for level in levels),  # contract C2
    )


def covers(prefix: tuple[str, ...], path: tuple[str, ...]) -> bool:
    """Contract A9: whole-segment prefix (segments are already case-folded)."""
    return path[:len(prefix)] == prefix


def levels_for(path: tuple[str, ...], levels: Sequence[Level]) -> list[Level]:
    """The levels that apply at ``path``, in IIS merge order: shallower path first, then the
    shallower file, then document order."""
    applicable = [level for level in levels if covers(level.path, path)]
    applicable.sort(key=lambda level: (len(level.path), level.depth, level.order))
    return applicable


def build_scopes(levels: Sequence[Level]) -> tuple[Mapping[tuple[str, ...], EffectiveSection],
                                                   list[Diagnostic]]:
    """Effective sections for the root and for every path a level names."""
    diagnostics: list[Diagnostic] = []
    paths = {(): None} | {level.path: None for level in levels}
    scopes = {path: merge(path, levels_for(path, levels), diagnostics) for path in paths}
    return scopes, _unique(diagnostics)


def _unique(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    # A problem in an outer level shows again in every scope that inherits it: report it once.
    return list(dict.fromkeys(diagnostics))
