"""Plan the repair of one file: analyse, repair, analyse again, and check the result.

:func:`plan_file` takes a file's bytes and returns a :class:`FilePlan`: the repaired text (or the
reason the file is refused) and every fix, placed at its line in the original file.

1. The bytes are analysed.  Errors make a configuration unusable (contract A8), and lint runs
   only without them, so a file with an error ``fix`` cannot repair is refused whole; the errors
   it can repair (identical duplicates, E302) are repaired first, in a round of their own.
2. The warnings of the (repaired) text are repaired in a second round.
3. The result is analysed once more and must have no error, none of the repaired diagnostics,
   and nothing that was not there before: otherwise the file is refused, nothing written.

Within a round every change is planned on the same text and gathered in an
:class:`~iiscors.config.edits.EditSet`; a change that would overlap another waits for the next
run, reported as skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from iiscors.cli.fixes.catalogue import FIXES
from iiscors.cli.fixes.context import Analysis
from iiscors.cli.fixes.fixers import plan_duplicates, plan_warnings
from iiscors.cli.fixes.model import Change, Located, Skipped
from iiscors.cli.fixes.source import SourceText, Unfixable, decode
from iiscors.config.diagnostics import Diagnostic
from iiscors.config.edits import Edit, EditSet, apply_edits, original_offset
from iiscors.config.load import check_config
from iiscors.config.xmlspans import TextPositions

#: The warnings ``fix`` repairs (E302 is the one error, handled in its own round).
FIXABLE_WARNINGS = frozenset(code for code in FIXES if code.startswith("W"))
#: How many errors a refusal lists before "and N more".
SHOWN_ERRORS = 3


@dataclass(frozen=True, slots=True)
class FilePlan:
    """What ``fix`` would do to one file.

    :param name: the display name.
    :param source: the decoded file (None when it could not be decoded).
    :param text: the repaired text (the original when nothing changes).
    :param fixes: the fixes, placed in the original file.
    :param skipped: fixable diagnostics left alone, placed in the original file.
    :param refused: why the file is left untouched, or None.
    """

    name: str
    source: SourceText | None
    text: str
    fixes: tuple[Located, ...] = ()
    skipped: tuple[Located, ...] = ()
    refused: str | None = None

    @property
    def changed(self) -> bool:
        return self.source is not None and self.refused is None and self.text != self.source.body


@dataclass
class _Round:
    """One round's edits (on the text the round started from) and what it did."""

    edits: tuple[Edit, ...]
    changes: list[Change] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def plan_file(data: bytes, name: str, max_bytes: int) -> FilePlan:
    """Plan the repair of a file's bytes (see the module docstring); never raises for a bad
    file: the plan says why it is refused."""
    try:
        return _plan(data, name, max_bytes)
    except Unfixable as exc:
        return FilePlan(name, None, "", refused=str(exc))


def _plan(data: bytes, name: str, max_bytes: int) -> FilePlan:
    try:
        source = decode(data)
    except Unfixable as exc:
        # Say what the loader says when it refuses the bytes too (contract A2), else why they
        # cannot be written back as they were.
        errors = [d for d in check_config(data, name=name, max_bytes=max_bytes) if d.is_error]
        if errors:
            raise Unfixable(_errors_message(errors)) from exc
        raise
    first = Analysis(source, source.body, name, max_bytes)
    rounds: list[_Round] = []
    analysis = first
    errors = [d for d in first.diagnostics if d.is_error]
    if errors:
        _refuse_unless_duplicates(errors)
        duplicates = _round(*plan_duplicates(first, errors))
        if duplicates.skipped or not duplicates.edits:
            raise Unfixable(_errors_message(errors))
        rounds.append(duplicates)
        analysis = Analysis(source, apply_edits(first.text, duplicates.edits), name, max_bytes)
        if any(d.is_error for d in analysis.diagnostics):
            raise Unfixable(_errors_message([d for d in analysis.diagnostics if d.is_error]))
    warnings = _round(*plan_warnings(analysis, FIXABLE_WARNINGS))
    rounds.append(warnings)
    text = apply_edits(analysis.text, warnings.edits)
    if warnings.edits:
        _verify(analysis, Analysis(source, text, name, max_bytes), warnings.changes)
    return _placed(name, source, text, rounds)


def _refuse_unless_duplicates(errors: Sequence[Diagnostic]) -> None:
    blocking = [d for d in errors if d.code != "E302"]
    if blocking:
        raise Unfixable(_errors_message(blocking))


def _errors_message(errors: Sequence[Diagnostic]) -> str:
    shown = "; ".join(f"line {d.line}: {d.code} {d.message}" if d.line else
                      f"{d.code} {d.message}" for d in errors[:SHOWN_ERRORS])
    more = f" (and {len(errors) - SHOWN_ERRORS} more)" if len(errors) > SHOWN_ERRORS else ""
    return (f"it has errors fix cannot repair ({shown}{more}); run iiscors validate and fix "
            "them first")


def _round(changes: list[Change], skipped: list[Skipped]) -> _Round:
    """Gather the changes that fit together, in text order; the others are skipped."""
    edits = EditSet()
    accepted: list[Change] = []
    for change in sorted(changes, key=lambda c: min(f.anchor for f in c.fixes)):
        if edits.add(change.edits):
            accepted.append(change)
        else:
            skipped.extend(Skipped(code, fix.anchor, "it overlaps another repair; run fix "
                                   "again") for fix in change.fixes for code in fix.codes)
    return _Round(edits.edits, accepted, skipped)


def _verify(before: Analysis, after: Analysis, changes: Iterable[Change]) -> None:
    """The repaired text has no error, the repaired diagnostics are gone and nothing new
    appeared (counted per code); else the file is refused: better no repair than a wrong one."""
    errors = [d for d in after.diagnostics if d.is_error]
    if errors:
        raise Unfixable("the repair would make the configuration invalid (" +
                        _errors_message(errors) + "); nothing was changed")
    expected = Counter(d.code for d in before.diagnostics)
    expected.subtract(code for change in changes for fix in change.fixes for code in fix.codes)
    found = Counter(d.code for d in after.diagnostics)
    excess = sorted(code for code, count in found.items() if count > expected[code])
    if excess:
        raise Unfixable(f"the repair would leave or add {', '.join(excess)}; nothing was "
                        "changed (please report this)")


def _placed(name: str, source: SourceText, text: str, rounds: list[_Round]) -> FilePlan:
    """Place each fix and skip at its line and column in the original file."""
    positions = TextPositions(source.body)
    fixes: list[Located] = []
    skipped: list[Located] = []
    for index, done in enumerate(rounds):
        earlier = [r.edits for r in rounds[:index]]
        for change in done.changes:
            for fix in change.fixes:
                line, column = positions.position(_back(fix.anchor, earlier))
                fixes.append(Located(line, column, fix.codes, fix.summary, fix.effect))
        for skip in done.skipped:
            place: tuple[int | None, int | None] = (None, None)
            if skip.anchor is not None:
                place = positions.position(_back(skip.anchor, earlier))
            skipped.append(Located(*place, (skip.code,), skip.reason))
    order = sorted(fixes, key=lambda f: (f.line or 0, f.column or 0))
    return FilePlan(name, source, text, tuple(order),
                    tuple(sorted(skipped, key=lambda s: (s.line or 0, s.column or 0))))


def _back(offset: int, earlier: list[tuple[Edit, ...]]) -> int:
    """An offset of a later round's text, in the original text."""
    for edits in reversed(earlier):
        offset = original_offset(edits, offset)
    return offset
