"""Span edits: change a text in chosen places and keep every other character as it was.

``iiscors fix`` repairs web.config files without re-serialising them: lxml would rewrite what
lies between the tags (attribute quoting, entity spelling, line endings, the declaration).
Instead a repair is a list of :class:`Edit` on the original text (characters ``start`` to
``end`` replaced by ``replacement``), and the edits are applied together:

- :func:`apply_edits` applies a list at once and refuses any two that overlap;
- :class:`EditSet` collects groups of edits one group at a time, each group all or nothing, so
  that a repair made of several spans (a migration rewriting several elements) either fits
  beside the others or is left out whole;
- :func:`original_offset` maps an offset of the edited text back to the original, so that a
  report can name the line the user sees in the unedited file.

Offsets index a ``str`` (code points), as the loader's line and column do.  Nothing here knows
XML: :mod:`iiscors.config.xmlspans` finds the spans, :mod:`iiscors.cli.fixes` decides them.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Edit:
    """Replace ``text[start:end]`` with ``replacement`` (an insertion when start == end).

    :param start: first character replaced, 0-based.
    :param end: one past the last character replaced; ``end >= start``.
    :param replacement: the new text ("" deletes the span).
    """

    start: int
    end: int
    replacement: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"invalid span {self.start}..{self.end}")

    @property
    def delta(self) -> int:
        """How much longer the text gets."""
        return len(self.replacement) - (self.end - self.start)


class EditConflict(ValueError):
    """Two edits touch the same characters (or insert at the same place): their combined
    effect would depend on an order nobody chose."""

    def __init__(self, first: Edit, second: Edit) -> None:
        self.first, self.second = first, second
        super().__init__(f"overlapping edits {first.start}..{first.end} and "
                         f"{second.start}..{second.end}")


def _clash(before: Edit, after: Edit) -> bool:
    """Do two edits, sorted, overlap?  Adjacent spans do not; two insertions at one point do."""
    if before.end > after.start:
        return True
    return before.start == before.end == after.start == after.end


def ordered(edits: Iterable[Edit], length: int) -> list[Edit]:
    """The edits sorted by position; raises :class:`EditConflict` or ValueError (a span past
    the end of a text of ``length`` characters)."""
    result = sorted(edits)
    for previous, current in itertools.pairwise(result):
        if _clash(previous, current):
            raise EditConflict(previous, current)
    if result and result[-1].end > length:
        raise ValueError(f"edit {result[-1].start}..{result[-1].end} is past the end "
                         f"of the text ({length})")
    return result


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """``text`` with every edit applied; characters outside the edits are kept as they are."""
    parts: list[str] = []
    cursor = 0
    for edit in ordered(edits, len(text)):
        parts.append(text[cursor:edit.start])
        parts.append(edit.replacement)
        cursor = edit.end
    parts.append(text[cursor:])
    return "".join(parts)


def original_offset(edits: Sequence[Edit], offset: int) -> int:
    """Where ``offset`` of the edited text was in the original (``edits`` as applied).

    An offset inside a replacement maps to the start of the span it replaced.
    """
    delta = 0
    for edit in sorted(edits):
        new_start = edit.start + delta
        if offset < new_start:
            break
        if offset < new_start + len(edit.replacement):
            return edit.start
        delta += edit.delta
    return offset - delta


class EditSet:
    """Edits gathered group by group, never overlapping (see the module docstring).

    Adding a group costs a binary search per edit, so thousands of repairs in one large file
    stay cheap.
    """

    __slots__ = ("_edits", "_starts")

    def __init__(self) -> None:
        self._edits: list[Edit] = []
        self._starts: list[tuple[int, int]] = []

    def __len__(self) -> int:
        return len(self._edits)

    @property
    def edits(self) -> tuple[Edit, ...]:
        return tuple(self._edits)

    def fits(self, group: Iterable[Edit]) -> bool:
        """Would ``group`` overlap neither the edits already here nor itself?"""
        candidates = list(group)
        try:
            ordered(candidates, 2**63)
        except EditConflict:
            return False
        for edit in candidates:
            index = bisect.bisect_left(self._starts, (edit.start, edit.end))
            if index > 0 and _clash(self._edits[index - 1], edit):
                return False
            if index < len(self._edits) and _clash(edit, self._edits[index]):
                return False
        return True

    def add(self, group: Iterable[Edit]) -> bool:
        """Add every edit of ``group``, or none of them when one would overlap; say which."""
        candidates = list(group)
        if not self.fits(candidates):
            return False
        for edit in candidates:
            index = bisect.bisect_left(self._starts, (edit.start, edit.end))
            self._edits.insert(index, edit)
            self._starts.insert(index, (edit.start, edit.end))
        return True
