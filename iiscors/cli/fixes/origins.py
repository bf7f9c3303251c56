"""Origin repairs (W204, W205, W210): the ``origin`` attribute's value rewritten in place.

Only what the reported codes ask for is changed: the scheme and host lower-cased (ASCII only; a
path is kept), a lone trailing slash dropped, a default port dropped.  The rewrite is refused
when the rule would earn a warning it did not have, when it would repeat another origin of the
file (an E302 duplicate), or when the rule, brought to life by the repair, is one the lint warns
about for its credentials.  The value is edited between its quotes, which are kept; a value
written with character references is left alone.
"""

from __future__ import annotations

import dataclasses
import re
import string
from collections.abc import Iterable

from iiscors.cli.fixes.context import Analysis, Node
from iiscors.cli.fixes.model import UNKNOWN_PLACE, Change, Effect, Fix, Skipped, skip
from iiscors.config.diagnostics import Diagnostic
from iiscors.config.edits import Edit
from iiscors.config.lint import rule_checks
from iiscors.config.xmlspans import SpanError, tag_containing
from iiscors.policy.origins import PatternKind, classify

#: Codes repaired by rewriting the origin attribute's value.
ORIGIN_CODES = frozenset({"W204", "W205", "W210"})
#: Warnings about a rule's credentials: a repair never brings such a rule to life.
CREDENTIAL_WARNINGS = frozenset({"W201", "W202", "W203"})

#: An origin pattern cut where the lint cuts it: scheme, then host[:port], then the rest.
_ORIGIN = re.compile(r"(?P<scheme>[^:/?#]*)://(?P<authority>[^/?#]*)(?P<rest>.*)", re.S)
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_ORIGIN_REASONS = {
    "W204": "upper-case letters outside ASCII: browsers send such a host in punycode; "
            "fix it by hand",
    "W205": "the origin has a path, query or fragment, not just a trailing slash: which "
            "origin was meant is for you to decide",
}


def origin_keys(analysis: Analysis) -> dict[str, int]:
    """Every origin the file adds, case-folded (as the configuration system compares keys),
    with its line: a rewritten origin must not become a duplicate (E302)."""
    if not any(d.code in ORIGIN_CODES for d in analysis.diagnostics):
        return {}
    return {(add.get("origin") or "").casefold(): add.sourceline or 0
            for add in analysis.document.root.iter("add") if add.get("origin") is not None}


def rewritten(origin: str, codes: Iterable[str]) -> str:
    """``origin`` with the repairs of ``codes`` made (only what those codes ask for)."""
    found = _ORIGIN.fullmatch(origin)
    if found is None:
        return origin
    wanted = set(codes)
    scheme, authority, rest = found.group("scheme", "authority", "rest")
    if "W210" in wanted:
        authority = _without_port(authority)
    if "W205" in wanted and rest == "/":
        rest = ""
    if "W204" in wanted:
        scheme, authority = scheme.translate(_ASCII_LOWER), authority.translate(_ASCII_LOWER)
    return f"{scheme}://{authority}{rest}"


def _without_port(authority: str) -> str:
    if authority.startswith("["):
        return authority[:authority.find("]") + 1]
    return authority.rpartition(":")[0] or authority


def origin_change(analysis: Analysis, node: Node, anchor: int, found: list[Diagnostic],
                  keys: dict[str, int]) -> tuple[Change | None, list[Skipped]]:
    """The rewrite of the origin ``found`` (its diagnostics, one place) point at, or why not.

    ``keys`` (:func:`origin_keys`) gains the rewritten origin, so that two repairs in one file
    never produce the same origin.
    """
    rule = analysis.rule_of(node.element)
    try:
        attribute = tag_containing(analysis.text, anchor).attribute("origin")
    except SpanError:
        attribute = None
    if node.attribute != "origin" or rule is None or attribute is None:
        return None, [skip(d, anchor, UNKNOWN_PLACE) for d in found]
    written = analysis.text[attribute.value_start:attribute.value_end]
    if written != rule.origin:
        return None, [skip(d, anchor, "the origin is written with character references or "
                           "white space the parser changes; fix it by hand") for d in found]
    codes = {d.code for d in found}
    new = rewritten(written, codes)
    before = {d.code for d in rule_checks(rule)}
    after = {d.code for d in rule_checks(dataclasses.replace(rule, origin=new))}
    reason = _origin_refusal(written, new, after - before, keys) or _risky(new, after)
    if reason is not None:
        return None, [skip(d, anchor, reason) for d in found]
    fixed = tuple(sorted(codes - after))
    skipped = [skip(d, anchor, _ORIGIN_REASONS.get(d.code, "the rewritten origin would still "
                                                     "be reported")) for d in found
               if d.code in after]
    if not fixed:
        return None, skipped
    keys[new.casefold()] = node.element.sourceline or 0
    effect = Effect(matches=new if classify(new) is not PatternKind.NEVER else None,
                    unmatched=written if classify(written) is not PatternKind.NEVER else None)
    fix = Fix(fixed, anchor, f'origin "{written}" -> "{new}"', effect)
    return Change((Edit(attribute.value_start, attribute.value_end, new),), (fix,)), skipped


def _risky(new: str, after: set[str]) -> str | None:
    # The rule matched no browser; repaired, it comes to life.  A rule the lint warns about
    # for its credentials (every site of a scheme, plain HTTP) is not brought to life silently.
    risky = sorted(after & CREDENTIAL_WARNINGS)
    if not risky:
        return None
    return (f'the repaired origin "{new}" would make the rule match browsers with credentials '
            f"it is warned about ({', '.join(risky)}): fix it by hand")


def _origin_refusal(written: str, new: str, introduced: set[str],
                    keys: dict[str, int]) -> str | None:
    if introduced:
        return (f'the repaired origin "{new}" would be reported for '
                f"{', '.join(sorted(introduced))}: fix it by hand")
    folded = new.casefold()
    if folded != written.casefold() and folded in keys:
        return (f'the repaired origin "{new}" would repeat the origin on line {keys[folded]} '
                "(a duplicate entry is an error): remove one of them by hand")
    return None
