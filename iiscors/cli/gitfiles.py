"""Which configuration files ``iiscors diff --git REV`` compares, and their two versions.

Every ``web.config`` (any letter case), and every other ``*.config`` whose root element is
``<configuration>`` (:func:`iiscors.cli.discover.configuration_root`, the rule ``validate``'s
directory search uses), that differs between the commit REV and the working tree: tracked files
changed since REV (``git diff``), deleted or added since, and untracked files git does not
ignore.  Directories a search never enters (hidden ones, ``node_modules``, ``bin``, ``obj``...)
are left out here too.  Paths are relative to the top of the repository, as GitHub annotations
want them.

A file that does not exist on one side is compared against no file.  A path that is a symbolic
link on either side is skipped with a note: its target is not part of the change.  Both
versions are read bounded (one byte past ``--max-bytes``, so the loader reports E101), and git
is run with argument lists, never a shell, so hostile file names stay data.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass

from iiscors.cli.discover import PEEK_BYTES, SKIPPED_DIRECTORIES, configuration_root, is_config_name
from iiscors.config.diagnostics import Diagnostic, make
from iiscors.config.files import read_regular_file

#: git's modes of a regular file (ls-tree); a symbolic link is 120000, a submodule 160000.
_REGULAR_MODES = frozenset({"100644", "100755"})
WEB_CONFIG = "web.config"


class GitError(Exception):
    """git is missing, this is not a repository, or REV is not a commit (exit 2)."""


@dataclass(frozen=True, slots=True)
class GitFile:
    """One configuration file to compare: its bytes at REV and in the working tree (None: no
    such file, or not IIS configuration), and a problem reading the working-tree copy."""

    path: str
    old: bytes | None
    new: bytes | None
    problem: Diagnostic | None = None


def _executable() -> str:
    found = shutil.which("git")
    if found is None:
        raise GitError("git is not installed (or not on PATH)")
    return found


#: Options before every git command: no fsmonitor hook is run on the repository's behalf.
_SAFE = ["-c", "core.fsmonitor=false"]


def _git(arguments: list[str], cwd: str) -> bytes:
    done = subprocess.run([_executable(), *_SAFE, *arguments], cwd=cwd, capture_output=True,
                          check=False)
    if done.returncode != 0:
        error = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
        raise GitError(f"git {arguments[0]}: {error}")
    return done.stdout


def _commit(rev: str, top: str) -> str:
    if rev.startswith("-"):
        raise GitError(f"{rev!r} is not a revision")  # never an option to git
    try:
        found = _git(["rev-parse", "--verify", "--quiet", "--end-of-options",
                      f"{rev}^{{commit}}"], top)
    except GitError:
        raise GitError(f"{rev!r} is not a commit of this repository") from None
    return found.decode("ascii").strip()


def _skipped(path: str) -> bool:
    """The directory-search rule of :mod:`iiscors.cli.discover`: hidden and build folders."""
    directories = path.split("/")[:-1]
    return any(d.startswith(".") or d.lower() in SKIPPED_DIRECTORIES for d in directories)


def _records(output: bytes) -> list[bytes]:
    """The NUL-terminated records of a ``-z`` output (names are bytes, any byte but NUL)."""
    return [record for record in output.split(b"\0") if record]


def _names(output: bytes) -> list[str]:
    return [os.fsdecode(name) for name in _records(output)]


def _tree(commit: str, top: str) -> dict[str, tuple[str, str]]:
    """``path: (mode, object)`` of every blob of the commit."""
    entries = {}
    for line in _records(_git(["ls-tree", "-r", "-z", "--full-tree", commit], top)):
        meta, _, path = line.partition(b"\t")
        mode, kind, obj = meta.decode("ascii").split(" ")
        if kind == "blob":
            entries[os.fsdecode(path)] = (mode, obj)
    return entries


def _blob(obj: str, top: str, limit: int) -> bytes:
    """At most ``limit`` bytes of one blob (a huge one is never read whole)."""
    with subprocess.Popen([_executable(), *_SAFE, "cat-file", "blob", obj], cwd=top,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as process:
        assert process.stdout is not None
        data = process.stdout.read(limit)
        process.kill()
    return data


def _configuration(path: str, data: bytes | None) -> bytes | None:
    """``data`` if it is IIS configuration (any web.config; another *.config by its root)."""
    if data is None or os.path.basename(path).lower() == WEB_CONFIG:
        return data
    return data if configuration_root(data[:PEEK_BYTES]) else None


def changed_files(rev: str, max_bytes: int, cwd: str = ".") -> tuple[list[GitFile], list[str]]:
    """The configuration files that differ between ``rev`` and the working tree, and notes
    about paths skipped.  :raises GitError: git cannot answer."""
    top = os.fsdecode(_git(["rev-parse", "--show-toplevel"], cwd).rstrip(b"\n"))
    commit = _commit(rev, top)
    tree = _tree(commit, top)
    changed = _names(_git(["diff", "--name-only", "-z", "--no-renames", commit, "--"], top))
    changed += _names(_git(["ls-files", "-z", "--others", "--exclude-standard"], top))
    files: list[GitFile] = []
    notes: list[str] = []
    for path in sorted(set(changed)):
        if not is_config_name(os.path.basename(path)) or _skipped(path):
            continue
        found = _pair(path, tree.get(path), top, max_bytes)
        if isinstance(found, str):
            notes.append(found)
        elif found is not None:
            files.append(found)
    return files, notes


def _pair(path: str, entry: tuple[str, str] | None, top: str, max_bytes: int
          ) -> GitFile | str | None:
    """Both versions of ``path``; a note when it is skipped; None when neither side is IIS
    configuration or both are the same."""
    if entry is not None and entry[0] not in _REGULAR_MODES:
        return f"{path}: skipped, not a regular file at the old revision (a symbolic link?)"
    full = os.path.join(top, path)
    try:
        mode: int | None = os.lstat(full).st_mode
    except OSError:
        mode = None  # deleted since REV
    if mode is not None and not stat.S_ISREG(mode):
        return f"{path}: skipped, not a regular file in the working tree (a symbolic link?)"
    old = _blob(entry[1], top, max_bytes + 1) if entry is not None else None
    new: bytes | None = None
    problem = None
    if mode is not None:
        try:
            new = read_regular_file(full, max_bytes + 1)
        except OSError as exc:
            problem = make("E100", f"Cannot read the file: {exc.strerror or exc}", path)
    old, new = _configuration(path, old), _configuration(path, new)
    if problem is None and (old == new or (old is None and new is None)):
        return None
    return GitFile(path, old, new, problem)
