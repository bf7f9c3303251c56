"""The web.config text the playground page shows: the CORS sections as written, secrets masked.

A real web.config holds more than CORS: ``<connectionStrings>`` with database passwords,
``<appSettings>`` with API keys, ``<machineKey>``.  The playground shows the file so that a
person can read the rules ``explain`` cites, and it needs only the sections iiscors reads.  So
:func:`redact_config_text` keeps, character for character:

- ``system.webServer/cors``, ``system.webServer/httpProtocol`` and ``system.webServer/modules``
  (wherever they are: at the top or in a ``<location>``);
- the frame around them: the XML declaration, ``<configuration>``, ``<location path>``,
  ``<system.webServer>``, with their attributes, and comments there that hold no markup and no
  ``=`` (a commented-out element or connection string does);

and replaces every other attribute value, text and comment with ``…``.  Element and attribute
names stay, and so does every line break, so each line keeps its number and a ``file:line`` of
``explain`` still points at the right line.

It reads the text with a small tokenizer rather than an XML parser because the file on disk may
be anything at that moment (an edit in progress that the last good configuration outlives):
where the text stops being XML the tokenizer cannot follow, everything after is masked (it
fails closed).
"""

from __future__ import annotations

import re

#: The sections iiscors reads under ``system.webServer`` (:mod:`iiscors.config.rules`).
SHOWN_SECTIONS = frozenset(("cors", "httpProtocol", "modules"))
#: The elements on the way to a section (their attributes, such as ``<location path>``, show).
_FRAMES = (("configuration",), ("configuration", "system.webServer"),
           ("configuration", "location"), ("configuration", "location", "system.webServer"))
_WEB_SERVER_FRAMES = (_FRAMES[1], _FRAMES[3])
#: What a masked value becomes.
MASK = "…"

_TOKEN = re.compile(r"""
    (?P<comment><!--(?P<comment_body>.*?)-->)
  | (?P<cdata><!\[CDATA\[(?P<cdata_body>.*?)\]\]>)
  | (?P<pi><\?(?P<pi_body>.*?)\?>)
  | (?P<end></(?P<end_name>[^\s<>/]+)\s*>)
  | (?P<start><(?P<name>[^\s<>/!?]+)
        (?P<attributes>(?:\s+[^\s<>/=]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)
        \s*(?P<empty>/?)>)
  | (?P<text>[^<]+)
""", re.S | re.X)
_ATTRIBUTE_VALUE = re.compile(r"""(=\s*)("|')(.*?)\2""", re.S)
#: A run of visible characters on one line (masking keeps the spaces and line breaks around).
_VISIBLE = re.compile(r"\S+(?:[ \t]+\S+)*")


def mask(text: str) -> str:
    """``text`` with each line's visible run replaced by :data:`MASK` (line breaks kept)."""
    return _VISIBLE.sub(MASK, text)


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _zone(path: list[str]) -> str:
    """``"shown"`` inside a CORS section, ``"frame"`` on the way to one, else ``"masked"``.

    Only the first four names decide, so a deeply nested file costs no more per token.
    """
    head = tuple(_local(name) for name in path[:len(_FRAMES[-1]) + 1])
    for frame in _WEB_SERVER_FRAMES:
        if head[:len(frame)] == frame and len(head) > len(frame) \
                and head[len(frame)] in SHOWN_SECTIONS:
            return "shown"
    return "frame" if not path or (len(path) == len(head) and head in _FRAMES) else "masked"


def _masked_token(match: re.Match[str], zone: str, depth: int) -> str:
    """One token as the page shows it, in a zone that is not ``"shown"``."""
    token = match.group(0)
    kind = match.lastgroup
    if kind == "start":
        if zone == "frame":
            return token
        return _ATTRIBUTE_VALUE.sub(lambda m: m.group(1) + m.group(2) + mask(m.group(3))
                                    + m.group(2), token)
    if kind == "end" or (kind == "text" and not token.strip()):
        return token
    if kind == "comment" and zone == "frame" and not re.search("[<=]", match["comment_body"]):
        return token  # an explanation beside the rules; markup or "=" may be a secret
    if kind == "pi" and depth == 0 and match["pi_body"].startswith("xml"):
        return token  # the XML declaration
    body = {"comment": "comment_body", "cdata": "cdata_body", "pi": "pi_body"}.get(kind or "")
    if body is None:
        return mask(token)
    start, end = match.span(body)
    base = match.start()
    return token[:start - base] + mask(match[body]) + token[end - base:]


def redact_config_text(text: str) -> str:
    """``text`` as the playground shows it: see the module's docstring."""
    shown: list[str] = []
    path: list[str] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            shown.append(mask(text[position:]))  # not XML from here on: fail closed
            break
        position = match.end()
        kind = match.lastgroup
        if kind == "start":
            path.append(match["name"])  # the element's own zone decides its attributes
            zone = _zone(path)
            if match["empty"]:
                path.pop()
        else:
            zone = _zone(path)
            if kind == "end" and path:
                path.pop()
        shown.append(match.group(0) if zone == "shown"
                     else _masked_token(match, zone, len(path)))
    return "".join(shown)
