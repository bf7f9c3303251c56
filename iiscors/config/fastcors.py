"""The one-pass reader of the common ``<cors>`` section (issue 17: a 100,000-rule file is read
on every load and every reload).

Most ``<cors>`` sections are a list of well-formed ``<add origin>`` elements with known
attributes, valid values and short lists.  :func:`read_plain_cors` reads such a section in one
pass straight from lxml's attributes, judging each value as it goes, and returns None as soon as
anything is unusual: then :mod:`iiscors.config.rules` reads the section the long way (its
generic walk of contract A4/A5, lxml's XSD, the typed builders), which reports every problem
with its place.  So the fast path never reports anything: it only accepts what the long way
accepts without a diagnostic, and builds what the long way builds
(``tests/config/test_fast_cors.py`` compares both on every corpus and sample file and on
generated ones, and shows that the XSD finds nothing in a section it accepts).

Not located here: where each list entry and each attribute other than ``origin`` is written
(``OriginRule.header_locations``/``attribute_locations``).  Only lint reads them, for the few
checks listed in :func:`_lint_reads_places`; a rule they may fire on is built the long way.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

from lxml import etree

from iiscors.config.browsers import MAX_AGE_HONOURED
from iiscors.config.loader import XmlDocument
from iiscors.policy import headers
from iiscors.policy.model import Location, OriginRule

#: An origin the long way accepts and the XSD's ``iisKey`` too, told by one match: printable
#: ASCII without spaces (anything else, such as a Unicode host, is read the long way).
_PLAIN_KEY = re.compile(r"[!-~]+")
_INT32 = re.compile(r"[+-]?[0-9]+")
#: XML's own white space (XML 1.0 section 2.3): the only text allowed between elements (A4)
_XML_SPACE = " \t\r\n"
_BOOLS = {"true": True, "false": False}
#: The attributes of ``<add origin>`` this reader knows (anything else: the long way)
_RULE_ATTRIBUTES = frozenset({"origin", "allowed", "allowCredentials", "maxAge"})
#: The lists of one rule, and the attribute that names an entry of each
_LISTS = {"allowHeaders": "header", "allowMethods": "method", "exposeHeaders": "header"}


class PlainCors(NamedTuple):
    """What :func:`read_plain_cors` read: the section's attributes, its rules, its places."""

    enabled: bool | None
    fail_unlisted_origins: bool | None
    rules: tuple[OriginRule, ...]
    location: Location
    fail_unlisted_at: Location | None


#: Builds one rule the long way (with its lists and attributes located), for lint.
SlowRule = Callable[[etree._Element, str], OriginRule]


def read_plain_cors(document: XmlDocument, cors: etree._Element,
                    slow_rule: SlowRule) -> PlainCors | None:
    """The section ``cors`` of ``document`` read in one pass, or None when anything in it is
    unusual (see the module's docstring)."""
    enabled = fail_unlisted = None
    for name, value in cors.attrib.items():
        flag = _bool(value)
        if flag is None:
            return None
        if name == "enabled":
            enabled = flag
        elif name == "failUnlistedOrigins":
            fail_unlisted = flag
        else:
            return None
    if not _blank(cors.text):
        return None
    rules = _rules(document, cors, slow_rule)
    if rules is None:
        return None
    locator = document.locator
    line, column = locator.element(cors)
    fail_at = None
    if fail_unlisted is not None:
        fail_line, fail_column = locator.attribute(cors, "failUnlistedOrigins")
        fail_at = Location(document.name, fail_line, fail_column)
    return PlainCors(enabled, fail_unlisted, rules, Location(document.name, line, column),
                     fail_at)


def _rules(document: XmlDocument, cors: etree._Element,
           slow_rule: SlowRule) -> tuple[OriginRule, ...] | None:
    locator = document.locator
    name = document.name
    shapes: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    intern = sys.intern
    rules: list[OriginRule] = []
    for child in cors:
        if not _blank(child.tail):
            return None
        if child.tag != "add":
            if isinstance(child, etree._Comment):
                continue
            return None
        read = _rule_values(child)
        if read is None:
            return None
        origin, key = read[0], read[1:]
        if _lint_reads_places(origin, *key):
            rules.append(slow_rule(child, origin))
            continue
        offset = locator.offset_of(child)
        if offset is None:
            return None
        first = locator.first_attribute(child, offset, "origin")
        if first < 0:
            return None
        line, column = locator.line_and_column(first)
        shape = shapes.get(key)
        if shape is None:
            shape = shapes[key] = OriginRule.shape_of(
                name, key[0], key[1], key[2], key[3],
                tuple(map(intern, key[4])), tuple(map(intern, key[5])),
                tuple(map(intern, key[6])))
        rules.append(OriginRule.located(origin, shape, line, column))
    return tuple(rules)


def _rule_values(element: etree._Element) -> tuple[Any, ...] | None:
    """``(origin, allowed, allow_credentials, max_age, allow_all_requested_headers,
    allow_headers, allow_methods, expose_headers)`` of a plain ``<add origin>``, else None."""
    attributes = element.attrib
    if not _RULE_ATTRIBUTES.issuperset(attributes.keys()):
        return None
    origin = attributes.get("origin")
    if origin is None or not _PLAIN_KEY.fullmatch(origin):
        return None
    allowed, allow_credentials, max_age = True, False, -1
    if len(attributes) > 1:
        flags = (_bool_or(attributes.get("allowed"), True),
                 _bool_or(attributes.get("allowCredentials"), False))
        if None in flags:
            return None
        allowed, allow_credentials = bool(flags[0]), bool(flags[1])
        written = attributes.get("maxAge")
        if written is not None:
            if not _INT32.fullmatch(written) or not -(2**31) <= int(written) < 2**31:
                return None
            max_age = int(written)
    if not _blank(element.text):
        return None
    lists: dict[str, tuple[str, ...]] = {}
    allow_all = False
    for child in element:
        if not _blank(child.tail):
            return None
        tag = child.tag
        if tag not in _LISTS or tag in lists:
            if isinstance(child, etree._Comment):
                continue
            return None
        names = _list_values(child, _LISTS[str(tag)])
        if names is None:
            return None
        if child.attrib:
            if tag != "allowHeaders" or len(child.attrib) > 1:
                return None
            flag = _bool(child.get("allowAllRequestedHeaders", ""))
            if flag is None:
                return None
            allow_all = flag
        lists[str(tag)] = names
    return (origin, allowed, allow_credentials, max_age, allow_all,
            lists.get("allowHeaders", ()), lists.get("allowMethods", ()),
            lists.get("exposeHeaders", ()))


def _list_values(element: etree._Element, key: str) -> tuple[str, ...] | None:
    """The names of a list of plain ``<add key="token"/>`` entries, none repeated, else None."""
    if not _blank(element.text):
        return None
    names: list[str] = []
    folded: set[str] = set()
    for entry in element:
        if not _blank(entry.tail):
            return None
        if entry.tag != "add":
            if isinstance(entry, etree._Comment):
                continue
            return None
        attributes = entry.attrib
        value = attributes.get(key)
        if (value is None or len(attributes) != 1 or len(entry) or not _blank(entry.text)
                or not headers.TOKEN.fullmatch(value) or value.casefold() in folded):
            return None
        folded.add(value.casefold())
        names.append(value)
    return tuple(names)


def _lint_reads_places(origin: str, allowed: bool, allow_credentials: bool, max_age: int,
                       allow_all: bool, allow_headers: tuple[str, ...],
                       allow_methods: tuple[str, ...], expose_headers: tuple[str, ...]) -> bool:
    """Whether lint may report at one of the rule's attributes or list entries (W201-W203 at
    allowCredentials, W215 at maxAge, W213/W214/W216 at list entries): such a rule keeps its
    places (a superset of lint's conditions: when in doubt, True)."""
    return (max_age > MAX_AGE_HONOURED
            or (allow_credentials and allowed
                and (not origin.startswith("https://") or origin.startswith("https://*")))
            or bool(expose_headers) or (allow_all and bool(allow_headers))
            or any(method.upper() == "OPTIONS" for method in allow_methods))


def _blank(text: str | None) -> bool:
    return text is None or not text.strip(_XML_SPACE)


def _bool(value: str) -> bool | None:
    """Contract A5's boolean, ASCII only (as the XSD's ``iisBool`` pattern)."""
    return _BOOLS.get(value.lower()) if value.isascii() else None


def _bool_or(value: str | None, default: bool) -> bool | None:
    return default if value is None else _bool(value)
