"""What one web.config says about serving static files, and how levels merge (issue 12, item 2).

:mod:`iiscors.config` reads the CORS sections; the static site needs two more, which this module
reads from the same parsed document (:func:`iiscors.config.loader.parse_bytes`, the hardened
parser: no DTD, no entities, no network):

- ``system.webServer/staticContent``: ``<mimeMap fileExtension mimeType/>``, ``<remove
  fileExtension/>`` and ``<clear/>`` change the MIME map inherited from IIS's defaults
  (:mod:`iiscors.serving.mimemap`).  A file whose type is not in the effective map is 404 (IIS's
  404.3).  ``fileExtension="."`` maps files without an extension and ``".*"`` every file not
  otherwise mapped, as on IIS;
- ``system.webServer/security/requestFiltering/@allowDoubleEscaping``.

Levels are scoped as contract A9 scopes CORS sections: the file's directory, then its
``<location path>`` elements, least specific first, then deeper files.  What IIS would refuse
with a 500.19 (a mimeMap without its attributes, a type that could break the response header,
adding an extension the inherited map already has, a section twice) is a *problem*: the static
site answers 500 for every request in that scope, as IIS does.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from lxml import etree

from iiscors.config.loader import XmlDocument
from iiscors.config.rules import parse_bool, split_location_path
from iiscors.policy.model import format_location
from iiscors.serving.filtering import extension_of
from iiscors.serving.mimemap import DEFAULT_MIME_TYPES

#: ``fileExtension`` keys IIS gives a meaning beyond one extension.
NO_EXTENSION, ANY_EXTENSION = ".", ".*"

#: A mimeType that is safe in a response header: visible ASCII and spaces, a "/" somewhere.
_MIME_TYPE = re.compile(r"[\x21-\x7e][\x20-\x7e]*/[\x20-\x7e]*")


@dataclass(frozen=True, slots=True)
class MimeEntry:
    """One element of a ``<staticContent>`` collection, in document order."""

    op: str  # "add", "remove" or "clear"
    extension: str  # case-folded; "" for clear
    mime_type: str  # "" unless op is "add"
    where: str  # "file:line", for the log


@dataclass(frozen=True, slots=True)
class ServingLevel:
    """What one ``system.webServer`` element (of a file, or of one of its locations) says."""

    path: tuple[str, ...]  # case-folded segments below the site root (contract A9)
    depth: int  # how deep its file is
    order: int  # position in its file
    mime_entries: tuple[MimeEntry, ...] = ()
    allow_double_escaping: bool | None = None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Settings:
    """The effective static-content settings for one request path."""

    mime_types: Mapping[str, str]
    allow_double_escaping: bool
    problems: tuple[str, ...]

    def mime_type(self, name: str) -> str | None:
        """The Content-Type for a file name, or None (IIS's 404.3)."""
        extension = extension_of(name) or NO_EXTENSION
        found = self.mime_types.get(extension)
        return found if found is not None else self.mime_types.get(ANY_EXTENSION)


DEFAULT_SETTINGS = Settings(DEFAULT_MIME_TYPES, False, ())


def read_levels(document: XmlDocument, prefix: tuple[str, ...], depth: int
                ) -> list[ServingLevel]:
    """The levels of one parsed web.config whose directory is ``prefix`` (case-folded)."""
    levels: list[ServingLevel] = []
    for child in document.root:
        if child.tag == "system.webServer":
            holders, path = [child], prefix
        elif child.tag == "location":
            segments = split_location_path(child.get("path", ""))
            if segments is None:
                continue  # iiscors.config reports it (E303); IIS refuses the whole file
            holders, path = list(child.iterchildren("system.webServer")), prefix + segments
        else:
            continue
        for holder in holders:
            level = _level(document, holder, path, depth, len(levels))
            if level is not None:
                levels.append(level)
    return levels


def _level(document: XmlDocument, holder: etree._Element, path: tuple[str, ...], depth: int,
           order: int) -> ServingLevel | None:
    problems: list[str] = []
    sections = holder.findall("staticContent")
    filters = holder.findall("security/requestFiltering")
    for extra in sections[1:] + filters[1:]:
        problems.append(_where(document, extra) + ": the section is defined twice")
    entries = _mime_entries(document, sections[0], problems) if sections else ()
    allow: bool | None = None
    if filters and filters[0].get("allowDoubleEscaping") is not None:
        allow = parse_bool(filters[0].get("allowDoubleEscaping", ""))
        if allow is None:
            problems.append(_where(document, filters[0]) + ": allowDoubleEscaping is not "
                            "true or false")
    if not entries and allow is None and not problems:
        return None
    return ServingLevel(path, depth, order, entries, allow, tuple(problems))


def _mime_entries(document: XmlDocument, section: etree._Element,
                  problems: list[str]) -> tuple[MimeEntry, ...]:
    entries: list[MimeEntry] = []
    for element in section:
        if not isinstance(element.tag, str) or element.tag not in ("mimeMap", "remove", "clear"):
            continue  # comments, and other children such as <clientCache>
        where = _where(document, element)
        if element.tag == "clear":
            entries.append(MimeEntry("clear", "", "", where))
            continue
        extension = element.get("fileExtension", "")
        if not extension:
            problems.append(f"{where}: <{element.tag}> without a fileExtension")
            continue
        if element.tag == "remove":
            entries.append(MimeEntry("remove", extension.casefold(), "", where))
            continue
        mime_type = element.get("mimeType", "")
        if not _MIME_TYPE.fullmatch(mime_type):
            problems.append(f"{where}: the mimeType of {extension!r} is not a media type "
                            f"({mime_type!r})")
            continue
        entries.append(MimeEntry("add", extension.casefold(), mime_type, where))
    return tuple(entries)


def _where(document: XmlDocument, element: etree._Element) -> str:
    line, _ = document.locator.element(element)
    return format_location(document.name, line or None)


def applicable(levels: Iterable[ServingLevel], path: tuple[str, ...]) -> tuple[ServingLevel, ...]:
    """The levels that apply at ``path`` (case-folded), in IIS's merge order (contract A9:
    shallower path first, then the shallower file, then document order)."""
    found = [level for level in levels if path[:len(level.path)] == level.path]
    found.sort(key=lambda level: (len(level.path), level.depth, level.order))
    return tuple(found)


@functools.lru_cache(maxsize=512)
def merge(levels: tuple[ServingLevel, ...]) -> Settings:
    """Fold levels (in merge order) onto IIS's defaults."""
    if not levels:
        return DEFAULT_SETTINGS
    types = dict(DEFAULT_MIME_TYPES)
    allow = DEFAULT_SETTINGS.allow_double_escaping
    problems: list[str] = []
    for level in levels:
        problems.extend(level.problems)
        _apply(types, level.mime_entries, problems)
        if level.allow_double_escaping is not None:
            allow = level.allow_double_escaping
    # shared by every caller of the cache: read-only
    return Settings(MappingProxyType(types), allow, tuple(problems))


def _apply(types: dict[str, str], entries: Sequence[MimeEntry], problems: list[str]) -> None:
    for entry in entries:
        if entry.op == "clear":
            types.clear()
        elif entry.op == "remove":
            types.pop(entry.extension, None)
        elif entry.extension in types:
            problems.append(f"{entry.where}: Cannot add duplicate collection entry of type "
                            f"'mimeMap' with unique key attribute 'fileExtension' set to "
                            f"'{entry.extension}'")
        else:
            types[entry.extension] = entry.mime_type
