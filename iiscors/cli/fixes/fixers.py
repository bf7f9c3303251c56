"""The repairs, code by code: from an :class:`~iiscors.cli.fixes.context.Analysis` to changes.

Each repair edits spans of the text (:mod:`iiscors.config.xmlspans` finds them) and states its
effect (:class:`~iiscors.cli.fixes.model.Effect`).  What each code's repair does, and when it is
left alone, is :data:`iiscors.cli.fixes.catalogue.FIXES`; this module is the how.

- origins (W204, W205, W210): the value of the ``origin`` attribute is rewritten in place, its
  quotes kept;
- ``allowCredentials`` on a lone ``*`` rule (W201): the attribute goes, with the space before it;
- list entries (W103, W213) and identical duplicates (E302): the element goes, with its
  line when it has one to itself; a list element left empty (and without attributes) goes too.
"""

from __future__ import annotations

import dataclasses
import re
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lxml import etree

from iiscors.cli.fixes.context import Analysis, Node
from iiscors.cli.fixes.model import Change, Effect, Fix, Skipped
from iiscors.config.diagnostics import Diagnostic
from iiscors.config.edits import Edit
from iiscors.config.lint import rule_checks
from iiscors.config.xmlspans import (
    SpanError,
    attribute_removal_span,
    element_span,
    removal_span,
    tag_containing,
)
from iiscors.policy.origins import PatternKind, classify

#: Codes repaired by rewriting the origin attribute's value.
ORIGIN_CODES = frozenset({"W204", "W205", "W210"})
#: The lists inside an ``<add origin>`` rule: nothing in them is inherited (contract A9).
RULE_LISTS = ("allowHeaders", "allowMethods", "exposeHeaders")
#: List entries whose removal a warning asks for: code -> (list element, response header).
ENTRY_CODES = {"W213": ("allowMethods", "Access-Control-Allow-Methods")}
CREDENTIALS_HEADER = "Access-Control-Allow-Credentials"
#: Warnings about a rule's credentials: a repair never brings such a rule to life.
CREDENTIAL_WARNINGS = frozenset({"W201", "W202", "W203"})

#: An origin pattern cut where the lint cuts it: scheme, then host[:port], then the rest.
_ORIGIN = re.compile(r"(?P<scheme>[^:/?#]*)://(?P<authority>[^/?#]*)(?P<rest>.*)", re.S)
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_UNKNOWN_PLACE = "its place in the text is not known; fix it by hand"
_ORIGIN_REASONS = {
    "W204": "upper-case letters outside ASCII: browsers send such a host in punycode; "
            "fix it by hand",
    "W205": "the origin has a path, query or fragment, not just a trailing slash: which "
            "origin was meant is for you to decide",
}


@dataclass(frozen=True, slots=True)
class Removal:
    """An element to delete, and the fix that deletes it."""

    element: etree._Element
    fix: Fix


Outcome = tuple[list[Change], list[Skipped]]


def _skip(diagnostic: Diagnostic, anchor: int | None, reason: str) -> Skipped:
    return Skipped(diagnostic.code, anchor, reason)


def _by_place(diagnostics: Iterable[Diagnostic]) -> dict[tuple[int | None, int | None],
                                                         list[Diagnostic]]:
    places: dict[tuple[int | None, int | None], list[Diagnostic]] = {}
    for diagnostic in diagnostics:
        places.setdefault((diagnostic.line, diagnostic.column), []).append(diagnostic)
    return places


# -- errors: identical duplicates (E302) ----------------------------------------------------

def plan_duplicates(analysis: Analysis, errors: list[Diagnostic]) -> Outcome:
    """Changes for the E302 duplicates that are identical to the entry they repeat."""
    removals: list[Removal] = []
    skipped: list[Skipped] = []
    for diagnostic in errors:
        anchor = analysis.offset(diagnostic.line, diagnostic.column)
        node = analysis.node(diagnostic)
        if node is None or anchor is None:
            skipped.append(_skip(diagnostic, anchor, _UNKNOWN_PLACE))
            continue
        earlier = _earlier_entry(node)
        if earlier is None:
            skipped.append(_skip(diagnostic, anchor, "it repeats an entry of another level (a "
                                 "<location> or the section it inherits): merge them by hand"))
        elif not same_entry(earlier, node.element):
            skipped.append(_skip(diagnostic, anchor, f"it differs from the entry on line "
                                 f"{earlier.sourceline} (attributes or children): keep the "
                                 "one you mean"))
        else:
            summary = (f"removed the repeated {_shown(node)}, identical to the one on line "
                       f"{earlier.sourceline}")
            removals.append(Removal(node.element, Fix(("E302",), anchor, summary,
                                                      Effect(loadable=True))))
    changes, more = removal_changes(analysis, removals)
    return changes, skipped + more


def _earlier_entry(node: Node) -> etree._Element | None:
    """The entry of the same collection element that ``node``'s element repeats, replaying the
    add/remove/clear before it (contract A6); None when the repeated entry is elsewhere."""
    parent = node.element.getparent()
    if parent is None:
        return None
    wanted = (node.element.get(node.attribute) or "").casefold()
    items: dict[str, etree._Element] = {}
    for child in parent:
        if child is node.element:
            return items.get(wanted)
        key = (child.get(node.attribute) or "").casefold()
        if child.tag == "clear":
            items.clear()
        elif child.tag == "remove":
            items.pop(key, None)
        elif child.tag == "add":
            items.setdefault(key, child)
    return None


def same_entry(first: etree._Element, second: etree._Element) -> bool:
    """Same name, same attributes with the same values, same child elements (comments and
    white space aside): entries that mean exactly the same."""
    if first.tag != second.tag or dict(first.attrib) != dict(second.attrib):
        return False
    mine = [child for child in first if isinstance(child.tag, str)]
    theirs = [child for child in second if isinstance(child.tag, str)]
    return len(mine) == len(theirs) and all(
        same_entry(a, b) for a, b in zip(mine, theirs, strict=True))


def _shown(node: Node) -> str:
    return f'<{node.element.tag!s} {node.attribute}="{node.element.get(node.attribute)}">'


# -- warnings ---------------------------------------------------------------------------------

def plan_warnings(analysis: Analysis, fixable: frozenset[str]) -> Outcome:
    """Changes for every warning of a ``fixable`` code that can be repaired unambiguously."""
    changes: list[Change] = []
    skipped: list[Skipped] = []
    removals: list[Removal] = []
    origin_keys = _origin_keys(analysis)
    wanted = [d for d in analysis.diagnostics if d.code in fixable and not d.is_error]
    for (line, column), found in _by_place(wanted).items():
        anchor = analysis.offset(line, column)
        node = analysis.node(found[0])
        if node is None or anchor is None:
            skipped.extend(_skip(d, anchor, _UNKNOWN_PLACE) for d in found)
            continue
        origin = [d for d in found if d.code in ORIGIN_CODES]
        if origin:
            change, more = _origin_change(analysis, node, anchor, origin, origin_keys)
            changes.extend([change] if change is not None else [])
            skipped.extend(more)
        for diagnostic in (d for d in found if d.code not in ORIGIN_CODES):
            result = _warning_fix(analysis, node, anchor, diagnostic)
            if isinstance(result, Skipped):
                skipped.append(result)
            elif isinstance(result, Removal):
                removals.append(result)
            else:
                changes.append(result)
    more_changes, more_skipped = removal_changes(analysis, removals)
    return changes + more_changes, skipped + more_skipped


def _warning_fix(analysis: Analysis, node: Node, anchor: int,
                 diagnostic: Diagnostic) -> Change | Removal | Skipped:
    code = diagnostic.code
    if code == "W201":
        return _credentials_change(analysis, node, anchor, diagnostic)
    element = node.element
    parent = element.getparent()
    parent_tag = parent.tag if parent is not None else None
    if code == "W103":
        if element.tag != "remove" or parent_tag not in RULE_LISTS:
            return _skip(diagnostic, anchor, "a <remove> of an origin may remove one inherited "
                         "from a parent web.config or applicationHost.config, which fix cannot "
                         "see: remove it by hand if it is not needed")
        return Removal(element, Fix((code,), anchor, f"removed {_shown(node)} from "
                                    f"<{parent_tag}>: there is nothing to remove"))
    list_tag, header = ENTRY_CODES[code]
    if element.tag != "add" or parent_tag != list_tag:
        return _skip(diagnostic, anchor, _UNKNOWN_PLACE)
    value = element.get(node.attribute) or ""
    return Removal(element, Fix((code,), anchor, f"removed {_shown(node)} from <{list_tag}>",
                                Effect(dropped=(header, value))))


def _credentials_change(analysis: Analysis, node: Node, anchor: int,
                        diagnostic: Diagnostic) -> Change | Skipped:
    rule = analysis.rule_of(node.element)
    if node.attribute != "allowCredentials" or rule is None or analysis.config is None:
        return _skip(diagnostic, anchor, _UNKNOWN_PLACE)
    sections = [s for s in analysis.config.scopes.values() if any(r is rule for r in s.rules)]
    if any(len(section.rules) != 1 for section in sections):
        # Contract B10: beside other rules, * echoes the Origin and credentials work for every
        # site.  Dropping them would change who can make credentialed requests.
        return _skip(diagnostic, anchor, "beside other rules the * rule echoes the Origin, so "
                     "credentials work for every site: whether to keep that is for you to "
                     "decide")
    try:
        attribute = tag_containing(analysis.text, anchor).attribute("allowCredentials")
    except SpanError:
        attribute = None
    if attribute is None:
        return _skip(diagnostic, anchor, _UNKNOWN_PLACE)
    start, end = attribute_removal_span(attribute, analysis.text)
    written = analysis.text[attribute.start:attribute.end]
    fix = Fix(("W201",), anchor, f'removed {written} from the origin="*" rule, alone where '
              "it applies (it sends Access-Control-Allow-Origin: *, which browsers refuse "
              "with credentials)", Effect(dropped=(CREDENTIALS_HEADER, "true")))
    return Change((Edit(start, end),), (fix,))


# -- origins ------------------------------------------------------------------------------------

def _origin_keys(analysis: Analysis) -> dict[str, int]:
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


def _origin_change(analysis: Analysis, node: Node, anchor: int, found: list[Diagnostic],
                   keys: dict[str, int]) -> tuple[Change | None, list[Skipped]]:
    rule = analysis.rule_of(node.element)
    try:
        attribute = tag_containing(analysis.text, anchor).attribute("origin")
    except SpanError:
        attribute = None
    if node.attribute != "origin" or rule is None or attribute is None:
        return None, [_skip(d, anchor, _UNKNOWN_PLACE) for d in found]
    written = analysis.text[attribute.value_start:attribute.value_end]
    if written != rule.origin:
        return None, [_skip(d, anchor, "the origin is written with character references or "
                            "white space the parser changes; fix it by hand") for d in found]
    codes = {d.code for d in found}
    new = rewritten(written, codes)
    before = {d.code for d in rule_checks(rule)}
    after = {d.code for d in rule_checks(dataclasses.replace(rule, origin=new))}
    reason = _origin_refusal(written, new, after - before, keys) or _risky(new, after)
    if reason is not None:
        return None, [_skip(d, anchor, reason) for d in found]
    fixed = tuple(sorted(codes - after))
    skipped = [_skip(d, anchor, _ORIGIN_REASONS.get(d.code, "the rewritten origin would still "
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


# -- removing elements --------------------------------------------------------------------------

def removal_changes(analysis: Analysis, removals: list[Removal]) -> Outcome:
    """One change per removed element; one for a whole list element left empty."""
    changes: list[Change] = []
    skipped: list[Skipped] = []
    for parent, group in _by_parent(removals):
        if _emptied(parent, group):
            targets = [(parent, tuple(r.fix for r in group))]
        else:
            targets = [(r.element, (r.fix,)) for r in group]
        for element, fixes in targets:
            span = None if element is None else _element_removal(analysis, element)
            if span is None:
                skipped.extend(Skipped(code, f.anchor, _UNKNOWN_PLACE)
                               for f in fixes for code in f.codes)
            else:
                changes.append(Change((Edit(*span),), fixes))
    return changes, skipped


def _by_parent(removals: list[Removal]) -> Iterator[tuple[etree._Element | None,
                                                          list[Removal]]]:
    groups: dict[int, tuple[etree._Element | None, list[Removal]]] = {}
    for removal in removals:
        parent = removal.element.getparent()
        groups.setdefault(id(parent), (parent, []))[1].append(removal)
    yield from groups.values()


def _emptied(parent: etree._Element | None, group: list[Removal]) -> bool:
    """Would ``parent`` (a rule's list) hold nothing once ``group`` is removed?  An empty list
    means no list (contract A3), so it can go too, unless an attribute makes it say more."""
    if parent is None or parent.tag not in RULE_LISTS or len(parent.attrib):
        return False
    removed = {id(r.element) for r in group}
    return (all(id(child) in removed for child in parent)
            and not (parent.text or "").strip())


def _element_removal(analysis: Analysis, element: etree._Element) -> tuple[int, int] | None:
    offset = analysis.element_offset(element)
    if offset is None:
        return None
    try:
        return removal_span(analysis.text, *element_span(analysis.text, offset))
    except SpanError:
        return None
