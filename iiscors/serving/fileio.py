"""Open a file of the site so that the checks apply to the file actually opened (issue 12).

A path is checked, then opened, and anything on it can change in between: a directory swapped
for a symlink out of the root, a file for a FIFO.  So :func:`open_regular`

- never opens anything but a regular file it has just stat'ed, and opens it without blocking
  (``O_NONBLOCK``: a FIFO without a writer would block the worker forever) and without
  following a final symlink (``O_NOFOLLOW``);
- checks what it opened, with ``fstat``: it must be a regular file, and the very file (same
  device and inode) that the path names *after* the open, with that path still its own real
  path inside the root.  Whatever was swapped before the open, a file outside the root is never
  returned.  (A hard link is the file itself, so one placed in the root is part of the site.)
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

#: Read-only, never blocking, never following a final symlink, never a controlling terminal.
_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
          | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


def inside(path: str, root: str) -> bool:
    """Whether a real path is ``root`` or below it (both already real)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def open_regular(real: str, root: str) -> tuple[BinaryIO, os.stat_result] | None:
    """Open ``real`` (a real path inside ``root``) for reading, with its ``fstat``; None when it
    is not a regular file, cannot be opened, or is no longer what ``real`` names in the root."""
    try:
        if not stat.S_ISREG(os.stat(real).st_mode):
            return None  # a FIFO, socket or device is never opened at all
        fd = os.open(real, _FLAGS)
    except OSError:
        return None
    try:
        opened = os.fstat(fd)
        if stat.S_ISREG(opened.st_mode) and _still_named(real, root, opened):
            if hasattr(os, "set_blocking"):
                os.set_blocking(fd, True)
            return os.fdopen(fd, "rb"), opened
    except OSError:
        pass
    os.close(fd)
    return None


def _still_named(real: str, root: str, opened: os.stat_result) -> bool:
    """Whether ``real`` is, now, its own real path inside ``root`` and names the opened file."""
    try:
        now = os.path.realpath(real, strict=True)
        current = os.stat(now)
    except OSError:
        return False
    return (now == real and inside(now, root)
            and (current.st_dev, current.st_ino) == (opened.st_dev, opened.st_ino))


def read_regular(real: str, root: str, limit: int) -> bytes | None:
    """At most ``limit + 1`` bytes of a regular file inside the root (one more than the limit,
    to tell a file that is too large), or None, never blocking (see :func:`open_regular`)."""
    found = open_regular(real, root)
    if found is None:
        return None
    handle, _ = found
    with handle:
        try:
            return handle.read(limit + 1)
        except OSError:
            return None
