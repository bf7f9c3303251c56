"""Opening the files the command line reads, without ever blocking on one that is not a file.

A FIFO opened for reading waits for a writer, forever; a device may do anything when opened.
The command line reads paths from untrusted trees, and a path can change between a check and
an open.  So :func:`open_regular` refuses what ``stat`` says is not a regular file, then opens
without blocking (``O_NONBLOCK``) and asks ``fstat`` again about what it really opened (issue 12,
the same rule as issue 13's reload).
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from iiscors.config.diagnostics import Diagnostic, make

#: Open flags: read-only, never wait for a FIFO's writer, binary on Windows (0 where absent).
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)

#: What each kind of file that is not regular is called in messages.
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


class NotRegularFile(OSError):
    """The path names a FIFO, a socket, a device or a directory."""

    def __init__(self, mode: int) -> None:
        kind = next((name for test, name in _KINDS if test(mode)), "not a file")
        super().__init__(f"not a regular file ({kind})")
        self.strerror = str(self)


def open_regular(path: str) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file; raise OSError otherwise, at once."""
    before = os.stat(path)
    if not stat.S_ISREG(before.st_mode):
        raise NotRegularFile(before.st_mode)  # never opened: opening a device may act
    descriptor = os.open(path, _FLAGS)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(mode)  # it changed since the stat
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_regular(path: str, limit: int) -> bytes:
    """At most ``limit`` bytes of the regular file ``path`` (OSError otherwise)."""
    with open_regular(path) as handle:
        return handle.read(limit)


def unreadable(name: str, error: OSError) -> Diagnostic:
    """E100 for a file that cannot be read, in the loader's words."""
    return make("E100", f"Cannot read the file: {error.strerror or error}", name)
