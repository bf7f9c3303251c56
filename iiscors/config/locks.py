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

from collections.abc import Iterator, Sequence
from typing import Any

from iiscors.config.diagnostics import Diagnostic, make_at, related_at
from iiscors.config.lockspec import Override
from iiscors.config.rules import Entry, Level, SectionUse
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


def lock_violations(levels: Sequence[Level]) -> list[Violation]:
    """Every lock violation of ``levels``, each with the path whose scope it breaks."""
    found: list[Violation] = []
    for lower in levels:
        if lower.depth == 0 or not lower.uses:
            continue  # the site root's file has no file above it
        uppers = [u for u in levels_for(lower.path, levels) if u.depth < lower.depth]
        if not uppers:
            continue
        found.extend((lower.path, d) for d in _violations(lower, uppers))
    return found


def _violations(lower: Level, uppers: Sequence[Level]) -> Iterator[Diagnostic]:
    denied: set[str] = set()
    for use in lower.uses:
        section = _SECTION_OF[use.name]
        if section in denied:
            continue
        lock = _override(section, uppers)
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


def _override(section: str, uppers: Sequence[Level]) -> Override | None:
    """The nearest higher level's Allow or Deny for ``section``; the Deny, or None."""
    decided: Override | None = None
    for upper in uppers:  # merge order: the last one that says something decides
        holder = dict(upper.holders).get(section)
        if holder is not None and holder.override is not None:
            decided = holder.override
    return decided if decided is not None and decided.mode == "deny" else None


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


def _collections(level: Level) -> Iterator[tuple[str, Sequence[Entry[Any]]]]:
    if level.cors is not None:
        yield "cors", level.cors.entries
    if level.custom_headers is not None:
        yield "customHeaders", level.custom_headers.entries
    if level.modules is not None:
        yield "modules", level.modules.entries


def _locked_items(name: str, entries: Sequence[Entry[Any]],
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
