"""Read a configuration file without ever blocking on something that is not a file.

``open()`` of a FIFO waits for a writer, and a read of a character device (``/dev/zero``) never
ends.  A web.config swapped for either (or for a symlink to one) between a reload check's stat
and its read used to freeze that check, with the reload lock held, so that no later edit was
ever applied (issue 12 item 13).  :func:`read_regular_file` opens non-blocking, checks what it
opened (``fstat``, so a symlink swapped in after any earlier check is judged by its target at
the moment of reading) and reads only a regular file; anything else is an :class:`OSError`,
which the loader reports as a located E100 and a reload treats as an unusable file (contract
A8: the last good configuration keeps serving).

Use it for every read of a file named by configuration or by a user: the loader, and the
playground's view of the active files.
"""

from __future__ import annotations

import errno
import os
import stat

#: Open flags: never block in open() (a FIFO without a writer), never become the controlling
#: terminal, never leak the descriptor into a child.  Names a platform lacks count as 0.
_NONBLOCK: int = getattr(os, "O_NONBLOCK", 0)
_OPEN_FLAGS = (os.O_RDONLY | _NONBLOCK | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))

#: How each kind of non-regular file is named in the error.
_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class NotRegularFile(OSError):
    """The path names a FIFO, a device or a socket: nothing a configuration can be read from."""


def read_regular_file(path: str | os.PathLike[str], limit: int) -> bytes:
    """At most ``limit`` bytes of the regular file at ``path`` (symlinks followed).

    :raises IsADirectoryError: ``path`` is a directory.
    :raises NotRegularFile: ``path`` is a FIFO, a device or a socket; never waits for it.
    :raises OSError: it cannot be opened or read (missing, no permission...).
    """
    descriptor = os.open(path, _OPEN_FLAGS)
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a file")
            raise NotRegularFile(errno.EINVAL, f"not a regular file ({kind})", os.fspath(path))
        if _NONBLOCK:
            os.set_blocking(descriptor, True)  # a regular file never blocks; read it plainly
        with os.fdopen(descriptor, "rb", closefd=True) as handle:
            descriptor = -1  # the file object owns it now
            return handle.read(limit)
    finally:
        if descriptor >= 0:
            os.close(descriptor)


#: A file stat as the reloader compares it: (mtime_ns, ctime_ns, size, inode), or None if absent.
Stamp = tuple[int, int, int, int] | None


def stamp(path: str | os.PathLike[str]) -> Stamp:
    """What the reloader compares to notice a change (stat follows symlinks); None if absent.
    Taken *before* a file is read, so that an edit made during the read shows up next time."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
