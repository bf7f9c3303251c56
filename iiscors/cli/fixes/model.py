"""What a repair is: the edits, and what the report announces about them.

A :class:`Change` is one unit of edits (all applied or none) repairing one or more diagnostics,
each described by a :class:`Fix`.  The :class:`Effect` of a fix says exactly what it changes in
the answers, in data rather than prose, so that a test can check that the answers before and
after differ only there (and a later ``iiscors diff`` can be held to it).  A fixable diagnostic
left alone is a :class:`Skipped`, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from iiscors.config.diagnostics import Diagnostic
from iiscors.config.edits import Edit

#: Response headers that carry one value: dropping it drops the header.
SINGLE_VALUE_HEADERS = frozenset({"Access-Control-Allow-Credentials"})


@dataclass(frozen=True, slots=True)
class Effect:
    """What a fix changes in the answers; all fields empty means nothing.

    :param matches: an origin pattern that now matches what browsers send (it matched no
        browser's Origin before).
    :param unmatched: the pattern as it was written, which no longer matches anything (only a
        client that is not a browser could have sent it).
    :param dropped: ``(response header, value)``: the value is no longer sent in that header.
    :param loadable: the configuration, refused before (IIS answers 500.19), can be loaded.
    """

    matches: str | None = None
    unmatched: str | None = None
    dropped: tuple[str, str] | None = None
    loadable: bool = False

    def describe(self) -> str:
        """The announcement, in words."""
        if self.matches is not None:
            text = (f"the rule now matches Origin {self.matches} as browsers send it (before, "
                    "it matched no browser)")
            if self.unmatched is not None:
                text += f"; it no longer matches {self.unmatched}, which no browser sends"
            return text
        if self.unmatched is not None:
            return f"the rule no longer matches {self.unmatched}, which no browser sends"
        if self.dropped is not None:
            header, value = self.dropped
            if header in SINGLE_VALUE_HEADERS:
                return f"answers no longer send {header}: {value}"
            return f"answers no longer list {value} in {header}"
        if self.loadable:
            return "the configuration can now be loaded (IIS refused the duplicate)"
        return "no change in behaviour"


#: The effect of a fix that changes no answer.
NO_EFFECT = Effect()

#: Why a diagnostic is left alone when the text at its position is not what it should be.
UNKNOWN_PLACE = "its place in the text is not known; fix it by hand"


@dataclass(frozen=True, slots=True)
class Fix:
    """One repaired problem, as reported.

    :param codes: the diagnostic codes it repairs (an origin rewrite may repair several).
    :param anchor: offset of the diagnostic in the text the fix was planned on.
    :param summary: what is edited, in a few words.
    :param effect: what changes in the answers.
    """

    codes: tuple[str, ...]
    anchor: int
    summary: str
    effect: Effect = NO_EFFECT


@dataclass(frozen=True, slots=True)
class Change:
    """A unit of edits and the fixes it makes: applied whole, or not at all."""

    edits: tuple[Edit, ...]
    fixes: tuple[Fix, ...]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A diagnostic of a fixable code that ``fix`` leaves alone, and why."""

    code: str
    anchor: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Located:
    """A fix or a skipped diagnostic placed in the original file, for the report."""

    line: int | None
    column: int | None
    codes: tuple[str, ...]
    text: str
    effect: Effect | None = None


def skip(diagnostic: Diagnostic, anchor: int | None, reason: str) -> Skipped:
    """A diagnostic left alone, at ``anchor``, for ``reason``."""
    return Skipped(diagnostic.code, anchor, reason)
