"""Text that is safe to print or log: what strangers wrote (attribute values, file names,
request headers) written so that no terminal or CI log acts on it (issue 12).

Terminals obey escape sequences; GitHub's runner obeys a line that starts with ``::`` once
leading white space is trimmed, and ``##[command]`` anywhere in a line; Azure Pipelines obeys
``##vso[`` anywhere in a line.  :func:`visible` writes control characters and the other invisible
troublemakers as visible escapes (``\\x1b``, ``\\u202e``), a byte of a file name that is not
UTF-8 as ``\\xNN``, and breaks CI command markers; :func:`line` also breaks a leading ``::``.
Both are idempotent.  The escapes are for reading, not reversible: a backslash already in the
text is left as it is, so that Windows paths stay readable.

It sits in the config room, the lowest that prints anything (:class:`~iiscors.config.diagnostics.
Diagnostic` renders itself with it), so that the command line, serving and the hot-reload log
all write diagnostics the same safe way.  Output formats with their own rules (GitHub workflow
commands, JSON, JUnit) live in :mod:`iiscors.cli.escape`.
"""

from __future__ import annotations

import re

#: What is never printed raw: C0 and C1 controls and DEL (terminal escapes start with ESC or a
#: C1 control); the Unicode line and paragraph separators, which some viewers break lines on;
#: the bidi controls and marks, which reorder what a reviewer sees ("Trojan Source",
#: CVE-2021-42574); lone surrogates, which are how Python decodes a file name's bytes that are
#: not UTF-8; and U+FFFE, U+FFFF, which XML 1.0 forbids.
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                         "\u2066-\u2069\ud800-\udfff\ufffe\uffff]")

#: CI commands obeyed anywhere in a line: GitHub's legacy ``##[cmd]`` (the runner's
#: ActionCommand.TryParse), Azure Pipelines' ``##vso[`` (any letter case), TeamCity's
#: ``##teamcity[``.  The ``[`` is what gets escaped.
CI_COMMAND = re.compile(r"(?<=##)([A-Za-z]*)\[")

#: Lone surrogates U+DC80-U+DCFF are bytes 0x80-0xFF that ``os.fsdecode`` could not decode.
_SURROGATE_ESCAPED_BYTES = range(0xDC80, 0xDD00)


def _escape(match: re.Match[str]) -> str:
    point = ord(match.group())
    if point in _SURROGATE_ESCAPED_BYTES:
        return f"\\x{point - 0xDC00:02x}"
    return f"\\x{point:02x}" if point < 0x100 else f"\\u{point:04x}"


def visible(text: str) -> str:
    """``text`` with nothing a terminal or a CI log would act on."""
    return CI_COMMAND.sub(r"\1\\x5b", UNPRINTABLE.sub(_escape, text))


def visible_source(text: str) -> str:
    """:func:`visible` for a line of a file shown as it is (a diff): a tab, and a line's own
    ending (CR LF or LF), are kept, so that the line still applies; nothing else is."""
    body = text.rstrip("\r\n")
    return "\t".join(visible(part) for part in body.split("\t")) + text[len(body):]


def line(text: str) -> str:
    """:func:`visible`, and safe at the start of a line: GitHub's runner trims leading white
    space (``TrimStart``) and then obeys a line that starts with ``::``."""
    text = visible(text)
    stripped = text.lstrip()
    if stripped.startswith("::"):
        start = len(text) - len(stripped)
        text = f"{text[:start]}\\x3a{text[start + 1:]}"
    return text
