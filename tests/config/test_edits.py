"""Span edits (iiscors.config.edits): applied together, never overlapping, mapped back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iiscors.config.edits import (
    Edit,
    EditConflict,
    EditSet,
    apply_edits,
    original_offset,
)


def test_edits_apply_at_once_on_original_offsets() -> None:
    text = "0123456789"
    # Offsets are the original's, whatever the order given and the lengths replaced.
    assert apply_edits(text, [Edit(7, 9, "x"), Edit(0, 1, "AB"), Edit(4, 4, "+")]) == \
        "AB123+456x9"


def test_characters_outside_the_edits_are_kept() -> None:
    text = "<a\r\n\tb='1' />\ufeff"
    assert apply_edits(text, [Edit(text.index("1"), text.index("1") + 1, "2")]) == \
        "<a\r\n\tb='2' />\ufeff"
    assert apply_edits(text, []) == text


@pytest.mark.parametrize(("first", "second"), [
    (Edit(0, 5), Edit(4, 6)),            # overlapping spans
    (Edit(2, 2, "a"), Edit(2, 2, "b")),  # two insertions at one point: order unchosen
    (Edit(0, 5), Edit(3, 3, "x")),       # an insertion inside a deleted span
    (Edit(1, 3, "x"), Edit(1, 3, "x")),  # the same edit twice
], ids=["overlap", "two-inserts", "insert-inside", "twice"])
def test_overlapping_edits_are_refused(first: Edit, second: Edit) -> None:
    with pytest.raises(EditConflict):
        apply_edits("0123456789", [first, second])


def test_adjacent_edits_are_not_overlapping() -> None:
    assert apply_edits("abcdef", [Edit(0, 2, "X"), Edit(2, 4, "Y"), Edit(4, 4, "+")]) == \
        "XY+ef"


def test_invalid_spans_are_refused() -> None:
    with pytest.raises(ValueError):
        Edit(3, 2)
    with pytest.raises(ValueError):
        Edit(-1, 2)
    with pytest.raises(ValueError, match="past the end"):
        apply_edits("abc", [Edit(2, 4)])


def test_an_edit_set_takes_a_group_whole_or_not_at_all() -> None:
    edits = EditSet()
    assert edits.add([Edit(10, 12), Edit(20, 22, "x")])
    # One edit of this group overlaps: none of it is taken.
    assert not edits.add([Edit(0, 1, "y"), Edit(11, 13)])
    assert edits.edits == (Edit(10, 12), Edit(20, 22, "x"))
    # A group overlapping itself is refused too.
    assert not edits.add([Edit(30, 35), Edit(33, 34)])
    assert edits.add([Edit(12, 12, "i"), Edit(0, 1, "y")])
    assert [e.start for e in edits.edits] == [0, 10, 12, 20]
    assert len(edits) == 4


def test_original_offset_maps_back_through_edits() -> None:
    text = "aaaa bbbb cccc"
    edits = [Edit(0, 4, "A"), Edit(10, 14, "CCCCCC")]
    new = apply_edits(text, edits)
    assert new == "A bbbb CCCCCC"
    assert original_offset(edits, new.index("bbbb")) == text.index("bbbb")
    assert original_offset(edits, new.index("CCC") + 2) == 10  # inside a replacement
    assert original_offset(edits, len(new)) == len(text)


@given(st.text(alphabet="ab\r\n<>", max_size=30), st.data())
def test_untouched_characters_keep_their_place(text: str, data: st.DataObject) -> None:
    # Whatever edits an EditSet accepts, every character outside them is in the result, and
    # original_offset finds where it came from.
    edits = EditSet()
    for _ in range(data.draw(st.integers(0, 5))):
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, len(text)))
        edits.add([Edit(start, end, data.draw(st.text(alphabet="xy", max_size=3)))])
    accepted = list(edits.edits)
    new = apply_edits(text, accepted)
    for offset in range(len(text)):
        if any(e.start <= offset < e.end for e in accepted):
            continue
        # inserted text before it, and every edit ending at or before it, shift it
        moved = offset + sum(e.delta for e in accepted if e.end <= offset)
        assert new[moved] == text[offset]
        assert original_offset(accepted, moved) == offset
    assert len(new) == len(text) + sum(e.delta for e in accepted)
