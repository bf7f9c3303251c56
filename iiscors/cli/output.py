"""Where a report goes: standard output, or a file (``-o FILE``) replaced atomically.

A report is rendered whole before anything is written, so a failure while rendering writes
nothing.  A file is written to a temporary file beside it and then renamed over it
(``os.replace``): a reader (the SARIF upload step) sees the old report or the new one, never a
truncated one, and a failure leaves the old file as it was (issue 12, item 11).  The temporary
file is made when the command starts, so an unwritable destination is reported before any file
is checked.  A destination that is a symbolic link is replaced, never written through: a
checked-out repository could hold ``report.sarif -> ~/.bashrc``.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from types import TracebackType

#: ``-o -`` is standard output, as with click's File type.
STDOUT = "-"


class Destination:
    """Standard output (``path`` None or ``-``) or a file replaced atomically by :meth:`commit`.

    Use as a context manager: leaving without a commit removes the temporary file.
    """

    def __init__(self, path: str | None) -> None:
        self.path = None if path in (None, STDOUT) else path
        self._temporary: str | None = None
        if self.path is not None:
            import tempfile  # only with -o: validate's start-up stays light

            directory = os.path.dirname(os.path.abspath(self.path))
            descriptor, self._temporary = tempfile.mkstemp(
                dir=directory, prefix=f".{os.path.basename(self.path)}.", suffix=".tmp")
            os.close(descriptor)

    def commit(self, text: str) -> None:
        """Write ``text``: to standard output, or to the file, all of it or nothing."""
        if self._temporary is None:
            # What the stream's encoding cannot hold is written as \xNN or \uNNNN, not a crash.
            encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
            sys.stdout.write(text.encode(encoding, "backslashreplace").decode(encoding))
            sys.stdout.flush()
            return
        assert self.path is not None
        with open(self._temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(self._temporary, _mode_for(self.path))
        os.replace(self._temporary, self.path)
        self._temporary = None

    def __enter__(self) -> Destination:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._temporary)
            self._temporary = None


def _mode_for(path: str) -> int:
    """The permissions of the file being replaced, or those a new file gets (0666 less umask)."""
    try:
        status = os.lstat(path)
    except OSError:
        status = None
    if status is not None and stat.S_ISREG(status.st_mode):
        return stat.S_IMODE(status.st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
