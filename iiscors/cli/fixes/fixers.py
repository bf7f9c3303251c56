"""The repairs, code by code: from an :class:`~iiscors.cli.fixes.context.Analysis` to changes.

:func:`plan_warnings` sends each fixable warning to its repair: origins to
:mod:`~iiscors.cli.fixes.origins`, list entries to :mod:`~iiscors.cli.fixes.removals`, and
``allowCredentials`` on a lone ``*`` rule (W201) is handled here: the attribute goes, with the
space before it.  Identical duplicates (E302, an error) are :func:`plan_duplicates`' job, in a
round of their own.  What each code's repair does, and when it is left alone, is
:data:`iiscors.cli.fixes.catalogue.FIXES`.
"""

from __future__ import annotations

from collections.abc import Iterable

from iiscors.cli.fixes.context import Analysis, Node
from iiscors.cli.fixes.model import UNKNOWN_PLACE, Change, Effect, Fix, Skipped, skip
from iiscors.cli.fixes.origins import ORIGIN_CODES, origin_change, origin_keys
from iiscors.cli.fixes.removals import (
    RULE_LISTS,
    Outcome,
    Removal,
    plan_duplicates,
    removal_changes,
    shown,
)
from iiscors.config.diagnostics import Diagnostic
from iiscors.config.edits import Edit
from iiscors.config.xmlspans import SpanError, attribute_removal_span, tag_containing

__all__ = ["plan_duplicates", "plan_warnings"]

#: List entries whose removal a warning asks for: code -> (list element, response header).
ENTRY_CODES = {"W213": ("allowMethods", "Access-Control-Allow-Methods")}
CREDENTIALS_HEADER = "Access-Control-Allow-Credentials"


def _by_place(diagnostics: Iterable[Diagnostic]) -> dict[tuple[int | None, int | None],
                                                         list[Diagnostic]]:
    places: dict[tuple[int | None, int | None], list[Diagnostic]] = {}
    for diagnostic in diagnostics:
        places.setdefault((diagnostic.line, diagnostic.column), []).append(diagnostic)
    return places


def plan_warnings(analysis: Analysis, fixable: frozenset[str]) -> Outcome:
    """Changes for every warning of a ``fixable`` code that can be repaired unambiguously."""
    changes: list[Change] = []
    skipped: list[Skipped] = []
    removals: list[Removal] = []
    keys = origin_keys(analysis)
    wanted = [d for d in analysis.diagnostics if d.code in fixable and not d.is_error]
    for (line, column), found in _by_place(wanted).items():
        anchor = analysis.offset(line, column)
        node = analysis.node(found[0])
        if node is None or anchor is None:
            skipped.extend(skip(d, anchor, UNKNOWN_PLACE) for d in found)
            continue
        origin = [d for d in found if d.code in ORIGIN_CODES]
        if origin:
            change, more = origin_change(analysis, node, anchor, origin, keys)
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
            return skip(diagnostic, anchor, "a <remove> of an origin may remove one inherited "
                        "from a parent web.config or applicationHost.config, which fix cannot "
                        "see: remove it by hand if it is not needed")
        return Removal(element, Fix((code,), anchor, f"removed {shown(node)} from "
                                    f"<{parent_tag}>: there is nothing to remove"))
    list_tag, header = ENTRY_CODES[code]
    if element.tag != "add" or parent_tag != list_tag:
        return skip(diagnostic, anchor, UNKNOWN_PLACE)
    value = element.get(node.attribute) or ""
    return Removal(element, Fix((code,), anchor, f"removed {shown(node)} from <{list_tag}>",
                                Effect(dropped=(header, value))))


def _credentials_change(analysis: Analysis, node: Node, anchor: int,
                        diagnostic: Diagnostic) -> Change | Skipped:
    rule = analysis.rule_of(node.element)
    if node.attribute != "allowCredentials" or rule is None or analysis.config is None:
        return skip(diagnostic, anchor, UNKNOWN_PLACE)
    sections = [s for s in analysis.config.scopes.values() if rule in s.rules]  # by value
    if any(len(section.rules) != 1 for section in sections):
        # Contract B10: beside other rules, * echoes the Origin and credentials work for every
        # site.  Dropping them would change who can make credentialed requests.
        return skip(diagnostic, anchor, "beside other rules the * rule echoes the Origin, so "
                    "credentials work for every site: whether to keep that is for you to "
                    "decide")
    try:
        attribute = tag_containing(analysis.text, anchor).attribute("allowCredentials")
    except SpanError:
        attribute = None
    if attribute is None:
        return skip(diagnostic, anchor, UNKNOWN_PLACE)
    start, end = attribute_removal_span(attribute, analysis.text)
    written = analysis.text[attribute.start:attribute.end]
    fix = Fix(("W201",), anchor, f'removed {written} from the origin="*" rule, alone where '
              "it applies (it sends Access-Control-Allow-Origin: *, which browsers refuse "
              "with credentials)", Effect(dropped=(CREDENTIALS_HEADER, "true")))
    return Change((Edit(start, end),), (fix,))
