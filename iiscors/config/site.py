"""Site roots: a directory's web.config and every sub-directory's, merged as IIS does (A9).

IIS reads the web.config of the site root and of each physical directory on a request's path;
the deeper file's sections are merged after the shallower one's (attributes override,
collections append, ``<clear/>``/``<remove>``).  :func:`scan_site` finds those files and gives
each its directory prefix (lower-cased segments in the form WSGI gives ``PATH_INFO``, see
:func:`iiscors.config.rules.fold_segment`); :func:`load_site` turns them into one
:class:`~iiscors.Config`, or raises :class:`~iiscors.ConfigError` with every diagnostic.

The walk is bounded, because a site root may be large or hostile:

- at most ``max_directories`` directories (default 10,000) and ``max_depth`` levels (default 32);
  beyond either, loading fails with a diagnostic rather than silently skipping configuration;
- symbolic links (to directories or to web.config files) are followed only when they resolve
  inside the root, and a link back to one of its own ancestors is not walked again, so a link
  cycle cannot loop.  :mod:`iiscors.serving.serve` applies the same rule when it serves files;
- the file name is matched case-insensitively (``Web.config`` is what Visual Studio creates, and
  Windows does not distinguish), and two names differing only in case in one directory are an
  error, since IIS could never have seen both.

Use :func:`load_site` (or pass the directory to :class:`~iiscors.CorsMiddleware`, which also
reloads it) for a site tree; use :func:`iiscors.load_config` for one file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

from iiscors.config.diagnostics import ConfigError, Diagnostic, make
from iiscors.config.files import Stamp as Stamp  # re-exported: the reloader compares them
from iiscors.config.files import stamp
from iiscors.config.load import Config, SourceFile, read_all
from iiscors.config.loader import DEFAULT_MAX_BYTES
from iiscors.config.rules import Applications, fold_segment

#: The configuration file IIS reads in every directory (compared case-insensitively).
WEB_CONFIG = "web.config"

#: Default bounds of a site walk.
MAX_DIRECTORIES = 10_000
MAX_DEPTH = 32

@dataclass(frozen=True, slots=True)
class SiteScan:
    """The result of walking a site root.

    :param files: the web.config files, root first, each with its directory prefix.
    :param stamps: a stat of every directory walked and every file found, taken *before* the
        directory was listed or the file read, so a change made during the walk shows up as a
        difference at the next comparison (:mod:`iiscors.reload`).
    :param diagnostics: errors about the walk itself (bounds, unreadable root, case clashes).
    :param broken: the same errors by the directory prefix whose scope they make unusable
        (contract E6): a case clash breaks its directory, anything else the whole site.
    """

    root: Path
    files: tuple[SourceFile, ...]
    stamps: tuple[tuple[str, Stamp], ...]
    diagnostics: tuple[Diagnostic, ...]
    broken: Mapping[tuple[str, ...], tuple[Diagnostic, ...]] = field(default_factory=dict)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def scan_site(root: str | os.PathLike[str], *, max_directories: int = MAX_DIRECTORIES,
              max_depth: int = MAX_DEPTH) -> SiteScan:
    """Find ``root/web.config`` and every sub-directory's, bounded; never raises."""
    root_path = Path(root)
    display_root = os.fspath(root_path)
    try:
        real_root = os.path.realpath(root_path, strict=True)
        if not os.path.isdir(real_root):
            raise NotADirectoryError(display_root)
    except OSError as exc:
        unreadable = make("E100", f"Cannot read the site root: {exc.strerror or exc}",
                          display_root)
        return SiteScan(root_path, (), (), (unreadable,), {(): (unreadable,)})
    walk = _SiteWalk(real_root, max_depth)
    # Depth-first, each entry: (directory as reached, its prefix, its ancestors' real paths).
    pending: list[_Directory] = [(display_root, (), frozenset({real_root}))]
    directories = 0
    while pending:
        directories += 1
        if directories > max_directories:
            walk.scoped.append(((), make(
                "E100", f"Cannot read the site: more than {max_directories} directories "
                "(raise max_directories to load it)", display_root)))
            break
        children = walk.visit(*pending.pop())
        if children is None:
            break  # too deep: the walk stops with its diagnostic
        pending.extend(reversed(children))
    broken: dict[tuple[str, ...], tuple[Diagnostic, ...]] = {}
    for prefix, diagnostic in walk.scoped:
        broken[prefix] = (*broken.get(prefix, ()), diagnostic)
    return SiteScan(root_path, tuple(walk.files), tuple(walk.stamps),
                    tuple(d for _, d in walk.scoped), broken)


#: A directory to visit: its path as reached, its prefix, and its ancestors' real paths.
_Directory = tuple[str, tuple[str, ...], frozenset[str]]


class _SiteWalk:
    """What a walk of one site root has found so far, and how it visits one directory."""

    def __init__(self, real_root: str, max_depth: int) -> None:
        self.real_root = real_root
        self.max_depth = max_depth
        self.files: list[SourceFile] = []
        self.stamps: list[tuple[str, Stamp]] = []
        #: each error with the directory prefix whose scope it breaks (contract E6)
        self.scoped: list[tuple[tuple[str, ...], Diagnostic]] = []

    def visit(self, directory: str, prefix: tuple[str, ...],
              ancestors: frozenset[str]) -> list[_Directory] | None:
        """Note the directory's web.config and return its sub-directories to visit, or None
        when one of them is deeper than ``max_depth`` (the walk then stops)."""
        self.stamps.append((directory, stamp(directory)))  # before listing: see SiteScan
        try:
            with os.scandir(directory) as entries:
                listing = sorted(entries, key=lambda e: e.name)
        except OSError:
            return []  # an unreadable directory cannot be served either
        self._note_config(directory, prefix, [e for e in listing if is_web_config(e.name)])
        children: list[_Directory] = []
        for entry in listing:
            if not _is_directory(entry):
                continue
            child_real = _resolved(entry.path, self.real_root)
            if child_real is None or child_real in ancestors:
                continue  # outside the root, or a link back to an ancestor (a cycle)
            if len(prefix) + 1 > self.max_depth:
                # The walk stops here: what it did not see is unknown, so the site is unusable.
                self.scoped.append(((), make(
                    "E100", f"Cannot read the site: directories nest deeper than "
                    f"{self.max_depth} levels (raise max_depth to load it)", entry.path)))
                return None
            children.append((entry.path, (*prefix, fold_segment(entry.name)),
                             ancestors | {child_real}))
        return children

    def _note_config(self, directory: str, prefix: tuple[str, ...],
                     configs: list[os.DirEntry[str]]) -> None:
        if len(configs) > 1:
            names = ", ".join(e.name for e in configs)
            self.scoped.append((prefix, make(
                "E100", f"Cannot read the site: {names} differ only in case (IIS on Windows "
                "could see only one)", directory)))
        for entry in configs[:1]:
            target = _resolved(entry.path, self.real_root)
            if target is not None and os.path.isfile(target):
                self.stamps.append((entry.path, stamp(entry.path)))
                # Contract A9: a sub-directory's file applies below its directory.
                self.files.append(SourceFile(entry.path, prefix, None))


def _is_directory(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=True)
    except OSError:
        return False


def _resolved(path: str, real_root: str) -> str | None:
    """The real path of ``path`` if it lies inside the root, else None (symlink policy)."""
    try:
        real = os.path.realpath(path, strict=True)
    except OSError:
        return None
    return real if _inside(real, real_root) else None


class SiteAnalysis(NamedTuple):
    """What :func:`analyse_site` returns."""

    #: None when there are errors
    config: Config | None
    diagnostics: list[Diagnostic]
    scan: SiteScan


def analyse_site(root: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_directories: int = MAX_DIRECTORIES, max_depth: int = MAX_DEPTH,
                 all_or_nothing: bool = True, applications: Applications = ()) -> SiteAnalysis:
    """Scan and check a site root; never raises.

    :param all_or_nothing: no Config when anything has an error (contract A8); with False, a
        Config whenever the root level is usable, its unusable scopes marked (contract E6).
    :param applications: the site's child application paths (contract E3).
    """
    scan = scan_site(root, max_directories=max_directories, max_depth=max_depth)
    analysis = read_all(scan.files, max_bytes=max_bytes, all_or_nothing=all_or_nothing,
                        broken={p: list(found) for p, found in scan.broken.items()},
                        root=os.fspath(scan.root), applications=applications)
    # Contract E5: the configSource files are watched as well (stamped before being read).
    scan = replace(scan, stamps=scan.stamps + analysis.watched)
    return SiteAnalysis(analysis.config, analysis.diagnostics, scan)


def load_site(root: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES,
              max_directories: int = MAX_DIRECTORIES, max_depth: int = MAX_DEPTH,
              all_or_nothing: bool = True, applications: Applications = ()) -> Config:
    """Load a site root's web.config files into one :class:`Config`.

    :param root: the site's physical directory (IIS's ``physicalPath``).
    :param max_bytes: the size limit for each file (default 250 KiB, IIS's default).
    :param max_directories: how many directories the walk may visit.
    :param max_depth: how deep below the root it may go.
    :param all_or_nothing: raise on any error (the default); with False, return a Config
        whenever the root level is usable, the scopes with errors marked unusable (contract E6).
    :param applications: the site's child application paths (contract E3).
    :raises ConfigError: any file is unusable (or, with ``all_or_nothing=False``, the root
        level), or the walk hit a bound (every diagnostic).
    """
    analysis = analyse_site(root, max_bytes=max_bytes, max_directories=max_directories,
                            max_depth=max_depth, all_or_nothing=all_or_nothing,
                            applications=applications)
    if analysis.config is None:
        raise ConfigError(analysis.diagnostics)
    return analysis.config


def is_web_config(name: str) -> bool:
    """Whether a file name is a web.config (never served, contract A9 and IIS's hiddenSegments)."""
    return name.lower() == WEB_CONFIG


__all__ = ["MAX_DEPTH", "MAX_DIRECTORIES", "SiteAnalysis", "SiteScan", "analyse_site",
           "is_web_config", "load_site", "scan_site", "stamp"]
