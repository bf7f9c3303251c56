"""Repairs that delete elements: identical duplicates (E302) and list entries (W103, W213).

An element goes from its ``<`` to the end of its end tag, with its line when it has one to
itself (:func:`iiscors.config.xmlspans.removal_span`).  A rule's list element (allowHeaders,
allowMethods, exposeHeaders) left with nothing in it goes too: an empty list means no list
(contract A3), unless an attribute or a comment makes it say more.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from iiscors.cli.fixes.context import Analysis, Node
from iiscors.cli.fixes.model import UNKNOWN_PLACE, Change, Effect, Fix, Skipped, skip
from iiscors.config.diagnostics import Diagnostic
from iiscors.config.edits import Edit
from iiscors.config.xmlspans import SpanError, element_span, removal_span

#: The lists inside an ``<add origin>`` rule: nothing in them is inherited (contract A9).
RULE_LISTS = ("allowHeaders", "allowMethods", "exposeHeaders")

Outcome = tuple[list[Change], list[Skipped]]


@dataclass(frozen=True, slots=True)
class Removal:
    """An element to delete, and the fix that deletes it."""

    element: etree._Element
    fix: Fix


def plan_duplicates(analysis: Analysis, errors: list[Diagnostic]) -> Outcome:
    """Changes for the E302 duplicates that are identical to the entry they repeat."""
    removals: list[Removal] = []
    skipped: list[Skipped] = []
    for diagnostic in errors:
        anchor = analysis.offset(diagnostic.line, diagnostic.column)
        node = analysis.node(diagnostic)
        if node is None or anchor is None:
            skipped.append(skip(diagnostic, anchor, UNKNOWN_PLACE))
            continue
        earlier = _earlier_entry(node)
        if earlier is None:
            skipped.append(skip(diagnostic, anchor, "it repeats an entry of another level (a "
                                "<location> or the section it inherits): merge them by hand"))
        elif not same_entry(earlier, node.element):
            skipped.append(skip(diagnostic, anchor, f"it differs from the entry on line "
                                f"{earlier.sourceline} (attributes or children): keep the "
                                "one you mean"))
        else:
            summary = (f"removed the repeated {shown(node)}, identical to the one on line "
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


def shown(node: Node) -> str:
    return f'<{node.element.tag!s} {node.attribute}="{node.element.get(node.attribute)}">'


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
                skipped.extend(Skipped(code, f.anchor, UNKNOWN_PLACE)
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
