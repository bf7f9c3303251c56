"""What a web.config says about locking (contract E2), read from one element at a time.

The IIS configuration system lets a level lock what lower levels may change ([CFG-DELEG]):

- a ``<location>`` locks or unlocks the sections it holds with ``overrideMode="Deny|Allow|
  Inherit"`` or the older ``allowOverride="false|true"`` (``true`` means Inherit, as .NET's
  ``SectionInformation`` documents); both on one ``<location>`` is refused, as .NET refuses it;
- any element of a section may lock single attributes (``lockAttributes``,
  ``lockAllAttributesExcept``) or child elements (``lockElements``, ``lockAllElementsExcept``,
  the collection directives ``add``, ``remove`` and ``clear`` included), each a comma-separated
  list of names where ``*`` means all;
- a collection item may lock itself (``lockItem="true"``).

This module only reads those attributes into data (:class:`Override`, :class:`Locks`);
:mod:`iiscors.config.locks` judges lower levels against them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from iiscors.policy.model import Location

#: The granular lock attributes, valid on every element of a section (contract E2).
LOCK_ATTRIBUTES = ("lockAttributes", "lockAllAttributesExcept", "lockElements",
                   "lockAllElementsExcept", "lockItem")
#: The attributes a ``<location>`` may carry (E201 for any other).
LOCATION_ATTRIBUTES = ("path", "overrideMode", "allowOverride", "inheritInChildApplications")
#: overrideMode's values, folded (IIS compares enumeration values case-insensitively).
OVERRIDE_MODES = ("allow", "deny", "inherit")
ALL = "*"


@dataclass(frozen=True, slots=True)
class Override:
    """A ``<location>``'s overrideMode (or allowOverride) for the sections it holds."""

    #: "allow", "deny" or "inherit"
    mode: str
    #: the attribute as written, for messages (``overrideMode="Deny"``)
    written: str
    location: Location


@dataclass(frozen=True, slots=True)
class NameList:
    """One lock attribute's value: the names it lists (``*`` is every name)."""

    names: frozenset[str]
    location: Location
    #: ``lockAll...Except``: the names listed are the ones left unlocked
    inverted: bool = False

    def locks(self, name: str) -> bool:
        listed = ALL in self.names or name in self.names
        return listed != self.inverted


@dataclass(frozen=True, slots=True)
class Locks:
    """The granular locks written on one element (None where an attribute is absent)."""

    attributes: tuple[NameList, ...] = ()
    elements: tuple[NameList, ...] = ()

    def attribute(self, name: str) -> NameList | None:
        """The lock that forbids a lower level to set attribute ``name``, if any."""
        return next((lock for lock in self.attributes if lock.locks(name)), None)

    def element(self, name: str) -> NameList | None:
        """The lock that forbids a lower level to use child element ``name``, if any."""
        return next((lock for lock in self.elements if lock.locks(name)), None)

    def __bool__(self) -> bool:
        return bool(self.attributes or self.elements)


def split_names(value: str) -> frozenset[str]:
    """A lock attribute's comma-separated list (spaces around names ignored)."""
    return frozenset(name.strip() for name in value.split(",") if name.strip())


def read_locks(element: etree._Element, at: Callable[[str], Location]) -> Locks:
    """The granular locks written on ``element`` (``at`` locates one of its attributes)."""
    def listed(name: str, *, inverted: bool) -> tuple[NameList, ...]:
        value = element.get(name)
        if value is None:
            return ()
        return (NameList(split_names(value), at(name), inverted),)

    return Locks(
        listed("lockAttributes", inverted=False)
        + listed("lockAllAttributesExcept", inverted=True),
        listed("lockElements", inverted=False)
        + listed("lockAllElementsExcept", inverted=True))


def override_of(mode: str | None, allow_override: bool | None, location: Location,
                written: str) -> Override | None:
    """The :class:`Override` of a ``<location>`` (None when it says nothing or Inherit):
    ``overrideMode`` as written, else ``allowOverride="false"`` (Deny)."""
    if mode is not None:
        folded = mode.strip().lower()
        return None if folded == "inherit" else Override(folded, written, location)
    if allow_override is False:
        return Override("deny", written, location)
    return None  # allowOverride="true" is Inherit


__all__ = ["ALL", "LOCATION_ATTRIBUTES", "LOCK_ATTRIBUTES", "OVERRIDE_MODES", "Locks",
           "NameList", "Override", "override_of", "read_locks", "split_names"]
