"""Where things are in the text of an XML document: start tags, attributes, whole elements.

The loader locates a node by line and column (:class:`iiscors.config.loader.Locator`); to edit the
file without re-serialising it (:mod:`iiscors.config.edits`), ``iiscors fix`` needs the exact
characters of an attribute's value, of an attribute with its leading space, or of an element
from its ``<`` to the end of its end tag.  This module finds them in the decoded text.

It only reads text that lxml has already parsed: it never judges well-formedness, and raises
:class:`SpanError` when the text is not what a well-formed document would hold at that place.
It knows what a tag scanner must not be fooled by: quoted values holding ``>`` (either quote),
comments, CDATA sections and processing instructions holding ``<`` or tag-like text.  Entities
are left as written: a value span is the raw text between the quotes.

Positions follow the loader: lines end at ``\\n`` (a ``\\r`` before it belongs to the line),
columns count code points from 1.  A rewrite that inserts lines (a migration adding elements)
takes :func:`line_ending` and :func:`indentation` from the text, so the file keeps its style.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

#: XML's white space (XML 1.0 section 2.3, production S).
_SPACE = " \t\r\n"
#: What may surround an element that has a line to itself.
_BLANK = " \t"
#: Constructs whose content is skipped, by their opening, with their closing.
_SKIPPED = (("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>"))


class SpanError(ValueError):
    """The text at this offset is not the construct asked for."""


class TextPositions:
    """Offsets to (line, column) and back, as the loader counts them."""

    __slots__ = ("_starts", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        starts = [0]
        index = text.find("\n")
        while index >= 0:
            starts.append(index + 1)
            index = text.find("\n", index + 1)
        self._starts = starts

    def offset(self, line: int, column: int) -> int:
        """The offset of 1-based ``line`` and ``column``; SpanError when outside the text."""
        if not 1 <= line <= len(self._starts) or column < 1:
            raise SpanError(f"no line {line} column {column} in the text")
        start = self._starts[line - 1]
        end = self._starts[line] if line < len(self._starts) else len(self._text) + 1
        offset = start + column - 1
        if offset >= end:
            raise SpanError(f"line {line} has no column {column}")
        return offset

    def position(self, offset: int) -> tuple[int, int]:
        """``(line, column)`` of an offset, both 1-based."""
        line = bisect.bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute of a start tag as written: ``name = "value"``.

    :param name: the name as written (a prefix included).
    :param start: offset of the name's first character.
    :param value_start: offset just after the opening quote.
    :param value_end: offset of the closing quote.
    :param quote: ``"`` or ``'``.
    """

    name: str
    start: int
    value_start: int
    value_end: int
    quote: str

    @property
    def end(self) -> int:
        """One past the closing quote."""
        return self.value_end + 1


@dataclass(frozen=True, slots=True)
class StartTag:
    """A start tag (or empty-element tag) from its ``<`` to one past its ``>``."""

    name: str
    start: int
    end: int
    self_closing: bool
    attributes: tuple[Attribute, ...]

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)


def _name_end(text: str, index: int) -> int:
    end = index
    while end < len(text) and text[end] not in _SPACE and text[end] not in "=/>":
        end += 1
    return end


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in _SPACE:
        index += 1
    return index


def start_tag(text: str, start: int) -> StartTag:
    """Read the start tag whose ``<`` is at ``start``."""
    if not text.startswith("<", start) or text.startswith(("</", "<!", "<?"), start):
        raise SpanError(f"no start tag at offset {start}")
    name_end = _name_end(text, start + 1)
    if name_end == start + 1:
        raise SpanError(f"no element name at offset {start}")
    attributes: list[Attribute] = []
    index = name_end
    while True:
        index = _skip_space(text, index)
        if text.startswith("/>", index):
            return StartTag(text[start + 1:name_end], start, index + 2, True, tuple(attributes))
        if text.startswith(">", index):
            return StartTag(text[start + 1:name_end], start, index + 1, False, tuple(attributes))
        attributes.append(_attribute(text, index))
        index = attributes[-1].end


def _attribute(text: str, index: int) -> Attribute:
    name_end = _name_end(text, index)
    equals = _skip_space(text, name_end)
    if name_end == index or not text.startswith("=", equals):
        raise SpanError(f"no attribute at offset {index}")
    quote_at = _skip_space(text, equals + 1)
    quote = text[quote_at:quote_at + 1]
    if quote not in ('"', "'"):
        raise SpanError(f"unquoted attribute value at offset {quote_at}")
    close = text.find(quote, quote_at + 1)
    if close < 0:
        raise SpanError(f"unterminated attribute value at offset {quote_at}")
    return Attribute(text[index:name_end], index, quote_at + 1, close, quote)


def tag_containing(text: str, offset: int) -> StartTag:
    """The start tag that holds ``offset`` (its ``<``, or a character of an attribute).

    An attribute value cannot hold a literal ``<`` in well-formed XML, so the nearest ``<`` at
    or before ``offset`` opens the tag.
    """
    start = text.rfind("<", 0, offset + 1)
    tag = start_tag(text, start) if start >= 0 else None
    if tag is None or not tag.start <= offset < tag.end:
        raise SpanError(f"offset {offset} is not inside a start tag")
    return tag


def element_end(text: str, tag: StartTag) -> int:
    """One past the end of the element that ``tag`` opens (its end tag, or the tag itself)."""
    if tag.self_closing:
        return tag.end
    depth, index = 1, tag.end
    while True:
        index = text.find("<", index)
        if index < 0:
            raise SpanError(f"element <{tag.name}> at offset {tag.start} is not closed")
        skipped = next((close for opening, close in _SKIPPED if text.startswith(opening, index)),
                       None)
        if skipped is not None:
            close = text.find(skipped, index + 2)
            if close < 0:
                raise SpanError(f"unterminated construct at offset {index}")
            index = close + len(skipped)
        elif text.startswith("</", index):
            close = text.find(">", index)
            if close < 0:
                raise SpanError(f"unterminated end tag at offset {index}")
            depth -= 1
            index = close + 1
            if depth == 0:
                return index
        elif text.startswith("<!", index):
            raise SpanError(f"unexpected declaration at offset {index}")
        else:
            inner = start_tag(text, index)
            depth += 0 if inner.self_closing else 1
            index = inner.end


def element_span(text: str, start: int) -> tuple[int, int]:
    """``(start, end)`` of the whole element whose start tag's ``<`` is at ``start``."""
    return start, element_end(text, start_tag(text, start))


def removal_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The characters to delete so that ``text[start:end]`` goes without a trace.

    An element alone on its line takes the whole line with it (indentation and line ending).
    Otherwise the blanks on one side go too, so that no gap of spaces is left behind: the
    blanks after it when something follows on its line, else the blanks before it.
    """
    line_start = text.rfind("\n", 0, start) + 1
    newline = text.find("\n", end)
    line_end = len(text) if newline < 0 else newline
    before = text[line_start:start]
    after = text[end:line_end]
    if not before.strip(_BLANK) and not after.strip(_BLANK + "\r"):
        return line_start, line_end + (1 if newline >= 0 else 0)
    if after.strip(_BLANK + "\r"):
        return start, end + len(after) - len(after.lstrip(_BLANK))
    return start - (len(before) - len(before.rstrip(_BLANK))), end


def attribute_removal_span(attribute: Attribute, text: str) -> tuple[int, int]:
    """The characters to delete to remove ``attribute``: itself and the white space before it
    (a start tag always has some there), so the tag keeps its layout."""
    start = attribute.start
    while start > 0 and text[start - 1] in _SPACE:
        start -= 1
    return start, attribute.end


def line_ending(text: str) -> str:
    """The file's line ending (its first one; ``\\n`` when it has none), for inserted lines."""
    newline = text.find("\n")
    return "\r\n" if newline > 0 and text[newline - 1] == "\r" else "\n"


def indentation(text: str, offset: int) -> str:
    """The blanks that start the line holding ``offset``: what a line inserted beside the
    element there is indented with."""
    line_start = text.rfind("\n", 0, offset) + 1
    line = text[line_start:offset]
    return line[:len(line) - len(line.lstrip(_BLANK))]
