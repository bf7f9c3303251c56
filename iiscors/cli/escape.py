"""Escaping for everything the command line prints: one function per kind of output.

``iiscors validate`` prints what strangers wrote (attribute values, file names) into terminals
and CI logs, and both are command channels: a terminal obeys escape sequences, GitHub's runner
obeys a line that starts with ``::`` once leading white space is trimmed, and ``##[command]``
anywhere in a line; Azure Pipelines obeys ``##vso[`` anywhere in a line.  So nothing printed may
hold a control character or such a marker (issue 12):

- :func:`visible`, for any text: control characters and the other invisible troublemakers are
  written as visible escapes (``\\x1b``, ``\\u202e``), a byte of a file name that is not UTF-8
  as ``\\xNN`` (the byte), and CI command markers are broken (``##[`` becomes ``##\\x5b``);
- :func:`line`, for text that starts an output line (a file name, a rendered line): also a
  leading ``::``;
- :func:`github_data` and :func:`github_property`, for ``--format github`` workflow commands;
- :func:`json_document`, for the JSON and SARIF formats: every string of the document escaped
  by :func:`line`.

JUnit XML uses :func:`visible` and :func:`line` too: XML 1.0 cannot hold the characters it
escapes, even as character references.  The escapes are for reading, not reversible: a backslash
in the text is left as it is, so that Windows paths stay readable.
"""

from __future__ import annotations

import json
from typing import Any

from iiscors.config.text import line, visible


def github_data(text: str) -> str:
    """The data of a workflow command (after ``::``): visible, then escaped as the Actions
    toolkit's ``escapeData`` does (``%``, CR, LF), so a value ``%0A`` stays literal."""
    return _visible_keeping_newlines(text).replace("%", "%25").replace("\r", "%0D") \
        .replace("\n", "%0A")


def github_property(text: str) -> str:
    """A workflow command property (``file=``, ``title=``): data, plus ``:`` and ``,``."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


def _visible_keeping_newlines(text: str) -> str:
    """:func:`visible` but for CR and LF, which a workflow command encodes (``%0D``, ``%0A``)
    and shows as a line break inside the one annotation."""
    return "\n".join("\r".join(visible(part) for part in piece.split("\r"))
                     for piece in text.split("\n"))


def json_document(document: Any) -> str:
    """A JSON document, indented, every string in it escaped by :func:`line`: its lines hold
    nothing a log would act on, and neither does a value that a consumer prints on a line of its
    own (``jq -r .files[].file``)."""
    return json.dumps(_safe_strings(document), indent=2, ensure_ascii=False)


def _safe_strings(value: Any) -> Any:
    if isinstance(value, str):
        return line(value)
    if isinstance(value, dict):
        return {line(str(key)): _safe_strings(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_safe_strings(item) for item in value]
    return value
