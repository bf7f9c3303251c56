"""Read a file once, and replace it atomically only if nobody changed it meanwhile.

:func:`read_snapshot` reads a named web.config the way the loader does (a regular file only,
never blocking on a FIFO or a device, at most the size limit) and remembers what it saw.
:func:`replace_file` writes the repaired bytes to a temporary file in the same directory, gives
it the original's permission bits (and owner and group, or refuses), checks once more that the
file on disk is still the one that was read, then ``os.replace``-s it: a reader sees the old file
or the new one, never half of either, and a failure leaves the original untouched and no
temporary file behind.

What is refused, with the reason (:class:`~iiscors.cli.fixes.source.Unfixable`): a symbolic link
(replacing it would turn it into a file; repairing its target would write outside the named
path), a file that is not regular, a file above the size limit, and for writing a read-only file,
a file with several hard links (a replace would split them) and a file changed on disk since it
was read.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass

from iiscors.cli.fixes.source import Unfixable
from iiscors.config.files import read_regular_file

#: Suffix of the temporary file written beside the original.
TEMP_SUFFIX = ".iiscors-fix.tmp"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A file as read: its bytes and the ``stat`` fields that tell whether it changed."""

    path: str
    data: bytes
    mode: int
    uid: int
    gid: int
    nlink: int
    identity: tuple[int, int, int, int]  # device, inode, size, modification time (ns)


def _identity(status: os.stat_result) -> tuple[int, int, int, int]:
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def read_snapshot(path: str, max_bytes: int) -> Snapshot:
    """Read ``path`` for repair; :class:`Unfixable` when it cannot or must not be."""
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise Unfixable("it is a symbolic link; run fix on the file it points to")
        status = os.stat(path)
        data = read_regular_file(path, max_bytes + 1)
    except OSError as exc:
        raise Unfixable(f"cannot read it: {_reason(exc)}") from exc
    if len(data) > max_bytes:
        raise Unfixable(f"it is larger than the limit of {max_bytes} bytes")
    return Snapshot(path, data, stat.S_IMODE(status.st_mode), status.st_uid, status.st_gid,
                    status.st_nlink, _identity(status))


def check_writable(snapshot: Snapshot) -> None:
    """Refuse what ``--write`` must not replace (before any work is done)."""
    if not snapshot.mode & 0o222 or not os.access(snapshot.path, os.W_OK):
        # The mode bits too: root may write anything, but a read-only file says "leave me".
        raise Unfixable("it is read-only")
    if snapshot.nlink > 1:
        raise Unfixable(f"it has {snapshot.nlink} hard links, which replacing it would split")


def _unchanged(snapshot: Snapshot) -> None:
    try:
        status = os.lstat(snapshot.path)
        current = None if stat.S_ISLNK(status.st_mode) else read_regular_file(
            snapshot.path, len(snapshot.data) + 1)
    except OSError as exc:
        raise Unfixable(f"it cannot be read again before writing: {_reason(exc)}") from exc
    if current != snapshot.data or _identity(status) != snapshot.identity:
        raise Unfixable("it changed on disk since it was read")


def replace_file(snapshot: Snapshot, data: bytes) -> None:
    """Atomically replace the file of ``snapshot`` with ``data`` (see the module docstring)."""
    check_writable(snapshot)
    _unchanged(snapshot)
    directory = os.path.dirname(os.path.abspath(snapshot.path))
    try:
        handle, temporary = tempfile.mkstemp(
            dir=directory, prefix="." + os.path.basename(snapshot.path) + ".",
            suffix=TEMP_SUFFIX)
    except OSError as exc:
        raise Unfixable(f"cannot create a temporary file beside it: {_reason(exc)}") from exc
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        _keep_owner(snapshot, temporary)
        os.chmod(temporary, snapshot.mode)
        _unchanged(snapshot)  # as late as possible: the window left is the replace itself
        os.replace(temporary, snapshot.path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise Unfixable(f"cannot write it: {_reason(exc)}") from exc
        raise
    _sync_directory(directory)


def _keep_owner(snapshot: Snapshot, temporary: str) -> None:
    status = os.stat(temporary)
    if (status.st_uid, status.st_gid) == (snapshot.uid, snapshot.gid):
        return
    chown = getattr(os, "chown", None)
    try:
        if chown is None:
            raise PermissionError("no chown on this platform")
        chown(temporary, snapshot.uid, snapshot.gid)
    except OSError as exc:
        raise Unfixable("replacing it would change its owner or group") from exc


def _sync_directory(directory: str) -> None:
    # Make the rename itself durable where the platform allows opening a directory.
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
