"""Which files ``iiscors validate`` checks: command-line arguments in, an ordered list out.

An argument is a file (checked as given), ``-`` (standard input), a directory (searched
recursively) or a glob (``**`` included).  In a directory, every ``web.config`` (any letter case)
is checked, and every other ``*.config`` whose root element is ``<configuration>``: the first
bytes are peeked, never parsed, so ``packages.config`` and friends are skipped cheaply.  A glob's
matches obey the same rule (directories it matches are searched).  Hidden
directories and build or dependency folders (:data:`SKIPPED_DIRECTORIES`) are not entered.

A search stays inside the directory it was given (for a glob, the directory before its first
wildcard), because a tree from a pull request is untrusted (issue 12): links to directories are
never entered, and a ``*.config`` that is a symbolic link leading outside is neither peeked at
nor read but becomes an ``outside`` target (W104).  Links that stay inside are followed.  What
is not a regular file (a FIFO, a socket, a device) is skipped, and every peek opens without
blocking (:func:`iiscors.cli.files.open_regular`).  A path named on the command line is taken as
given: naming it is the user's choice.

**Sites (contract E1).**  By default a directory is searched for *sites*, not for files: the
top-most ``web.config`` of each subtree starts a site (several may stand side by side), and that
directory becomes one ``site`` target, judged as the runtime loads it
(:func:`iiscors.config.site.analyse_site`: every sub-directory's web.config merged, whatever
directory it is in).  The web.config files below a site root are part of its site and are not
targets of their own.  Other ``*.config`` files (``Web.Release.config``, ``app.config``) are
never part of a site (IIS does not read them) and stay file targets.  Without ``sites=True``
the search finds files, each to be taken on its own (``validate --each-file``, ``fix``).

Nothing here reads a whole file or judges one: that is :func:`iiscors.config.load.check_config`
and :func:`iiscors.config.site.analyse_site`.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from iiscors.cli.files import open_regular
from iiscors.config.loader import BYTE_ORDER_MARKS

#: Directories a search never enters: VCS data, dependencies, .NET build output (whose copied
#: web.config files and ``*.dll.config`` application files are not the site's configuration).
SKIPPED_DIRECTORIES = frozenset({"node_modules", "bin", "obj", "__pycache__"})

#: How much of a file the root-element peek reads: enough for a declaration and a comment block.
PEEK_BYTES = 4096

STDIN = "-"

_GLOB_CHARS = re.compile(r"[*?\[]")
# The prolog before the root element: declaration, comments, processing instructions, space.
_PROLOG = re.compile(r"(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.S)


@dataclass(frozen=True, slots=True)
class Target:
    """One thing to validate: a path, standard input, or an argument that matched nothing."""

    name: str
    #: "file", "stdin", "missing" (a glob or directory that matched no configuration file),
    #: "outside" (a symbolic link found by a search that leads out of the directory searched),
    #: or "site" (a site root directory, contract E1)
    kind: str = "file"


def is_config_name(name: str) -> bool:
    return name.lower().endswith(".config")


def has_configuration_root(path: str) -> bool:
    """Peek at the first bytes: is the root element ``<configuration>``?  Never raises, never
    blocks (a FIFO is not a configuration file)."""
    try:
        with open_regular(path) as handle:
            head = handle.read(PEEK_BYTES)
    except OSError:
        return False
    return configuration_root(head)


def configuration_root(head: bytes) -> bool:
    """Does this file prefix start (after its prolog) with a ``<configuration`` start tag?"""
    encoding = "utf-8"
    for bom, name in BYTE_ORDER_MARKS:
        if head.startswith(bom):
            head, encoding = head[len(bom):], name
            break
    text = head.decode(encoding, errors="replace")
    start = _PROLOG.match(text)
    rest = text[start.end() if start else 0:]
    return re.match(r"<configuration[\s/>]", rest) is not None or rest == "<configuration"


def wanted(path: str) -> bool:
    """The directory-search rule: web.config always, other ``*.config`` by their root."""
    base = os.path.basename(path)
    if base.lower() == "web.config":
        return True
    return is_config_name(base) and has_configuration_root(path)


def inside(path: str, root: str) -> bool:
    """Does ``path``, every symbolic link resolved, lie within the real directory ``root``?"""
    real, root = os.path.normcase(os.path.realpath(path)), os.path.normcase(root)
    try:
        return os.path.commonpath([real, root]) == root
    except ValueError:  # another drive (Windows)
        return False


def _found(path: str, root: str) -> Target | None:
    """What a search makes of a ``*.config`` path: a file to check, a link out, or nothing."""
    if not inside(path, root):
        return Target(path, "outside")  # never opened: its content is not the tree's
    if os.path.isfile(path) and wanted(path):
        return Target(path)
    return None


def _walk(directory: str, root: str | None = None) -> Iterator[Target]:
    """Search ``directory`` (within ``root``, by default the directory itself, really)."""
    root = root or os.path.realpath(directory)
    # os.walk never enters a link to a directory (followlinks=False).
    for parent, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs
                         if not d.startswith(".") and d.lower() not in SKIPPED_DIRECTORIES)
        for name in sorted(files):
            target = _found(os.path.join(parent, name), root) if is_config_name(name) else None
            if target is not None:
                yield target


def _web_config_in(parent: str, files: list[str], root: str) -> Target | None:
    """The target a directory's web.config makes: a site root (its directory), a link out of
    the search (W104, whether or not it is below a site root: the site never reads it), or
    None when the directory has none."""
    for name in sorted(files):
        if name.lower() != "web.config":
            continue
        path = os.path.join(parent, name)
        if not inside(path, root):
            return Target(path, "outside")
        if os.path.isfile(path):
            return Target(parent, "site")
    return None


def _walk_sites(directory: str) -> Iterator[Target]:
    """Search ``directory`` for sites (contract E1) and for the other ``*.config`` files."""
    root = os.path.realpath(directory)
    site_roots: list[str] = []
    for parent, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs
                         if not d.startswith(".") and d.lower() not in SKIPPED_DIRECTORIES)
        config = _web_config_in(parent, files, root)
        if config is not None and config.kind == "site":
            if any(parent.startswith(site.rstrip(os.sep) + os.sep) for site in site_roots):
                config = None  # below a site root: part of that site
            else:
                site_roots.append(parent)
        if config is not None:
            yield config
        for name in sorted(files):
            if name.lower() == "web.config" or not is_config_name(name):
                continue  # web.config files are judged as part of their site
            target = _found(os.path.join(parent, name), root)
            if target is not None:
                yield target


def _glob(pattern: str) -> list[Target]:
    """A glob is a search like a directory's, within the directory before its first wildcard."""
    base = pattern
    while _GLOB_CHARS.search(base):
        base = os.path.dirname(base)
    root = os.path.realpath(base or os.curdir)
    found: list[Target] = []
    matches = sorted(glob.glob(pattern, recursive=True))
    for match in matches:
        target = (_found(match, root) if is_config_name(match) and not os.path.isdir(match)
                  else None)
        if target is not None:
            found.append(target)
    for directory in (m for m in matches if os.path.isdir(m) and not os.path.islink(m)):
        if inside(directory, root):
            found.extend(_walk(directory, root))
    return found


def expand(arguments: Iterable[str], *, skip_unrelated: bool = False,
           sites: bool = False) -> list[Target]:
    """Expand command-line arguments into targets, in order, each path once.

    :param skip_unrelated: apply the directory-search rule to named files too (for pre-commit,
        which passes every ``*.config`` it sees, ``packages.config`` included).
    :param sites: search a directory for sites (contract E1, what ``validate`` does unless
        ``--each-file``), instead of for files to take one by one (what ``fix`` repairs).
    """
    targets: dict[str, Target] = {}

    def add(target: Target) -> None:
        key = target.name if target.kind != "file" else os.path.normpath(target.name)
        targets.setdefault(key, target)

    for argument in arguments:
        if argument == STDIN:
            add(Target("<stdin>", "stdin"))
        elif os.path.isdir(argument) or (not os.path.exists(argument)
                                         and _GLOB_CHARS.search(argument)):
            if not os.path.isdir(argument):
                found = _glob(argument)
            else:
                found = list(_walk_sites(argument) if sites else _walk(argument))
            if not found:
                add(Target(argument, "missing"))
            for target in found:
                add(target)
        elif skip_unrelated and os.path.isfile(argument) and not wanted(argument):
            continue
        else:
            add(Target(argument))  # a missing file is reported by the loader (E100)
    return list(targets.values())
