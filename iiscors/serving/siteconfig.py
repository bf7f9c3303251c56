"""The static-content settings of a site tree, read from its web.config files as they change.

:class:`SiteSettings` finds the web.config of each directory a request passes through (the name
compared case-insensitively, as :mod:`iiscors.config.site` does), reads it with
:func:`iiscors.serving.fileio.read_regular` (bounded, never blocking, only inside the root) and
parses it with the hardened :func:`iiscors.config.loader.parse_bytes`.  It re-reads a directory
listing or a file only when its ``stat`` changes, so an edit applies at the next request, as on
IIS, for the price of two ``stat`` calls per directory level.

A file that cannot be read or parsed keeps its last good settings (as the CORS middleware keeps
its last good policy, docs/serving.md); one that never was good is a problem for its subtree
(500, IIS's 500.19).  Each problem is logged once (logger ``iiscors``).
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Sequence

from iiscors.config.loader import DEFAULT_MAX_BYTES, parse_bytes
from iiscors.config.site import WEB_CONFIG
from iiscors.serving.fileio import inside, read_regular
from iiscors.serving.staticcontent import ServingLevel, Settings, applicable, merge, read_levels

logger = logging.getLogger("iiscors")

#: A stat as compared to notice a change: (device, inode, mtime_ns, ctime_ns, size).
_Stamp = tuple[int, int, int, int, int]

#: Directories and files remembered at most; beyond, the caches start again (memory bound).
MAX_CACHED = 4096


def _stamp(path: str, *, regular: bool = False) -> _Stamp | None:
    """The stamp of ``path`` (symlinks followed); None if it is absent, or if ``regular`` and
    it is not a regular file (a FIFO web.config counts as absent, as in iiscors.config.site)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if regular and not stat.S_ISREG(st.st_mode):
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)


class SiteSettings:
    """The effective :class:`Settings` for a request, from the web.config files on its way.

    :param root: the site's real root directory.
    :param max_bytes: the size limit of a web.config (IIS's default, 250 KiB).
    """

    def __init__(self, root: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._names: dict[str, tuple[_Stamp, str | None]] = {}
        self._files: dict[str, tuple[_Stamp, tuple[ServingLevel, ...]]] = {}
        self._logged: set[tuple[str, _Stamp]] = set()

    def settings(self, directories: Sequence[tuple[str, tuple[str, ...]]],
                 path: tuple[str, ...]) -> Settings:
        """Settings at ``path`` (case-folded segments of the file served), given the
        directories passed through (as reached, root first) with their case-folded prefixes."""
        levels: list[ServingLevel] = []
        for depth, (directory, prefix) in enumerate(directories):
            levels.extend(self._levels_in(directory, prefix, depth))
        settings = merge(applicable(levels, path))
        for problem in settings.problems:
            self._log_once(problem, (0, 0, 0, 0, 0), "%s (IIS answers 500.19)", problem)
        return settings

    def _levels_in(self, directory: str, prefix: tuple[str, ...],
                   depth: int) -> tuple[ServingLevel, ...]:
        name = self._config_name(directory)
        if name is None:
            return ()
        path = os.path.join(directory, name)
        stamp = _stamp(path, regular=True)
        if stamp is None:
            return ()
        with self._lock:
            cached = self._files.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        levels = self._read(path, prefix, depth, stamp)
        if levels is None:  # unusable: the last good settings, else a problem for the subtree
            levels = cached[1] if cached is not None else (ServingLevel(
                prefix, depth, -1, problems=(f"{path}: cannot be read or parsed",)),)
        with self._lock:
            if len(self._files) >= MAX_CACHED:
                self._files.clear()
            self._files[path] = (stamp, levels)
        return levels

    def _read(self, path: str, prefix: tuple[str, ...], depth: int,
              stamp: _Stamp) -> tuple[ServingLevel, ...] | None:
        real = os.path.realpath(path)
        if not inside(real, self.root):
            return ()  # a web.config linked from outside the root is ignored (config.site)
        data = read_regular(real, self.root, self.max_bytes)
        if data is None or len(data) > self.max_bytes:
            self._log_once(path, stamp, "%s: cannot be read, or is larger than %d bytes",
                           path, self.max_bytes)
            return None
        document, diagnostics = parse_bytes(data, path)
        if document is None:
            self._log_once(path, stamp, "%s: %s", path, "; ".join(
                f"line {d.line}: {d.message}" if d.line else d.message for d in diagnostics))
            return None
        return tuple(read_levels(document, prefix, depth))

    def _config_name(self, directory: str) -> str | None:
        """The name of the directory's web.config, in whatever letter case, or None."""
        stamp = _stamp(directory)
        if stamp is None:
            return None
        with self._lock:
            cached = self._names.get(directory)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            names = sorted(n for n in os.listdir(directory) if n.casefold() == WEB_CONFIG)
        except OSError:
            names = []
        name = names[0] if names else None
        with self._lock:
            if len(self._names) >= MAX_CACHED:
                self._names.clear()
            self._names[directory] = (stamp, name)
        return name

    def _log_once(self, key: str, stamp: _Stamp, message: str, *args: object) -> None:
        with self._lock:
            if (key, stamp) in self._logged:
                return
            if len(self._logged) >= MAX_CACHED:
                self._logged.clear()
            self._logged.add((key, stamp))
        logger.error(message, *args)
