"""One analysis of a web.config text, with its diagnostics tied back to the nodes they name.

A diagnostic knows a line and a column; a repair needs the element (to look at its parent and
siblings), the rule it belongs to (to look at the scopes it applies in) and an offset in the text
(to edit there).  :class:`Analysis` computes the diagnostics with the library
(:func:`iiscors.config.load.analyse`) and, only when a repair needs them, the parsed tree and the
indexes from positions to attributes and rules.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from lxml import etree

from iiscors.cli.fixes.source import SourceText
from iiscors.config.diagnostics import Diagnostic
from iiscors.config.load import Config, SourceFile, analyse
from iiscors.config.loader import XmlDocument, parse_bytes
from iiscors.config.xmlspans import SpanError, TextPositions
from iiscors.policy.model import OriginRule

Position = tuple[int, int]

#: Elements whose attributes diagnostics point at: collection entries.
_ENTRIES = ("add", "remove")


@dataclass(frozen=True, slots=True)
class Node:
    """The attribute a diagnostic points at: its element and its name."""

    element: etree._Element
    attribute: str


class Analysis:
    """Diagnostics of one text, and the ways from a diagnostic to what it is about.

    :param source: how the file is encoded (the text is analysed as the bytes it would be).
    :param text: the text to analyse (the file's, or a partly repaired one).
    :param name: the display name diagnostics carry.
    :param max_bytes: the size limit passed to the loader.
    """

    def __init__(self, source: SourceText, text: str, name: str, max_bytes: int) -> None:
        self.text = text
        self.name = name
        self.data = source.encode(text)
        config, diagnostics = analyse([SourceFile(self.data, (), name)], max_bytes=max_bytes)
        self.config: Config | None = config
        self.diagnostics: list[Diagnostic] = diagnostics
        self.positions = TextPositions(text)

    @functools.cached_property
    def document(self) -> XmlDocument:
        document, _ = parse_bytes(self.data, self.name)
        # Only asked for when the analysis found diagnostics, so the text parsed.
        assert document is not None, "an analysed text always parses"
        return document

    @functools.cached_property
    def nodes(self) -> dict[Position, Node]:
        """Every attribute of every ``<add>`` and ``<remove>``, by the position the loader
        gives it (the one its diagnostics carry)."""
        locator = self.document.locator
        found: dict[Position, Node] = {}
        for element in self.document.root.iter(*_ENTRIES):
            for name in element.attrib:
                if str(name).startswith("{"):
                    continue  # namespaced (xdt:...): never a key, never diagnosed here
                line, column = locator.attribute(element, str(name))
                if line is not None and column is not None:
                    found[(line, column)] = Node(element, str(name))
        return found

    @functools.cached_property
    def rules(self) -> dict[Position, OriginRule]:
        """Every ``<add origin>`` rule of the file by the position of its origin attribute."""
        found: dict[Position, OriginRule] = {}
        levels = self.config.levels if self.config is not None else ()
        for level in levels:
            for entry in level.cors.entries if level.cors is not None else ():
                where = entry.location
                if entry.value is not None and where.line is not None and where.column:
                    found[(where.line, where.column)] = entry.value
        return found

    def node(self, diagnostic: Diagnostic) -> Node | None:
        if diagnostic.line is None or diagnostic.column is None:
            return None
        return self.nodes.get((diagnostic.line, diagnostic.column))

    def offset(self, line: int | None, column: int | None) -> int | None:
        """The text offset of a position (column 1 when unknown); None without a line."""
        if line is None:
            return None
        try:
            return self.positions.offset(line, column or 1)
        except SpanError:
            return None

    def element_offset(self, element: etree._Element) -> int | None:
        """Offset of the ``<`` of an element's start tag, when the loader could locate it."""
        line, column = self.document.locator.element(element)
        return None if column is None else self.offset(line, column)

    def rule_of(self, element: etree._Element) -> OriginRule | None:
        """The compiled rule an ``<add origin>`` element became."""
        line, column = self.document.locator.attribute(element, "origin")
        if line is None or column is None:
            return None
        return self.rules.get((line, column))
