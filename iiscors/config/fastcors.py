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
checks listed in :func:`_shape`; a rule they may fire on is built the long way.
"""

from __future__ import annotations

import functools
import operator
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from itertools import compress, count, islice, repeat
from typing import Any, NamedTuple, cast

from lxml import etree

from iiscors.config.browsers import MAX_AGE_HONOURED, never_exposed
from iiscors.config.loader import XmlDocument
from iiscors.config.reading import XML_SPACE, parse_int32
from iiscors.policy import headers
from iiscors.policy.model import TABLE_STEP, Location, OriginRule, RuleTable, table_steps

#: An origin the long way accepts and the XSD's ``iisKey`` too, told by one match: printable
#: ASCII without spaces (anything else, such as a Unicode host, is read the long way).
_PLAIN_KEY = re.compile(r"[!-~]+")
_BOOLS = {"true": True, "false": False}
#: The attributes of ``<add origin>`` this reader knows (anything else: the long way)
_RULE_ATTRIBUTES = frozenset({"origin", "allowed", "allowCredentials", "maxAge"})
#: The lists of one rule, and the attribute that names an entry of each
_LISTS = {"allowHeaders": "header", "allowMethods": "method", "exposeHeaders": "header"}


class PlainCors(NamedTuple):
    """What :func:`read_plain_cors` read: the section's attributes, its rules, its places."""

    enabled: bool | None
    fail_unlisted_origins: bool | None
    #: a :class:`RuleTable` (an empty tuple for a section without rules)
    rules: RuleTable | tuple[()]
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


def _rules_each(document: XmlDocument, cors: etree._Element,
                slow_rule: SlowRule) -> RuleTable | tuple[()] | None:
    """The rules of a section, element by element (one with comments between rules)."""
    memo: dict[bytes, Any] = {}
    #: per distinct settings: the interned shape, and whether lint may read the rule's places
    #: (True, False, or None: it depends on the origin, see below)
    shapes: dict[tuple[Any, ...], tuple[tuple[Any, ...], bool | None]] = {}
    children: list[etree._Element] = []
    origins: list[str] = []
    #: each rule's shape, or () for a rule built the long way (lint may read its places)
    rule_shapes: list[tuple[Any, ...]] = []
    last_key: tuple[Any, ...] = ()
    shape: tuple[Any, ...] = ()
    places: bool | None = False
    for child in cors:
        if child.tail is not None and child.tail.strip(XML_SPACE):
            return None
        if child.tag != "add":
            if isinstance(child, etree._Comment):
                continue
            return None
        read = _rule_values(child, memo)
        if read is None:
            return None
        origin, key = read
        if key is not last_key:
            found = shapes.get(key)
            if found is None:
                found = shapes[key] = _shape(document.name, key)
            last_key, (shape, places) = key, found
        children.append(child)
        origins.append(origin)
        # W201-W203 (credentials) may be reported for anything but https: origins and
        # host wildcards (places None: the shape allows credentials).
        slow = places or (places is None and (origin[:8] != "https://" or origin[8:9] == "*"))
        rule_shapes.append(() if slow else shape)
    table = _built(document, children, origins, rule_shapes, slow_rule)
    _drop(children)  # (as in _rules)
    return table


def _rules(document: XmlDocument, cors: etree._Element,
           slow_rule: SlowRule) -> RuleTable | tuple[()] | None:
    """The rules of a section of ``<add origin>`` elements only, read column by column by
    C-level iterators (issue 17: 100,000 rules; the Python steps are per distinct rule
    form, and per rule that is not a bare ``<add origin="..."/>``).  A section with anything
    else between its rules (comments) is read by :func:`_rules_each`."""
    # Every C-level chain below reads TABLE_STEP children at a time: a hot reload reads on a
    # thread beside requests, and one chain over 100,000 children held the GIL 35-70 ms.
    children = _children(cors)
    try:
        if _distinct(_TAG, children) != {"add"}:
            return _rules_each(document, cors, slow_rule) if children else ()
        return _rules_read(document, children, slow_rule)
    finally:
        _drop(children)  # a proxy per rule, freed a step at a time (issue 17)


def _rules_read(document: XmlDocument, children: list[etree._Element],
                slow_rule: SlowRule) -> RuleTable | tuple[()] | None:
    """:func:`_rules` of ``children``, all ``<add>`` elements."""
    if not all(map(_blank, _distinct(_TAIL, children))):
        return None
    written = _stepped(_ORIGIN_OF, children)
    if any(None in written[start:stop] for start, stop in table_steps(len(written))):
        return None
    origins = cast(list[str], written)
    if not all(_plain_keys(origins[start:stop]) for start, stop in table_steps(len(origins))):
        return None
    forms = _stepped(_forms, children, many=True)
    bare, _ = _shape(document.name, _BARE)
    rule_shapes: list[tuple[Any, ...]] = [bare] * len(children)
    memo: dict[bytes, Any] = {}
    shapes: dict[tuple[Any, ...], tuple[tuple[Any, ...], bool | None]] = {}
    for start, stop in table_steps(len(forms)):  # (one compress over all: 3 ms at 100,000)
        for index in compress(count(start), map(operator.ne, forms[start:stop], repeat(1))):
            key = _written_settings(children[index], memo)  # its origin is judged above
            if key is None:
                return None
            origin = origins[index]
            found = shapes.get(key)
            if found is None:
                found = shapes[key] = _shape(document.name, key)
            shape, places = found
            slow = places or (places is None and (origin[:8] != "https://"
                                                  or origin[8:9] == "*"))
            rule_shapes[index] = () if slow else shape
    return _built(document, children, origins, rule_shapes, slow_rule)


def _built(document: XmlDocument, children: list[etree._Element], origins: list[str],
           rule_shapes: list[tuple[Any, ...]],
           slow_rule: SlowRule) -> RuleTable | tuple[()] | None:
    """The rules as a table, each located (None: some ``<add>`` is not written ``<add
    origin=``), those whose shape is () built the long way (lint may report at their
    attributes)."""
    if not children:
        return ()
    # Written "<add origin=": so each element is at its origin's line, 5 columns left
    # (RuleChildren, the lock checks' places), and one comparison finds the origin.
    where = document.locator.first_attributes(children, "origin")
    if where is None:
        return None
    lines, columns = where
    # Those built the long way keep their own shape (their located lists) and place.
    slow = {index: slow_rule(children[index], origins[index])
            for start, stop in table_steps(len(rule_shapes))
            for index in compress(count(start), map(operator.not_, rule_shapes[start:stop]))}
    return RuleTable.located(origins, rule_shapes, lines, columns, slow)


def _children(cors: etree._Element) -> list[etree._Element]:
    """``list(cors)``, TABLE_STEP children a call."""
    children: list[etree._Element] = []
    every = iter(cors)
    while step := list(islice(every, TABLE_STEP)):
        children += step
    return children


def _drop(children: list[etree._Element]) -> None:
    """Empty ``children``, TABLE_STEP at a time: dropped at once, the last reference to
    100,000 element proxies freed them in one cascade (9 ms beside a reload's requests)."""
    while children:
        del children[-TABLE_STEP:]


def _distinct(function: Callable[[Any], Any], items: list[Any]) -> set[Any]:
    """``set(map(function, items))``, a step of TABLE_STEP items a call."""
    found: set[Any] = set()
    for start, stop in table_steps(len(items)):
        found.update(map(function, items[start:stop]))
    return found


def _stepped(function: Callable[[Any], Any], items: list[Any], many: bool = False
             ) -> list[Any]:
    """``list(map(function, items))`` a step of TABLE_STEP items a call; ``many``: the
    function maps a step to its list of results."""
    found: list[Any] = []
    for start, stop in table_steps(len(items)):
        found += function(items[start:stop]) if many else map(function, items[start:stop])
    return found


def _forms(children: list[etree._Element]) -> list[int]:
    """1 for each bare ``<add origin="..."/>`` of ``children``: one attribute, no child, no
    text."""
    return list(map(operator.add, map(operator.add, map(len, children),
                                      map(len, map(etree._Element.keys, children))),
                    map(operator.is_not, map(_TEXT, children), repeat(None))))


_ORIGIN_OF = operator.methodcaller("get", "origin")
_TAG = operator.attrgetter("tag")
_TAIL = operator.attrgetter("tail")
_TEXT = operator.attrgetter("text")


def _plain_keys(origins: list[str]) -> bool:
    """Whether every origin matches :data:`_PLAIN_KEY` (printable ASCII, no space), told of
    all of them at once."""
    joined = "".join(origins)
    return joined.isascii() and joined.isprintable() and " " not in joined and all(origins)


#: The settings of ``<add origin="..."/>`` (every default), shared by every bare rule read
_BARE = (True, False, -1, False, (), (), ())


def _shape(file: str, key: tuple[Any, ...]) -> tuple[tuple[Any, ...], bool | None]:
    allowed, credentials, max_age, allow_all, allow_headers, methods, exposed = key
    intern = sys.intern
    shape = OriginRule.shape_of(file, allowed, credentials, max_age, allow_all,
                                tuple(map(intern, allow_headers)), tuple(map(intern, methods)),
                                tuple(map(intern, exposed)))
    # Lint reports at a rule's attributes and list entries (W213-W216, W201-W203) only when
    # these hold; a superset of its conditions, so that when in doubt the places are kept.
    # (An exposeHeaders list alone used to count: every rule exposing a header of its own was
    # built the long way, nine objects the collector tracks per rule; issue 17.)
    places = (max_age > MAX_AGE_HONOURED or any(map(never_exposed, exposed))
              or (allow_all and bool(allow_headers))
              or any(method.upper() == "OPTIONS" for method in methods))
    return shape, (True if places else None if credentials and allowed else False)


#: What a memo of :func:`_settings` holds for a rule not yet met
_UNSEEN: Any = object()
#: Serializes one element with its tail, in C (the memo's key)
_TOSTRING = etree.tostring


def _rule_values(element: etree._Element, memo: dict[bytes, Any]
                 ) -> tuple[str, tuple[Any, ...]] | None:
    """``(origin, settings)`` of a plain ``<add origin>``, else None (see :func:`_settings`).

    Rules that differ only by origin are many: their settings are judged once per distinct
    written form, remembered in ``memo`` by the element's serialization (lxml's, in C) past
    its origin: the other attributes, the text and the children, as parsed (equal bytes,
    equal content).  The origin must be written first (a serialization keeps the order)."""
    origin = element.get("origin")
    if origin is None or not _PLAIN_KEY.fullmatch(origin):
        return None
    if element.text is None and not len(element) and len(element.keys()) == 1:
        return origin, _BARE
    settings = _written_settings(element, memo)
    return None if settings is None else (origin, settings)


def _written_settings(element: etree._Element, memo: dict[bytes, Any]
                      ) -> tuple[Any, ...] | None:
    """:func:`_settings` of an ``<add>`` whose origin is written first, once per written
    form (see :func:`_rule_values`); None for an unusual one."""
    written = _TOSTRING(element, with_tail=False)
    opening = _WRITTEN_ORIGIN
    if not written.startswith(opening):
        # Namespaces declared above (xmlns:xdt on <configuration>, common in real files) are
        # serialized on the element, before its origin: the rest is the same.
        opening = _written_origin(tuple(element.nsmap.items()))
        if not written.startswith(opening):
            return None
    # The serialized origin holds no '"' (escaped as &quot;): the next one closes it.
    key = written[written.index(b'"', len(opening)) + 1:]
    settings = memo.get(key, _UNSEEN)
    if settings is _UNSEEN:
        settings = memo[key] = _settings(element)
    return cast("tuple[Any, ...] | None", settings)


#: How lxml serializes the start of an ``<add>`` whose first attribute is its origin
_WRITTEN_ORIGIN = b'<add origin="'


@functools.lru_cache(maxsize=16)
def _written_origin(namespaces: tuple[tuple[str | None, str], ...]) -> bytes:
    """:data:`_WRITTEN_ORIGIN` of an ``<add>`` with ``namespaces`` in scope, as lxml
    serializes it: their declarations first, in the same order."""
    declared = _TOSTRING(etree.Element("add", nsmap=dict(namespaces)))
    return declared.removesuffix(b"/>") + _WRITTEN_ORIGIN.removeprefix(b"<add")


def _settings(element: etree._Element) -> tuple[Any, ...] | None:
    """``(allowed, allow_credentials, max_age, allow_all_requested_headers, allow_headers,
    allow_methods, expose_headers)`` of a plain ``<add origin>``, else None."""
    text = element.text
    if not _RULE_ATTRIBUTES.issuperset(element.keys()) or not _blank(text):
        return None
    allowed = _bool_or(element.get("allowed"), True)
    credentials = _bool_or(element.get("allowCredentials"), False)
    if allowed is None or credentials is None:
        return None
    max_age: int | None = -1
    written = element.get("maxAge")
    if written is not None:
        max_age = parse_int32(written)  # the long way's own parser (contract A5)
        if max_age is None:
            return None
    lists = _lists(element)
    if lists is None:
        return None
    names_of, allow_all = lists
    return (allowed, credentials, max_age, allow_all, names_of.get("allowHeaders", ()),
            names_of.get("allowMethods", ()), names_of.get("exposeHeaders", ()))


def _lists(element: etree._Element) -> tuple[dict[str, tuple[str, ...]], bool] | None:
    """The lists of a rule by element name, and allowAllRequestedHeaders; None if unusual."""
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
    return lists, allow_all


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


class RuleChildren:
    """The child elements of a section :func:`read_plain_cors` read, as the lock checks see
    them (contract E2: ``lockElements="add"`` above is violated at each ``<add>``), computed
    when asked from the rules instead of kept: each ``<add>`` is written ``<add origin=``, so
    it starts on its origin's line, 5 columns left of it."""

    __slots__ = ("rules",)

    def __init__(self, rules: Sequence[OriginRule]) -> None:
        self.rules = rules

    def __iter__(self) -> Iterator[tuple[str, Location]]:
        for rule in self.rules:
            where = rule.location
            column = None if where.column is None else where.column - len("<add ")
            yield "add", Location(where.file, where.line, column)

    def __len__(self) -> int:
        return len(self.rules)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RuleChildren):
            return self.rules == other.rules
        return isinstance(other, tuple) and tuple(self) == other

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"RuleChildren({tuple(self)!r})"


def _blank(text: str | None) -> bool:
    return text is None or not text.strip(XML_SPACE)


def _bool(value: str) -> bool | None:
    """Contract A5's boolean, ASCII only (as the XSD's ``iisBool`` pattern)."""
    return _BOOLS.get(value.lower()) if value.isascii() else None


def _bool_or(value: str | None, default: bool) -> bool | None:
    return default if value is None else _bool(value)
