"""Locks judged across files (contract E2): what a lower file may not do.

A lock set in one file binds every lower file whose path it covers ([CFG-DELEG]: "for paths
below the current configuration level"); levels of the same file are one configuration level and
never violate each other's locks.  Three kinds, read by :mod:`iiscors.config.lockspec`:

- a section locked by its ``<location overrideMode="Deny">`` (or ``allowOverride="false"``):
  a lower file defining that section is E304, IIS's "This configuration section cannot be used
  at this path" (500.19, 0x80070021).  The nearest higher level that holds the section and says
  Allow or Deny decides; Inherit says nothing; without any, sections count as delegated (no
  applicationHost.config: ``overrideModeDefault="Allow"``);
- ``lockAttributes``/``lockAllAttributesExcept`` and ``lockElements``/``lockAllElementsExcept``
  on a section element: a lower file setting a locked attribute, or using a locked child element
  (``add``, ``remove``, ``clear`` and ``customHeaders`` included), is E305, "Lock violation";
- ``lockItem="true"`` on an ``<add>``: a lower ``<remove>`` of that key, or a ``<clear/>`` of a
  collection holding it, is E305.

Each violation is located in the lower file, names the lock's place as related information
(contract E1), and makes the lower level's scope unusable (contract E6).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from iiscors.config.apphost import SectionDefinition
from iiscors.config.diagnostics import Diagnostic, make_at, related_at
from iiscors.config.lockspec import Override
from iiscors.config.rules import Applications, Directive, Level, SectionUse
from iiscors.config.scope import levels_for

#: How a lock's related place is introduced.
LOCKED_AT = "locked at"
SECTION_LOCKED = ("This configuration section cannot be used at this path. This happens when "
                  "the section is locked at a parent level")
#: The section each element belongs to, for overrideMode (customHeaders is httpProtocol's).
_SECTION_OF = {"cors": "cors", "httpProtocol": "httpProtocol", "customHeaders": "httpProtocol",
               "modules": "modules"}
_KEYS = {"cors": "origin", "customHeaders": "name", "modules": "name"}

Violation = tuple[tuple[str, ...], Diagnostic]
#: An applicationHost.config's registrations of the sections iiscors interprets (contract E4).
Registry = Mapping[str, SectionDefinition]


def lock_violations(levels: Sequence[Level], registry: Registry | None = None,
                    applications: Applications = ()) -> list[Violation]:
    """Every lock violation of ``levels``, each with the path whose scope it breaks.

    ``registry``: an applicationHost.config's section registrations (contract E4): their
    ``overrideModeDefault`` locks the web.config files (the levels of depth 0 and below) unless
    a ``<location overrideMode="Allow">`` above opens them, their ``allowDefinition`` says
    where a section may be defined, and a section they do not register cannot be read.
    """
    found: list[Violation] = []
    if registry is not None:
        found.extend(_registrations(levels, registry, applications))
    depths = sorted({level.depth for level in levels})
    for lower in levels:
        above = [u for u in levels if u.depth < lower.depth] if lower.depth > depths[0] else []
        uppers = levels_for(lower.path, above) if above else []
        if lower.uses and (uppers or (registry is not None and lower.depth >= 0)):
            found.extend((lower.path, d) for d in _violations(lower, uppers, registry))
    return found


def _violations(lower: Level, uppers: Sequence[Level],
                registry: Registry | None) -> Iterator[Diagnostic]:
    denied: set[str] = set()
    for use in lower.uses:
        section = _SECTION_OF[use.name]
        if section in denied:
            continue
        lock = _override(section, uppers, registry)
        if lock is not None and use.name == section:
            denied.add(section)
            yield make_at("E304", f"{SECTION_LOCKED} (system.webServer/{section} is locked "
                          f"with {lock.written})", use.location,
                          (related_at(LOCKED_AT, lock.location),))
            continue
        yield from _granular(use, uppers)
    for name, entries in _collections(lower):
        if _SECTION_OF[name] not in denied:
            yield from _locked_items(name, entries, uppers)


def _override(section: str, uppers: Sequence[Level],
              registry: Registry | None) -> Override | None:
    """The nearest higher level's Allow or Deny for ``section`` (the registration's
    overrideModeDefault when none says either); the Deny, or None."""
    definition = None if registry is None else registry.get(section)
    decided: Override | None = None
    if definition is not None and definition.override_default == "deny":
        decided = Override("deny", 'overrideModeDefault="Deny"', definition.location)
    for upper in uppers:  # merge order: the last one that says something decides
        holder = dict(upper.holders).get(section)
        if holder is not None and holder.override is not None:
            decided = holder.override
    return decided if decided is not None and decided.mode == "deny" else None


def _registrations(levels: Sequence[Level], registry: Registry,
                   applications: Applications) -> Iterator[Violation]:
    """Contract E4: a section must be registered, and defined only where its allowDefinition
    allows (a web.config is depth 0 and below; an application root is ``()`` or one of
    ``applications``)."""
    for level in levels:
        for use in level.uses:
            section = _SECTION_OF[use.name]
            definition = registry.get(section)
            if definition is None:
                if use.name == section:
                    yield level.path, make_at("E404", f"The configuration section '{section}' "
                                              "cannot be read because it is missing a section "
                                              "declaration", use.location)
                continue
            if use.name != section or level.depth < 0:
                continue
            allowed = definition.allow_definition
            if allowed in ("machineonly", "machinetowebroot", "apphostonly"):
                yield level.path, make_at(
                    "E403", f"The section system.webServer/{section} cannot be defined in a "
                    f"web.config: it is registered with allowDefinition=\"{allowed}\"",
                    use.location, (related_at("registered at", definition.location),))
            elif (allowed == "machinetoapplication" and level.path
                  and level.path not in applications):
                yield level.path, make_at(
                    "E403", "It is an error to use a section registered as allowDefinition="
                    "'MachineToApplication' beyond application level", use.location,
                    (related_at("registered at", definition.location),))


def _granular(use: SectionUse, uppers: Sequence[Level]) -> Iterator[Diagnostic]:
    """lockAttributes/lockElements (and their ...Except forms) of the same element above."""
    for upper in uppers:
        for locked in upper.uses:
            if locked.name != use.name or not locked.locks:
                continue
            for name, where in use.attributes:
                lock = locked.locks.attribute(name)
                if lock is not None:
                    yield make_at("E305", f"Lock violation: the attribute '{name}' of "
                                  f"<{use.name}> is locked at a parent level", where,
                                  (related_at(LOCKED_AT, lock.location),))
            for name, where in use.children:
                lock = locked.locks.element(name)
                if lock is not None:
                    yield make_at("E305", f"Lock violation: the element <{name}> in "
                                  f"<{use.name}> is locked at a parent level", where,
                                  (related_at(LOCKED_AT, lock.location),))


def _collections(level: Level) -> Iterator[tuple[str, Sequence[Directive[Any]]]]:
    if level.cors is not None:
        yield "cors", level.cors.entries
    if level.custom_headers is not None:
        yield "customHeaders", level.custom_headers.entries
    if level.modules is not None:
        yield "modules", level.modules.entries


def _locked_items(name: str, entries: Sequence[Directive[Any]],
                  uppers: Sequence[Level]) -> Iterator[Diagnostic]:
    """lockItem: a locked entry above may be neither removed nor cleared below."""
    locked = {entry.key.casefold(): entry for upper in uppers
              for collection, above in _collections(upper) if collection == name
              for entry in above if entry.locked_at is not None}
    if not locked:
        return
    for entry in entries:
        if entry.op == "clear":
            first = next(iter(locked.values()))
            yield make_at("E305", f"Lock violation: <clear/> in <{name}> would remove the "
                          f"entry {_KEYS[name]}='{first.key}', which is locked at a parent "
                          "level (lockItem)", entry.location,
                          (related_at(LOCKED_AT, first.locked_at or first.location),))
        elif entry.op == "remove" and entry.key.casefold() in locked:
            item = locked[entry.key.casefold()]
            yield make_at("E305", f"Lock violation: the entry {_KEYS[name]}='{entry.key}' is "
                          "locked at a parent level (lockItem)", entry.location,
                          (related_at(LOCKED_AT, item.locked_at or item.location),))
