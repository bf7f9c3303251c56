"""A site as an IIS server sees it: applicationHost.config first, then the site's web.config
files (contract E4).

:class:`ApplicationHost` names what to read (the file, the site, the ``--map`` entries);
:func:`analyse_server` reads it and returns the same :class:`~iiscors.config.site.SiteAnalysis`
a site directory gives, so that every entry point (the middleware and its reload, ``serve``,
``validate``, ``explain``) builds the same site (contract E1).  The effective configuration of a
request is built from the server level (its own sections, then its ``<location path="">``,
``<location path="SITE">`` and ``<location path="SITE/sub/path">`` entries, as levels above
every web.config: depth -1), then the web.config files of each virtual directory, mounted at its
URL path (a deeper virtual directory hides the physical sub-directory of the same name).  The
site's applications are application boundaries (contract E3), and ``<configSections>`` gives
each section's overrideModeDefault and allowDefinition (contract E2, E4).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from iiscors.config.apphost import APPHOST_MAX_BYTES, ServerSite, parse_maps, read_apphost
from iiscors.config.diagnostics import Diagnostic
from iiscors.config.files import Stamp, stamp
from iiscors.config.load import SourceFile, read_all
from iiscors.config.loader import DEFAULT_MAX_BYTES, load_document
from iiscors.config.rules import Applications
from iiscors.config.scope import covers
from iiscors.config.site import SiteAnalysis, SiteScan, scan_site


@dataclass(frozen=True)
class ApplicationHost:
    """A site of an IIS server: give it to the middleware (or ``serve``/``validate``/``explain``
    ``--apphost FILE --site NAME --map W=L``) instead of a directory.

    :param path: the server's applicationHost.config.
    :param site: the site's name, compared case-insensitively.
    :param maps: ``WINDOWS_PATH=LOCAL_DIRECTORY`` entries, or a mapping of them, that say where
        the site's physical paths are on this machine (``%VARIABLE%`` references expanded).
    :raises ValueError: a map entry that does not parse.
    """

    path: str | os.PathLike[str]
    site: str
    maps: Sequence[str] | Mapping[str, str] = field(default=())

    def __post_init__(self) -> None:
        parse_maps(self.map_entries)  # a bad --map is a clear error at once

    @property
    def map_entries(self) -> tuple[str, ...]:
        if isinstance(self.maps, Mapping):
            return tuple(f"{windows}={local}" for windows, local in self.maps.items())
        if isinstance(self.maps, str):
            return (self.maps,)
        return tuple(self.maps)

    @property
    def description(self) -> str:
        return f"site '{self.site}' of {os.fspath(self.path)}"

    @classmethod
    def from_options(cls, apphost: str | None, site: str | None,
                     maps: Sequence[str]) -> ApplicationHost | None:
        """The ``--apphost FILE --site NAME --map W=L`` options of the commands, checked.

        :raises ValueError: ``--site`` or ``--map`` without ``--apphost``, ``--apphost``
            without ``--site``, or a map entry that does not parse.
        """
        if apphost is None:
            if site is not None or maps:
                raise ValueError("--site and --map go with --apphost FILE")
            return None
        if not site:
            raise ValueError("--apphost FILE needs --site NAME (the site to read)")
        return cls(apphost, site, tuple(maps))


def root_directory(server: ApplicationHost) -> str | None:
    """The local directory of the site's root (``/``), or None when it cannot be told (the
    file, the site or the mapping has a problem: :func:`analyse_server` reports it)."""
    document, _display, _found = load_document(os.fspath(server.path),
                                               max_bytes=APPHOST_MAX_BYTES)
    if document is None:
        return None
    site = read_apphost(document, server.site, parse_maps(server.map_entries))
    return next((mount.local for mount in site.mounts if mount.url == ()), None)


def analyse_server(server: ApplicationHost, *, max_bytes: int = DEFAULT_MAX_BYTES,
                   all_or_nothing: bool = True, applications: Applications = ()
                   ) -> SiteAnalysis:
    """Read a site of an applicationHost.config and its web.config files; never raises.

    An applicationHost.config that cannot be read, has no such site, or whose physical paths
    are not all mapped is unusable as a whole (its errors located in it, listing the sites it
    found); what follows is as :func:`iiscors.config.site.analyse_site`.
    """
    apphost = os.fspath(server.path)
    watched = ((apphost, stamp(apphost)),)  # before reading, as every stamp
    document, _display, found = load_document(apphost, max_bytes=APPHOST_MAX_BYTES)
    scan = SiteScan(_directory(apphost), (), watched, ())
    if document is None:
        return SiteAnalysis(None, found, scan)
    site = read_apphost(document, server.site, parse_maps(server.map_entries))
    if site.diagnostics:
        return SiteAnalysis(None, list(site.diagnostics), scan)
    files, scan = _site_files(site, watched)
    analysis = read_all(files, max_bytes=max_bytes, all_or_nothing=all_or_nothing,
                        broken={path: list(errors) for path, errors in scan.broken.items()},
                        applications=tuple(dict.fromkeys((*site.applications, *applications))),
                        registry=site.sections)
    return SiteAnalysis(analysis.config, analysis.diagnostics,
                        replace(scan, stamps=scan.stamps + analysis.watched))


def _directory(path: str) -> Path:
    return Path(os.path.dirname(path) or os.curdir)


def _site_files(site: ServerSite, watched: Iterable[tuple[str, Stamp]]) -> tuple[
        list[SourceFile], SiteScan]:
    """The applicationHost.config (depth -1, its locations for this site) and the web.config
    files of every virtual directory, mounted at its URL path."""
    files = [SourceFile(site.apphost, (), None, None, os.path.dirname(site.apphost) or ".",
                        depth=-1, site=site.name)]
    stamps = list(watched)
    diagnostics: list[Diagnostic] = []
    broken: dict[tuple[str, ...], tuple[Diagnostic, ...]] = {}
    for mount in site.mounts:
        scan = scan_site(mount.local)
        stamps.extend(scan.stamps)
        diagnostics.extend(scan.diagnostics)
        for prefix, errors in scan.broken.items():
            broken[mount.url + prefix] = (*broken.get(mount.url + prefix, ()), *errors)
        for file in scan.files:
            path = mount.url + file.prefix
            if _hidden(path, mount.url, site):
                continue  # a deeper virtual directory serves this URL path
            files.append(replace(file, prefix=path, boundary=mount.local))
    files[1:] = sorted(files[1:], key=lambda f: len(f.prefix))  # shallower files first
    root = site.mounts[0].local if site.mounts else os.curdir
    return files, SiteScan(Path(root), tuple(files), tuple(stamps), tuple(diagnostics), broken)


def _hidden(path: tuple[str, ...], mounted: tuple[str, ...], site: ServerSite) -> bool:
    return any(len(other.url) > len(mounted) and covers(mounted, other.url)
               and covers(other.url, path) for other in site.mounts)
