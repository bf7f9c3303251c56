"""The edits of one migration: the ``<cors>`` section written in, the old pieces taken out.

Nothing is re-serialised (:mod:`iiscors.config.edits`): the ``<cors>`` section is inserted
before ``<httpProtocol>`` in the file's own line ending and indentation (one line per element
when ``<httpProtocol>`` starts its line, else on one line in place), and each piece goes with
:func:`iiscors.config.xmlspans.removal_span`.  A container left with nothing in it goes too
(``customHeaders``, then ``httpProtocol``; ``rules``, then ``rewrite``; ``handlers``), unless an
attribute or a comment makes it say more.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from lxml import etree

from iiscors.cli.fixes.context import Analysis
from iiscors.cli.fixes.migration_find import Pieces
from iiscors.cli.fixes.migration_rule import RuleSpec
from iiscors.cli.fixes.source import Unfixable
from iiscors.config.edits import Edit
from iiscors.config.xmlspans import (
    SpanError,
    element_span,
    indentation,
    line_ending,
    removal_span,
)

#: Indentation of one level when the file shows none to copy.
DEFAULT_UNIT = "  "
_QUOTED = {'"': "&quot;"}


def _attribute(name: str, value: str) -> str:
    return f' {name}="{escape(value, _QUOTED)}"'


def cors_lines(rule: RuleSpec) -> list[tuple[int, str]]:
    """The ``<cors>`` section as ``(depth, element text)`` lines."""
    attributes = _attribute("origin", rule.origin)
    if rule.credentials:
        attributes += _attribute("allowCredentials", "true")
    if rule.max_age is not None:
        attributes += _attribute("maxAge", str(rule.max_age))
    lists = [(tag, key, values) for tag, key, values in (
        ("allowHeaders", "header", rule.allow_headers),
        ("allowMethods", "method", rule.allow_methods),
        ("exposeHeaders", "header", rule.expose_headers)) if values]
    lines = [(0, '<cors enabled="true">')]
    if not lists:
        return [*lines, (1, f"<add{attributes} />"), (0, "</cors>")]
    lines.append((1, f"<add{attributes}>"))
    for tag, key, values in lists:
        lines.append((2, f"<{tag}>"))
        lines.extend((3, f"<add{_attribute(key, value)} />") for value in values)
        lines.append((2, f"</{tag}>"))
    return [*lines, (1, "</add>"), (0, "</cors>")]


def _start(analysis: Analysis, element: etree._Element) -> int:
    offset = analysis.element_offset(element)
    if offset is None:
        raise Unfixable(f"the place of <{element.tag!s}> in the text is not known")
    return offset


def insertion(analysis: Analysis, pieces: Pieces, rule: RuleSpec) -> Edit:
    """The ``<cors>`` section, before ``<httpProtocol>``."""
    text = analysis.text
    at = _start(analysis, pieces.http_protocol)
    line_start = text.rfind("\n", 0, at) + 1
    lines = cors_lines(rule)
    if text[line_start:at].strip(" \t"):
        return Edit(at, at, "".join(element for _, element in lines))
    indent = indentation(text, at)
    inner = indentation(text, _start(analysis, pieces.custom_headers))
    unit = inner[len(indent):] if inner.startswith(indent) and inner != indent else DEFAULT_UNIT
    newline = line_ending(text)
    block = "".join(f"{indent}{unit * depth}{element}{newline}" for depth, element in lines)
    return Edit(line_start, line_start, block)


def _is_empty_without(container: etree._Element, gone: set[etree._Element]) -> bool:
    """Would ``container`` hold nothing (no element, comment or attribute) once ``gone`` are
    removed?"""
    return not container.attrib and all(child in gone for child in container)


def _outermost(element: etree._Element, gone: set[etree._Element],
               stop: str) -> etree._Element:
    """``element``, or the container it empties, up to (and including) one named ``stop``."""
    current = element
    while current.tag != stop:
        parent = current.getparent()
        if parent is None or not _is_empty_without(parent, gone | {current}):
            break
        current = parent
    return current


def removals(analysis: Analysis, pieces: Pieces) -> list[Edit]:
    """The deletions: the Access-Control-* adds, the rule, the handler removal, and the
    containers they leave empty."""
    gone: set[etree._Element] = set(pieces.adds)
    targets = list(pieces.adds)
    if _is_empty_without(pieces.custom_headers, gone):
        targets = [_outermost(pieces.custom_headers, gone, "httpProtocol")]
    for extra, stop in ((pieces.rule, "rewrite"), (pieces.verb_handler, "handlers")):
        if extra is not None:
            targets.append(_outermost(extra, set(), stop))
    edits = []
    for element in targets:
        try:
            start, end = element_span(analysis.text, _start(analysis, element))
            edits.append(Edit(*removal_span(analysis.text, start, end)))
        except SpanError as exc:
            raise Unfixable(f"the text of <{element.tag!s}> could not be located: "
                            f"{exc}") from exc
    return edits
