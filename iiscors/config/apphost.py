"""applicationHost.config: the server level of a site (contract E4), read as data.

An IIS server's ``%windir%\\System32\\inetsrv\\config\\applicationHost.config`` holds:

- ``<configSections>``, registering every section with its ``overrideModeDefault`` (Allow or
  Deny, contract E2) and ``allowDefinition`` (where it may be defined);
- ``<system.applicationHost><sites>``: each ``<site name>`` with its ``<application path>``
  elements and their ``<virtualDirectory path physicalPath>`` elements, which say which local
  directory serves which URL path (and so where the site's web.config files are);
- the server-level sections (``<system.webServer>``) and ``<location path="">``,
  ``<location path="SITE">`` and ``<location path="SITE/sub/path">`` entries.

Physical paths are Windows paths, possibly with ``%VARIABLE%`` references (``%SystemDrive%``,
``%windir%``...).  They are expanded (Windows' usual values for the well-known ones, else this
process's environment) and mapped to local directories by the user (``--map
'C:\\inetpub\\wwwroot=./wwwroot'``); a path no map covers is a located error, never a silent
skip.  Sections iiscors does not interpret are left alone once the file is well-formed.

:func:`read_apphost` returns a :class:`ServerSite`; :mod:`iiscors.config.server` turns it into
the site's files and levels.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from lxml import etree

from iiscors.config.diagnostics import Diagnostic, make_at
from iiscors.config.loader import XmlDocument
from iiscors.config.rules import Applications, fold_segment, split_location_path
from iiscors.policy.model import Location

#: An applicationHost.config is larger than a web.config: the limit its reading allows.
APPHOST_MAX_BYTES = 4 * 1024 * 1024
#: The sections iiscors interprets, by their full name in <configSections>.
SECTIONS = {"system.webServer/cors": "cors", "system.webServer/httpProtocol": "httpProtocol",
            "system.webServer/modules": "modules"}
#: Windows' usual values of the variables physical paths use (the process environment is
#: asked for any other).
WINDOWS_VARIABLES = {
    "systemdrive": "C:", "systemroot": "C:\\Windows", "windir": "C:\\Windows",
    "programfiles": "C:\\Program Files", "programfiles(x86)": "C:\\Program Files (x86)",
    "programdata": "C:\\ProgramData", "public": "C:\\Users\\Public",
}
_VARIABLE = re.compile(r"%([^%]+)%")


@dataclass(frozen=True, slots=True)
class SectionDefinition:
    """A section's registration in ``<configSections>`` (contract E2, E4)."""

    #: "allow" or "deny"
    override_default: str
    #: folded: "everywhere", "machinetoapplication", "machineonly", "machinetowebroot",
    #: "apphostonly"
    allow_definition: str
    location: Location


@dataclass(frozen=True, slots=True)
class Mount:
    """One virtual directory: the URL path it serves and the local directory behind it."""

    url: tuple[str, ...]
    physical: str
    local: str
    location: Location


@dataclass(frozen=True, slots=True)
class ServerSite:
    """What an applicationHost.config says about one site."""

    apphost: str
    name: str
    #: the sections iiscors interprets, as registered (a missing one is not registered)
    sections: Mapping[str, SectionDefinition]
    mounts: tuple[Mount, ...]
    #: the site's applications other than its root ``/``
    applications: Applications
    #: the problems that keep the site from being read (located, contract E4)
    diagnostics: tuple[Diagnostic, ...]


PathMap = tuple[str, str]


def parse_maps(values: Iterable[str]) -> tuple[PathMap, ...]:
    """``--map 'C:\\inetpub\\wwwroot=./wwwroot'`` entries: (Windows prefix, local directory).

    :raises ValueError: an entry without ``=``, with an empty side, or whose left side is not
        an absolute Windows path (a drive, a UNC share, or a ``%VARIABLE%``).
    """
    maps = []
    for value in values:
        windows, sep, local = value.partition("=")
        windows, local = windows.strip(), local.strip()
        if not sep or not windows or not local:
            raise ValueError(f"{value!r} is not a map: write WINDOWS_PATH=LOCAL_DIRECTORY, such "
                             "as 'C:\\inetpub\\wwwroot=./wwwroot'")
        expanded, unknown = expand(windows)
        if unknown or not re.match(r"^(?:[A-Za-z]:|[\\/]{2})", expanded):
            raise ValueError(f"{value!r}: the left side must be an absolute Windows path, such "
                             "as C:\\inetpub\\wwwroot")
        maps.append((_folded(expanded), local))
    return tuple(maps)


def expand(value: str, environ: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
    """``value`` with its ``%VARIABLE%`` references replaced, and the names nobody knows."""
    env = {k.casefold(): v for k, v in (os.environ if environ is None else environ).items()}
    unknown: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1).casefold()
        found = WINDOWS_VARIABLES.get(name, env.get(name))
        if found is None:
            unknown.append(match.group(1))
            return match.group(0)
        return found

    return _VARIABLE.sub(replace, value), unknown


def _folded(windows: str) -> str:
    """A Windows path as compared: backslashes, no trailing one, case-insensitive."""
    return windows.replace("/", "\\").rstrip("\\").casefold()


def mapped(physical: str, maps: Iterable[PathMap]) -> str | None:
    """The local directory of an (expanded) physical path: the longest map covering it."""
    folded = _folded(physical)
    best: PathMap | None = None
    for prefix, local in maps:
        if (folded == prefix or folded.startswith(prefix + "\\")) and (
                best is None or len(prefix) > len(best[0])):
            best = (prefix, local)
    if best is None:
        return None
    rest = [part for part in physical.replace("/", "\\").rstrip("\\")[len(best[0]):].split("\\")
            if part]
    return os.path.join(best[1], *rest)


def site_locations(site: str) -> Callable[[str], str | None]:
    """The location paths of an applicationHost.config that concern ``site`` (contract E4):
    ``""``/``"."`` (every site), ``"SITE"`` and ``"SITE/sub/path"`` (site names compared
    case-insensitively), as site-relative paths; None for any other."""
    folded = site.casefold()

    def meant(path: str) -> str | None:
        written = path.strip().replace("\\", "/").strip("/")
        if written in ("", "."):
            return ""
        name, _, rest = written.partition("/")
        return rest if name.casefold() == folded else None

    return meant


def read_apphost(document: XmlDocument, site: str, maps: Iterable[PathMap]) -> ServerSite:
    """What ``document`` (a parsed applicationHost.config) says about ``site``."""
    def at(element: etree._Element) -> Location:
        return _at(document, element)

    if document.root.tag != "configuration":
        return ServerSite(document.name, site, {}, (), (), (make_at(
            "E106", f"The root element is <{document.root.tag!s}>, not <configuration>",
            at(document.root)),))
    sections = _registry(document)
    sites = document.root.find("system.applicationHost/sites")
    if sites is None:
        return ServerSite(document.name, site, sections, (), (), (make_at(
            "E401", "This applicationHost.config has no <system.applicationHost><sites>: it "
            "defines no site", at(document.root)),))
    found = [s for s in sites.iterchildren("site") if s.get("name", "").casefold()
             == site.casefold()]
    if not found:
        names = ", ".join(f"'{s.get('name', '')}'" for s in sites.iterchildren("site"))
        return ServerSite(document.name, site, sections, (), (), (make_at(
            "E401", f"No site named '{site}' in this applicationHost.config (sites found: "
            f"{names or 'none'})", at(sites)),))
    mounts, applications, problems = _mounts(document, found[0], tuple(maps))
    return ServerSite(document.name, found[0].get("name", site), sections, mounts,
                      applications, tuple(problems))


def _at(document: XmlDocument, element: etree._Element,
        attribute: str | None = None) -> Location:
    line, column = (document.locator.element(element) if attribute is None
                    else document.locator.attribute(element, attribute))
    return Location(document.name, line, column)


def _registry(document: XmlDocument) -> dict[str, SectionDefinition]:
    """The sections iiscors interprets, as ``<configSections>`` registers them."""
    found: dict[str, SectionDefinition] = {}
    sections = document.root.find("configSections")
    if sections is None:
        return found

    def walk(group: etree._Element, prefix: str) -> None:
        for child in group:
            name = child.get("name", "")
            if child.tag == "sectionGroup":
                walk(child, f"{prefix}{name}/")
            elif child.tag == "section" and f"{prefix}{name}" in SECTIONS:
                mode = child.get("overrideModeDefault", "Allow").strip().casefold()
                definition = child.get("allowDefinition", "Everywhere").strip().casefold()
                found[SECTIONS[f"{prefix}{name}"]] = SectionDefinition(
                    "deny" if mode == "deny" else "allow", definition, _at(document, child))

    walk(sections, "")
    return found


def _mounts(document: XmlDocument, site: etree._Element, maps: tuple[PathMap, ...]) -> tuple[
        tuple[Mount, ...], Applications, list[Diagnostic]]:
    """The site's virtual directories mapped to local directories, and its applications."""
    mounts: list[Mount] = []
    applications: list[tuple[str, ...]] = []
    problems: list[Diagnostic] = []
    for application in site.iterchildren("application"):
        app_path = split_location_path(application.get("path", "/")) or ()
        if app_path:
            applications.append(app_path)
        for directory in application.iterchildren("virtualDirectory"):
            url = app_path + (split_location_path(directory.get("path", "/")) or ())
            physical = directory.get("physicalPath", "")
            where = _at(document, directory, "physicalPath")
            expanded, unknown = expand(physical)
            local = None if unknown else mapped(expanded, maps)
            if unknown:
                problems.append(make_at("E402", f"physicalPath=\"{physical}\" uses "
                                        f"%{unknown[0]}%, which is not known here", where))
            elif local is None:
                given = ", ".join(prefix for prefix, _ in maps) or "none"
                problems.append(make_at("E402", f"physicalPath=\"{physical}\" ({expanded}) is "
                                        f"not mapped to a local directory: add --map "
                                        f"'{expanded}=DIR' (maps given: {given})", where))
            else:
                mounts.append(Mount(tuple(fold_segment(s) for s in url), physical, local,
                                    where))
    return tuple(mounts), tuple(dict.fromkeys(applications)), problems
