"""Finding spans in XML text (iiscors.config.xmlspans): tags, attributes, elements, lines.

Positions must agree with the loader's (the diagnostics carry them), and the scanner must not be
fooled by quoted values holding ">" or the other quote, comments, CDATA sections or processing
instructions holding tag-like text.
"""

from __future__ import annotations

import pytest

from iiscors.config.loader import parse_bytes
from iiscors.config.xmlspans import (
    SpanError,
    TextPositions,
    attribute_removal_span,
    element_span,
    indentation,
    line_ending,
    removal_span,
    start_tag,
    tag_containing,
)

TRICKY = (
    "<configuration>\r\n"
    "  <!-- <add origin=\"commented\"/> -->\r\n"
    "  <x a='1 > \"2\"' b=\"it's\" c = \"&amp;&#65;\"><![CDATA[<not a=\"tag\">]]><?pi <y/> ?>\r\n"
    "    <y/>\r\n"
    "  </x>\r\n"
    "\t<z\r\n\t   q=\"1\"\r\n\t/>\r\n"
    "</configuration>"
)


def test_positions_agree_with_the_loader() -> None:
    # The n-th start tag's position from the loader's Locator, as an offset, is its "<".
    document, _ = parse_bytes(TRICKY.encode(), "t")
    assert document is not None
    positions = TextPositions(TRICKY)
    for element in (e for e in document.root.iter() if isinstance(e.tag, str)):
        line, column = document.locator.element(element)
        assert line is not None and column is not None
        offset = positions.offset(line, column)
        assert start_tag(TRICKY, offset).name == element.tag
        assert positions.position(offset) == (line, column)
        for name in element.attrib:
            line, column = document.locator.attribute(element, name)
            assert line is not None and column is not None
            assert TRICKY.startswith(name, positions.offset(line, column))


def test_positions_outside_the_text_are_refused() -> None:
    positions = TextPositions("ab\ncd")
    assert positions.offset(2, 3) == 5  # just past the end of the last line
    for line, column in ((0, 1), (3, 1), (1, 4), (1, 0)):
        with pytest.raises(SpanError):
            positions.offset(line, column)


def test_attributes_keep_their_quotes_and_entities() -> None:
    tag = start_tag(TRICKY, TRICKY.index("<x"))
    values = {a.name: (TRICKY[a.value_start:a.value_end], a.quote) for a in tag.attributes}
    assert values == {"a": ('1 > "2"', "'"), "b": ("it's", '"'), "c": ("&amp;&#65;", '"')}
    assert not tag.self_closing and TRICKY[tag.end - 1] == ">"
    c = tag.attribute("c")
    assert c is not None and TRICKY[c.start:c.end] == 'c = "&amp;&#65;"'
    assert tag.attribute("d") is None


def test_an_element_ends_after_comments_cdata_and_instructions() -> None:
    start = TRICKY.index("<x")
    start_, end = element_span(TRICKY, start)
    assert TRICKY[start_:end].endswith("</x>") and TRICKY[end:end + 2] == "\r\n"
    z = TRICKY.index("<z")
    assert TRICKY[slice(*element_span(TRICKY, z))] == "<z\r\n\t   q=\"1\"\r\n\t/>"


def test_tag_containing_an_attribute_offset() -> None:
    offset = TRICKY.index("b=")
    assert tag_containing(TRICKY, offset).name == "x"
    assert tag_containing(TRICKY, TRICKY.index("<x")).name == "x"
    with pytest.raises(SpanError):
        tag_containing(TRICKY, TRICKY.index("</x>") + 1)  # an end tag is no start tag


@pytest.mark.parametrize(("text", "target", "expected"), [
    ("<a>\r\n  <b/>\r\n</a>", "<b/>", "<a>\r\n</a>"),                 # alone: the whole line
    ("<a>\n\t<b/>  \n</a>", "<b/>", "<a>\n</a>"),                      # trailing blanks too
    ("<a>\n  <c/> <b/>\n</a>", "<b/>", "<a>\n  <c/>\n</a>"),           # after a sibling
    ("<a>\n  <b/> <c/>\n</a>", "<b/>", "<a>\n  <c/>\n</a>"),           # before a sibling
    ("<a><b/></a>", "<b/>", "<a></a>"),                                # inline
    ("<a>\n  <b/> <!-- why -->\n</a>", "<b/>", "<a>\n  <!-- why -->\n</a>"),
    ("<a/>\n<b/>", "<b/>", "<a/>\n"),                                  # last line, no newline
], ids=["crlf-line", "blanks", "after", "before", "inline", "comment-kept", "last-line"])
def test_removal_spans(text: str, target: str, expected: str) -> None:
    start = text.index(target)
    cut = removal_span(text, start, start + len(target))
    assert text[:cut[0]] + text[cut[1]:] == expected


@pytest.mark.parametrize(("text", "name", "expected"), [
    ('<add origin="*" allowCredentials="true" />', "allowCredentials", '<add origin="*" />'),
    ("<add\r\n  allowCredentials='true'\r\n  origin=\"*\"/>", "allowCredentials",
     "<add\r\n  origin=\"*\"/>"),
    ('<add origin="*"\n     allowCredentials="true"\n     maxAge="5" />', "allowCredentials",
     '<add origin="*"\n     maxAge="5" />'),
], ids=["inline", "first-on-own-line", "middle-on-own-line"])
def test_attribute_removal_keeps_the_tag_layout(text: str, name: str, expected: str) -> None:
    attribute = start_tag(text, 0).attribute(name)
    assert attribute is not None
    start, end = attribute_removal_span(attribute, text)
    assert text[:start] + text[end:] == expected


@pytest.mark.parametrize("text", ["</a>", "<!-- x -->", "<a b>", "<a b='1>", "<a b=1>", "<",
                                  "<a b='1'"])
def test_what_is_not_a_start_tag_is_refused(text: str) -> None:
    with pytest.raises(SpanError):
        start_tag(text, 0)


def test_an_unclosed_element_is_refused() -> None:
    with pytest.raises(SpanError):
        element_span("<a><b></a>", 0)
    with pytest.raises(SpanError):
        element_span("<a><!-- x ", 0)


def test_inserted_lines_can_match_the_file() -> None:
    assert line_ending(TRICKY) == "\r\n"
    assert line_ending("<a>\n<b/></a>") == "\n" and line_ending("<a/>") == "\n"
    assert indentation(TRICKY, TRICKY.index("\n    <y/>") + 5) == "    "
    assert indentation(TRICKY, TRICKY.index("<z")) == "\t"
    assert indentation("<a/>", 0) == ""
