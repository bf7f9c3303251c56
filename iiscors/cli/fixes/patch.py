"""The unified diff a dry run of ``iiscors fix`` prints, and names made safe to print.

The diff is :mod:`difflib`'s, with ``a/`` and ``b/`` labels so that ``git apply`` and
``patch -p1`` take it, and the two details difflib leaves out: a last line without a line ending
gets git's ``\\ No newline at end of file`` marker, and lines are split at ``\\n`` only (as the
file's lines are counted), never at the other characters :meth:`str.splitlines` breaks on.
A line ending ``\\r\\n`` stays in the diff as it is in the file.

A file name is printed as written unless it holds a control character, a quote or a backslash:
then it is quoted the way git quotes it (C escapes inside double quotes), so that a hostile name
can neither break the diff's header nor drive the terminal.
"""

from __future__ import annotations

import difflib
import os
import re

from iiscors.config.text import visible_source

#: Lines of context around each change, as ``diff -u`` and git print.
CONTEXT_LINES = 3
NO_NEWLINE = "\\ No newline at end of file\n"

#: Characters that make a name need quoting: C0 and C1 controls, DEL, quote and backslash.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f"\\]')
_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def shown(name: str) -> str:
    """``name`` safe to print on one line: as written, or C-quoted (see the module docstring)."""
    if not _UNSAFE.search(name):
        return name
    return '"' + _UNSAFE.sub(_escape, name) + '"'


def _escape(found: re.Match[str]) -> str:
    char = found.group()
    return _ESCAPES.get(char) or "".join(f"\\{byte:03o}" for byte in char.encode("utf-8"))


def lines(text: str) -> list[str]:
    """``text`` cut after each ``\\n`` (the last line may have no line ending)."""
    parts = text.split("\n")
    result = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        result.append(parts[-1])
    return result


def _label(prefix: str, name: str) -> str:
    if os.sep != "/":
        name = name.replace(os.sep, "/")  # git's separator, whatever the platform's
    return shown(prefix + name)


def unified_diff(name: str, before: str, after: str) -> str:
    """The diff from ``before`` to ``after`` of the file ``name``; empty when they are equal."""
    out: list[str] = []
    for line in difflib.unified_diff(lines(before), lines(after), _label("a/", name),
                                     _label("b/", name), n=CONTEXT_LINES):
        # Shown in terminals and CI logs: a stranger's file must not drive them (issue 12).
        line = visible_source(line)
        out.append(line if line.endswith("\n") else line + "\n" + NO_NEWLINE)
    return "".join(out)
