"""The one URL Rewrite rule iiscors interprets: the OPTIONS recipe (contract C2).

Many web.config files that do CORS with ``httpProtocol/customHeaders`` also answer preflights
with a URL Rewrite rule, before the request reaches the application::

    <rewrite>
      <rules>
        <rule name="CORS Preflight" stopProcessing="true">
          <match url=".*" />
          <conditions>
            <add input="{REQUEST_METHOD}" pattern="^OPTIONS$" />
          </conditions>
          <action type="CustomResponse" statusCode="200" statusReason="OK"
                  statusDescription="OK" />
        </rule>
      </rules>
    </rewrite>

That exact shape, and nothing looser, is :func:`recipe_rule`:

- the ``<rule>``: a non-blank ``name``; ``enabled``, ``stopProcessing`` (any boolean: a
  CustomResponse ends the rule processing anyway) and ``patternSyntax="ECMAScript"`` (the
  default) allowed, nothing else;
- ``<match url=".*"/>``, with ``ignoreCase`` (any boolean) and ``negate="false"`` allowed;
- ``<conditions>`` (``logicalGrouping`` and ``trackAllCaptures`` allowed: with a single condition
  they change nothing) holding one ``<add>``: ``input="{REQUEST_METHOD}"``, ``pattern``
  ``OPTIONS`` or ``^OPTIONS$`` (letters in any case), ``ignoreCase`` (default true, as URL
  Rewrite reads it), ``negate="false"`` and ``matchType="Pattern"`` allowed;
- ``<action type="CustomResponse" statusCode="200"/>`` with ``subStatusCode="0"``,
  ``statusReason`` (sendable on a status line) and ``statusDescription`` allowed;
- no other attribute or element (``<serverVariables>`` included); comments are fine, and so are
  the attributes of web.config transforms (``xdt:*``).

Which rule answers is URL Rewrite's own order (:func:`effective_recipe`): the rules collection
is merged as every IIS collection is (contract A6, A9: parent levels first, ``<clear/>`` and
``<remove name>``), and URL Rewrite evaluates it in that order; a CustomResponse stops the
processing.  The recipe answers only when it is the **first enabled rule** of the effective
collection: a rule before it could match an OPTIONS request and do something else, and iiscors
does not interpret other rules.  Rules after it never see an OPTIONS request.

Everything else in ``<rewrite>`` (other rules, outbound rules, maps) is left alone: requests pass
on as if it were not there, and ``validate`` notes it once per file (:func:`is_options_recipe`
tells a section that holds nothing else).  ``<rewrite>`` must still be well-formed XML, like the
whole file, but iiscors does not check it against URL Rewrite's schema.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from lxml import etree

from iiscors.config.reading import XDT, parse_bool, parse_int32
from iiscors.policy.model import Location, OptionsRecipe

#: Finds where an element was written (the rule reader's ``at``).
Locate = Callable[[etree._Element], Location]

#: The condition's input: the request method, as URL Rewrite names the server variable.
METHOD_INPUT = "{REQUEST_METHOD}"
#: The two patterns of the recipe: the word alone, or anchored to the whole method.
_PATTERN = re.compile(r"(\^?)(options)(\$?)", re.IGNORECASE)
#: The only status the recipe answers with (contract C2).
RECIPE_STATUS = 200
#: The reason phrase when the rule gives none (the standard one for 200).
DEFAULT_REASON = "OK"
#: What a status line can carry (latin-1 without control characters, PEP 3333).
_REASON_TEXT = re.compile(r"[\x20-\x7e\xa0-\xff]*")
_XML_SPACE = re.compile(r"[ \t\r\n]*")

#: The attributes each part of the recipe may carry, and nothing else.
_RULE_ATTRIBUTES = frozenset({"name", "enabled", "stopProcessing", "patternSyntax"})
_MATCH_ATTRIBUTES = frozenset({"url", "ignoreCase", "negate"})
_CONDITIONS_ATTRIBUTES = frozenset({"logicalGrouping", "trackAllCaptures"})
_CONDITION_ATTRIBUTES = frozenset({"input", "pattern", "ignoreCase", "negate", "matchType"})
_ACTION_ATTRIBUTES = frozenset({"type", "statusCode", "subStatusCode", "statusReason",
                                "statusDescription"})
_GROUPINGS = frozenset({"matchall", "matchany"})


@dataclass(frozen=True, slots=True)
class RuleEntry:
    """One directive of a ``<rules>`` collection: ``add`` (a ``<rule>``), ``remove`` or
    ``clear``; ``recipe`` is the OPTIONS recipe when the added rule is exactly that."""

    op: Literal["add", "remove", "clear"]
    name: str
    location: Location
    recipe: OptionsRecipe | None = None
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class RewriteSection:
    """What one level's ``system.webServer/rewrite`` says about its inbound rules.

    ``readable`` is False when the ``<rules>`` collection holds something URL Rewrite would
    refuse or that iiscors cannot place in the order (text, an unknown element, a rule without
    a name, an ``enabled`` that is not a boolean, a second ``<rules>``): no scope that inherits
    it gets the recipe.
    """

    entries: tuple[RuleEntry, ...]
    location: Location
    readable: bool = True


def read_rewrite(element: etree._Element, at: Locate) -> RewriteSection:
    """Read one ``<rewrite>`` element's ``<rules>`` collection."""
    holders = [child for child in element if child.tag == "rules"]
    if not holders:
        return RewriteSection((), at(element))
    entries: list[RuleEntry] = []
    readable = len(holders) == 1 and _blank(holders[0].text)
    for child in holders[0]:
        readable = readable and _blank(child.tail)
        if not isinstance(child.tag, str):
            continue  # comments and processing instructions
        entry = _entry(child, at)
        if entry is None:
            readable = False
        else:
            entries.append(entry)
    return RewriteSection(tuple(entries), at(element), readable)


def _entry(child: etree._Element, at: Locate) -> RuleEntry | None:
    """A ``<rule>``, ``<remove name>`` or ``<clear/>``; None for what URL Rewrite refuses."""
    if child.tag == "clear":
        return RuleEntry("clear", "", at(child))
    name = child.get("name")
    if child.tag not in ("rule", "remove") or name is None or not name.strip():
        return None
    if child.tag == "remove":
        return RuleEntry("remove", name, at(child))
    enabled = parse_bool(child.get("enabled", "true"))
    if enabled is None:
        return None
    return RuleEntry("add", name, at(child), recipe_rule(child, at), enabled)


def effective_recipe(sections: Iterable[RewriteSection | None]) -> OptionsRecipe | None:
    """The recipe that answers OPTIONS at a path, from its levels' sections (outermost first),
    or None: see the module docstring for the order."""
    rules: dict[str, RuleEntry] = {}
    for section in sections:
        if section is None:
            continue
        if not section.readable:
            return None
        for entry in section.entries:
            key = entry.name.casefold()
            if entry.op == "clear":
                rules.clear()
            elif entry.op == "remove":
                rules.pop(key, None)
            elif key in rules:
                return None  # a duplicate name: IIS refuses the whole configuration (A6)
            else:
                rules[key] = entry
    first = next((entry for entry in rules.values() if entry.enabled), None)
    return None if first is None else first.recipe


def recipe_rule(rule: etree._Element, at: Locate) -> OptionsRecipe | None:
    """The :class:`OptionsRecipe` a ``<rule>`` element is, or None when it is anything else."""
    name = rule.get("name")
    syntax = rule.get("patternSyntax", "ECMAScript")
    if (name is None or not _only(rule, _RULE_ATTRIBUTES) or syntax.lower() != "ecmascript"
            or parse_bool(rule.get("stopProcessing", "false")) is None
            or parse_bool(rule.get("enabled", "true")) is not True):
        return None
    parts = _children(rule)
    if parts is None or set(parts) != {"match", "conditions", "action"}:
        return None
    match, conditions, action = parts["match"], parts["conditions"], parts["action"]
    if not _matches_every_url(match) or not _only(conditions, _CONDITIONS_ATTRIBUTES):
        return None
    if conditions.get("logicalGrouping", "MatchAll").lower() not in _GROUPINGS or parse_bool(
            conditions.get("trackAllCaptures", "false")) is None:
        return None
    adds = _children(conditions)
    if adds is None or set(adds) != {"add"}:
        return None
    method = _method_condition(adds["add"])
    answer = _custom_response(action)
    if method is None or answer is None:
        return None
    anchored, word, ignore_case = method
    reason, description = answer
    return OptionsRecipe(name, at(rule), anchored, ignore_case, word, RECIPE_STATUS, reason,
                         description)


def _matches_every_url(match: etree._Element) -> bool:
    """``<match url=".*"/>``: every URL (``negate`` false, ``ignoreCase`` irrelevant)."""
    return (_only(match, _MATCH_ATTRIBUTES) and len(match) == 0 and _blank(match.text)
            and match.get("url") == ".*" and parse_bool(match.get("negate", "false")) is False
            and parse_bool(match.get("ignoreCase", "true")) is not None)


def _method_condition(add: etree._Element) -> tuple[bool, str, bool] | None:
    """``(anchored, word, ignoreCase)`` of the ``{REQUEST_METHOD}`` condition, or None."""
    pattern = _PATTERN.fullmatch(add.get("pattern", ""))
    ignore_case = parse_bool(add.get("ignoreCase", "true"))
    if (not _only(add, _CONDITION_ATTRIBUTES) or len(add) != 0 or not _blank(add.text)
            or (add.get("input") or "").upper() != METHOD_INPUT or pattern is None
            or bool(pattern.group(1)) != bool(pattern.group(3)) or ignore_case is None
            or parse_bool(add.get("negate", "false")) is not False
            or add.get("matchType", "Pattern").lower() != "pattern"):
        return None
    return bool(pattern.group(1)), pattern.group(2), ignore_case


def _custom_response(action: etree._Element) -> tuple[str, str | None] | None:
    """``(reason, description)`` of ``<action type="CustomResponse" statusCode="200"/>``."""
    reason = action.get("statusReason") or DEFAULT_REASON
    sub_status = action.get("subStatusCode", "0")
    if (not _only(action, _ACTION_ATTRIBUTES) or len(action) != 0 or not _blank(action.text)
            or action.get("type", "").lower() != "customresponse"
            or not _is_number(action.get("statusCode", ""), RECIPE_STATUS)
            or not _is_number(sub_status, 0) or not _REASON_TEXT.fullmatch(reason)):
        return None
    return reason, action.get("statusDescription")


def is_options_recipe(rewrite: etree._Element) -> bool:
    """Does a ``<rewrite>`` element hold the OPTIONS recipe and nothing else iiscors leaves
    uninterpreted?  Its ``<rules>`` may also ``<clear/>`` or ``<remove>`` inherited rules; any
    other rule or element (outbound rules, maps...) makes it False.  ``validate``'s note that
    URL Rewrite is not interpreted is not given for such a section (contract C2)."""
    parts = _children(rewrite)
    if parts is None or set(parts) != {"rules"}:
        return False
    section = read_rewrite(rewrite, _unlocated)
    added = [entry for entry in section.entries if entry.op == "add"]
    return section.readable and len(added) == 1 and added[0].recipe is not None


def _unlocated(_element: etree._Element) -> Location:
    """A locator for when only the shape matters."""
    return Location("<rewrite>")


def _children(element: etree._Element) -> dict[str, etree._Element] | None:
    """The child elements by name, or None when one repeats or text sits between them."""
    found: dict[str, etree._Element] = {}
    if not _blank(element.text):
        return None
    for child in element:
        if not _blank(child.tail):
            return None
        if not isinstance(child.tag, str):
            continue
        if child.tag in found:
            return None
        found[child.tag] = child
    return found


def _only(element: etree._Element, allowed: frozenset[str]) -> bool:
    """Every attribute is one of ``allowed`` (those of web.config transforms aside)."""
    return all(str(name) in allowed or str(name).startswith(XDT) for name in element.attrib)


def _blank(text: str | None) -> bool:
    return text is None or _XML_SPACE.fullmatch(text) is not None


def _is_number(text: str, number: int) -> bool:
    """``text`` is decimal digits worth ``number`` (leading zeros allowed, as IIS reads it,
    however many: parse_int32 never meets int()'s 4,300-digit limit)."""
    return text.isascii() and text.isdigit() and parse_int32(text) == number
