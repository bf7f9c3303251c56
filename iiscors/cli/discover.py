"""Which files ``iiscors validate`` checks: command-line arguments in, an ordered list out.

An argument is a file (checked as given), ``-`` (standard input), a directory (searched
recursively) or a glob (``**`` included).  In a directory, every ``web.config`` (any letter case)
is checked, and every other ``*.config`` whose root element is ``<configuration>``: the first
bytes are peeked, never parsed, so ``packages.config`` and friends are skipped cheaply.  A glob's
matches obey the same rule (directories it matches are searched).  Hidden
directories and build or dependency folders (:data:`SKIPPED_DIRECTORIES`) are not entered.

Nothing here reads a whole file or judges one: that is :func:`iiscors.config.load.check_config`.
"""

from __future__ import annotations

import codecs
import glob
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

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
    #: "file", "stdin", or "missing" (a glob or directory that matched no configuration file)
    kind: str = "file"


def is_config_name(name: str) -> bool:
    return name.lower().endswith(".config")


def has_configuration_root(path: str) -> bool:
    """Peek at the first bytes: is the root element ``<configuration>``?  Never raises."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(PEEK_BYTES)
    except OSError:
        return False
    return configuration_root(head)


def configuration_root(head: bytes) -> bool:
    """Does this file prefix start (after its prolog) with a ``<configuration`` start tag?"""
    encoding = "utf-8"
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                      (codecs.BOM_UTF16_BE, "utf-16-be")):
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


def _walk(directory: str) -> Iterator[str]:
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs
                         if not d.startswith(".") and d.lower() not in SKIPPED_DIRECTORIES)
        for name in sorted(files):
            path = os.path.join(root, name)
            if is_config_name(name) and os.path.isfile(path) and wanted(path):
                yield path


def expand(arguments: Iterable[str], *, skip_unrelated: bool = False) -> list[Target]:
    """Expand command-line arguments into targets, in order, each path once.

    :param skip_unrelated: apply the directory-search rule to named files too (for pre-commit,
        which passes every ``*.config`` it sees, ``packages.config`` included).
    """
    targets: dict[str, Target] = {}

    def add(target: Target) -> None:
        key = target.name if target.kind != "file" else os.path.normpath(target.name)
        targets.setdefault(key, target)

    for argument in arguments:
        if argument == STDIN:
            add(Target("<stdin>", "stdin"))
        elif os.path.isdir(argument):
            found = list(_walk(argument))
            if not found:
                add(Target(argument, "missing"))
            for path in found:
                add(Target(path))
        elif not os.path.exists(argument) and _GLOB_CHARS.search(argument):
            # A glob is a search like a directory's: its matches obey the same rule.
            matches = sorted(glob.glob(argument, recursive=True))
            files = [m for m in matches if os.path.isfile(m) and wanted(m)]
            for directory in (m for m in matches if os.path.isdir(m)):
                files.extend(_walk(directory))
            if not files:
                add(Target(argument, "missing"))
            for path in files:
                add(Target(path))
        elif skip_unrelated and os.path.isfile(argument) and not wanted(argument):
            continue
        else:
            add(Target(argument))  # a missing file is reported by the loader (E100)
    return list(targets.values())
