"""A section's rules are placed (line and column of each ``origin``) by counting the line feeds
between one rule and the next, and looking back for the line feed before each only as far as
the rule before (issue 17: a third less time than bisecting a table of every line's start, and
the table is then not built for a large file whose other places are a few near the top).  Here:
the same places as a plain count from the start of the text, in one piece or in many, in one
call or in several; the table built only once single places have counted more than
:data:`COUNTED_CHARACTERS`; and no line read again for each rule on it.  Nothing is timed."""

from __future__ import annotations

import random
from itertools import pairwise
from pathlib import Path

import pytest

import iiscors.config.loader as loader_module
from iiscors import load_config
from iiscors.config.loader import Locator, Place, Text, parse_bytes


def reference(text: str, offset: int) -> tuple[int, int]:
    """The line and column of ``offset``, counted from the start."""
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


def cut_before_tags(text: str, rng: random.Random) -> Text:
    """``text`` in pieces, each but the first beginning with a "<", cut at random ones."""
    cuts = sorted({at for at in range(1, len(text)) if text[at] == "<" and rng.random() < 0.4})
    bounds = [0, *cuts, len(text)]
    return Text([text[a:b] for a, b in pairwise(bounds)] or [""])


def random_text(rng: random.Random) -> str:
    parts = ["<a>", "\n", "\r\n", "x", "yy", "<b c='1'/>", "\n\n", " " * 7, "</a>", "é"]
    return "".join(rng.choice(parts) for _ in range(rng.randrange(0, 60)))


@pytest.mark.parametrize("seed", range(300))
def test_places_are_those_of_a_count_from_the_start_in_any_pieces_and_calls(seed: int) -> None:
    rng = random.Random(seed)
    text = random_text(rng)
    whole = Text([text])
    pieces = cut_before_tags(text, rng)
    assert "".join(pieces.pieces) == text
    offsets = sorted(rng.choices(range(len(text) + 1), k=rng.randrange(0, 12)))
    expected = [reference(text, offset) for offset in offsets]
    for shaped in (whole, pieces):
        lines, columns, _ = shaped.lines_and_columns(offsets)
        assert list(zip(lines, columns, strict=True)) == expected, (text, offsets)
        # in two calls, the second from the place where the first ended
        split = rng.randrange(0, len(offsets) + 1)
        first = shaped.lines_and_columns(offsets[:split])
        second = shaped.lines_and_columns(offsets[split:], first[2])
        assert list(zip(first[0] + second[0], first[1] + second[1], strict=True)) == expected


def test_the_place_carried_between_calls_is_the_last_offset_s() -> None:
    text = "ab\ncd\nef"
    place: Place = Text([text]).lines_and_columns([4])[2]
    assert place == (4, 2, 2)
    assert Text([text]).lines_and_columns([], place) == ([], [], place)
    assert Text([text]).lines_and_columns([7], place)[:2] == ([3], [2])


class Scanned(str):
    """A text that adds up the characters its ``rfind`` and ``count`` calls look at."""

    scanned = 0

    def rfind(self, sub: str, start: int | None = None, end: int | None = None) -> int:  # type: ignore[override]
        low, high = start or 0, len(self) if end is None else end
        Scanned.scanned += max(high - low, 0)
        return str.rfind(self, sub, low, high)

    def count(self, sub: str, start: int | None = None, end: int | None = None) -> int:  # type: ignore[override]
        low, high = start or 0, len(self) if end is None else end
        Scanned.scanned += max(high - low, 0)
        return str.count(self, sub, low, high)


def test_rules_on_one_long_line_are_placed_reading_the_line_once() -> None:
    """A minified web.config: 2,000 rules on one line.  Looking back for each rule's line feed
    from the start would read the line again for each rule (the square of its length)."""
    rule = '<add origin="https://a.example" />'
    text = Scanned("<cors>" + rule * 2000 + "</cors>\n")
    offsets = [6 + len(rule) * k + 5 for k in range(2000)]
    Scanned.scanned = 0
    lines, columns, _ = Text([text]).lines_and_columns(offsets)
    assert lines == [1] * 2000 and columns == [offset + 1 for offset in offsets]
    assert Scanned.scanned <= 2 * len(text)


def bare_section(rules: int, *, between: str = "\n   ") -> bytes:
    body = between.join(f'<add origin="https://o{k}.example" />' for k in range(rules))
    return ('<?xml version="1.0"?>\n<configuration>\n <system.webServer>\n'
            f'  <cors enabled="true" failUnlistedOrigins="true">\n   {body}\n  </cors>\n'
            " </system.webServer>\n</configuration>\n").encode()


@pytest.mark.parametrize("between", ["\n   ", " ", "\r\n\t", "<!-- a\ncomment -->\n"])
def test_a_section_s_rules_are_placed_without_the_table_of_line_starts(between: str) -> None:
    data = bare_section(3000, between=between)
    document, diagnostics = parse_bytes(data, "web.config")
    assert document is not None and not diagnostics
    locator = document.locator
    rules = list(document.root.iter("add"))
    found = locator.first_attributes(rules, "origin")
    assert found is not None
    text = data.decode()
    expected = [reference(text, text.index(f'"https://o{k}.example"') - len("origin="))
                for k in range(3000)]
    assert list(zip(*found, strict=True)) == expected
    assert locator._line_starts == []  # the table was not built


def test_a_large_load_builds_no_table_and_places_every_rule(tmp_path: Path) -> None:
    data = bare_section(5000)
    path = tmp_path / "web.config"
    path.write_bytes(data)
    built: list[int] = []
    real = loader_module._line_starts

    def recorded(text: str | Text) -> list[int]:
        built.append(1)
        return real(text)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loader_module, "_line_starts", recorded)
        config = load_config(str(path), max_bytes=len(data) + 1)
    assert built == []
    text = data.decode()
    rules = list(config.section_for("/").rules)
    assert len(rules) == 5000
    assert [(rule.location.line, rule.location.column) for rule in rules] == [
        reference(text, text.index(f'"https://o{k}.example"') - len("origin="))
        for k in range(5000)]


def test_single_places_are_counted_until_the_budget_then_looked_up(
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = bare_section(400)
    text = data.decode()
    document, _ = parse_bytes(data, "web.config")
    assert document is not None
    monkeypatch.setattr(loader_module, "COUNTED_CHARACTERS", len(text))
    locator = Locator(text, document.root)
    rules = list(document.root.iter("add"))
    # near the top: counted, no table
    assert locator.element(rules[0]) == reference(text, text.index("<add"))
    assert locator._line_starts == []
    # each place counts the text before it: past the budget, the table is built, once
    for rule in rules:
        at = text.index(f'"{rule.get("origin")}"') - len("origin=")
        assert locator.attribute(rule, "origin") == reference(text, at)
    assert locator._line_starts != []
    starts = locator._line_starts
    assert locator.element(rules[-1]) == reference(text, text.rindex("<add"))
    assert locator._line_starts is starts


def test_places_on_one_line_share_one_line_number_counted_or_looked_up(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Location on a line holds one int object for it (memory), whichever way it was
    found."""
    far = "\n" * 400
    data = (f'<configuration>{far}<add origin="https://a.example" />\n</configuration>').encode()
    document, _ = parse_bytes(data, "web.config")
    assert document is not None
    for budget in (1 << 20, 0):  # counted; the table
        monkeypatch.setattr(loader_module, "COUNTED_CHARACTERS", budget)
        locator = Locator(data.decode(), document.root)
        line = locator.attribute(document.root[0], "origin")[0]
        assert line == 401 and line is locator.element(document.root[0])[0]


def test_elements_out_of_order_across_slices_are_not_placed_by_counting() -> None:
    """Each slice of a section's rules is in order, but the second begins before the first
    ended: placed from the one before, it would get wrong places; None (ask attribute)."""
    data = bare_section(2 * loader_module.ELEMENT_SLICE)
    document, _ = parse_bytes(data, "web.config")
    assert document is not None
    rules = list(document.root.iter("add"))
    half = loader_module.ELEMENT_SLICE
    assert document.locator.first_attributes(rules[half:] + rules[:half], "origin") is None
    assert document.locator.first_attributes(rules, "origin") is not None
