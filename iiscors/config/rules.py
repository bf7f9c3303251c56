"""The rule tree: what one web.config declares, checked and made immutable (contract A1, A3-A6, A9).

:func:`read_levels` walks a parsed document with the element table of
:mod:`iiscors.config.schema` and returns one :class:`Level` per place the file defines sections:
its root and each ``<location path>``.  Every node keeps its file:line.  Nothing here merges
levels (that is :mod:`iiscors.config.scope`) or decides requests (that is
:mod:`iiscors.policy.core`).

Checks are tolerant: a bad node is reported and skipped, and the walk goes on, so one run reports
every problem (contract A7).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, NamedTuple, Protocol, TypeVar, cast

from lxml import etree

from iiscors.config.diagnostics import Diagnostic, Related, make_at
from iiscors.config.fastcors import RuleChildren, read_plain_cors
from iiscors.config.include import CONFIG_SOURCE, ONLY_CONFIG_SOURCE, Includer
from iiscors.config.loader import XmlDocument
from iiscors.config.lockspec import (
    LOCATION_ATTRIBUTES,
    LOCK_ATTRIBUTES,
    OVERRIDE_MODES,
    Locks,
    Override,
    override_of,
    read_locks,
)
from iiscors.config.reading import XDT
from iiscors.config.reading import parse_bool as parse_bool  # re-exported: others read it here
from iiscors.config.reading import parse_int32 as parse_int32  # re-exported, as parse_bool
from iiscors.config.rewrite import RewriteSection, read_rewrite
from iiscors.config.schema import AttributeSpec, ElementSpec, element_specs, schema_violations
from iiscors.policy import headers
from iiscors.policy.model import Location, OriginRule

T = TypeVar("T")

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: what a WSGI server can send in a header value (PEP 3333: latin-1), control characters aside
_SENDABLE = re.compile(r"[\x20-\x7e\xa0-\xff]*")
_BLANK = re.compile(r"\s*")
#: XML's own white space (S, XML 1.0 section 2.3): the only text allowed between elements
_XML_SPACE = re.compile(r"[ \t\r\n]*")
#: Attributes of a section element that are about the configuration system, not settings a
#: lower level sets (contract E2, E5)
NOT_SETTINGS = frozenset({*LOCK_ATTRIBUTES, "configSource"})


@dataclass(frozen=True, slots=True)
class Entry(Generic[T]):
    """One collection directive: ``add`` (with its value), ``remove`` or ``clear``."""

    op: Literal["add", "remove", "clear"]
    key: str
    value: T | None
    location: Location
    #: where ``lockItem="true"`` is written on this ``<add>`` (contract E2), None when not
    locked_at: Location | None = None


T_co = TypeVar("T_co", covariant=True)


class Directive(Protocol[T_co]):
    """What scoping and the lock checks read of a collection directive: an :class:`Entry`, or
    an :class:`OriginRule` standing for its own ``<add>`` (one object fewer per origin)."""

    @property
    def op(self) -> Literal["add", "remove", "clear"]: ...
    @property
    def key(self) -> str: ...
    @property
    def value(self) -> T_co | None: ...
    @property
    def location(self) -> Location: ...
    @property
    def locked_at(self) -> Location | None: ...


@dataclass(frozen=True, slots=True)
class CorsSection:
    enabled: bool | None
    fail_unlisted_origins: bool | None
    #: an ``<add>`` is the rule itself, unless it holds a ``lockItem`` (then an Entry); a
    #: section read in one pass holds a :class:`~iiscors.policy.model.RuleTable`
    entries: Sequence[Entry[OriginRule] | OriginRule]
    location: Location
    #: where failUnlistedOrigins is written (None when it is not), for the lint checks
    fail_unlisted_at: Location | None = None


@dataclass(frozen=True, slots=True)
class CustomHeadersSection:
    entries: tuple[Entry[tuple[str, str]], ...]
    location: Location


@dataclass(frozen=True, slots=True)
class ModulesSection:
    entries: tuple[Entry[None], ...]
    location: Location


@dataclass(frozen=True, slots=True)
class SectionUse:
    """What one section element of a level writes, as locks judge it (contract E2): the
    attributes it sets and the child elements it uses, each located, and its own locks."""

    #: ``cors``, ``httpProtocol``, ``customHeaders`` or ``modules``
    name: str
    location: Location
    attributes: tuple[tuple[str, Location], ...]
    #: a tuple, or the :class:`RuleChildren` of a ``<cors>`` read in one pass (no object per
    #: ``<add>`` kept for a check that rarely has anything to say)
    children: tuple[tuple[str, Location], ...] | RuleChildren
    locks: Locks = field(default_factory=Locks)


@dataclass(frozen=True, slots=True)
class Holder:
    """What the ``<location>`` holding a section says about it (contract E2, E3)."""

    override: Override | None = None
    #: False for ``inheritInChildApplications="false"``
    inherit_in_child_applications: bool = True
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class Level:
    """The sections one file defines for one path: its root, or one ``<location path>``.

    ``path`` holds the lower-cased segments relative to the site root (contract A9 compares them
    case-insensitively); ``depth`` is the file's depth below the site root, ``order`` its place
    in the file, so that levels sort into IIS's merge order.
    """

    path: tuple[str, ...]
    display_path: str
    file: str
    depth: int
    order: int
    cors: CorsSection | None = None
    custom_headers: CustomHeadersSection | None = None
    modules: ModulesSection | None = None
    location: Location | None = None
    #: URL Rewrite's rules, read for the OPTIONS recipe only (contract C2)
    rewrite: RewriteSection | None = None
    #: each section element written here, for the lock checks (contract E2)
    uses: tuple[SectionUse, ...] = ()
    #: what the ``<location>`` holding each section says, by section (``cors``,
    #: ``httpProtocol``, ``modules``); empty for a file's own system.webServer
    holders: tuple[tuple[str, Holder], ...] = ()


#: The errors of one file (or site) by the configured path whose scope they make unusable
#: (contract E6: IIS answers 500.19 there and below, and serves the rest).
Broken = dict[tuple[str, ...], list[Diagnostic]]


class _Walk:
    """State of one file's walk: the document, the diagnostics collected so far, and the path
    whose scope an error found now makes unusable (contract E6)."""

    def __init__(self, document: XmlDocument, scope: tuple[str, ...]) -> None:
        self.document = document
        self.diagnostics: list[Diagnostic] = []
        #: the file's own path while its structure is read, each place's while it is read
        self.scope = scope
        self.broken: Broken = {}

    def at(self, element: etree._Element, attribute: str | None = None) -> Location:
        if attribute is None:
            line, column = self.document.locator.element(element)
        else:
            line, column = self.document.locator.attribute(element, attribute)
        return Location(self.document.name, line, column)

    def report(self, code: str, message: str, where: Location,
               related: tuple[Related, ...] = ()) -> None:
        self.report_found(make_at(code, message, where, related))

    def report_found(self, diagnostic: Diagnostic) -> None:
        """Record a diagnostic made elsewhere (a configSource file's reader), in this scope."""
        self.diagnostics.append(diagnostic)
        if diagnostic.is_error:
            self.broken.setdefault(self.scope, []).append(diagnostic)

    def sub(self, document: XmlDocument) -> _Walk:
        """A walk of another document (a configSource file, contract E5) that reports into
        this one, in its current scope."""
        walk = _Walk(document, self.scope)
        walk.diagnostics, walk.broken = self.diagnostics, self.broken
        return walk

    # -- the generic checks of contract A4/A5, driven by the XSD's element table -------------

    def check(self, element: etree._Element, spec: ElementSpec) -> None:
        for name, value in element.attrib.items():
            if str(name).startswith(XDT):
                continue  # a web.config transform's instruction, gone once deployed
            attribute = spec.attributes.get(str(name))
            if attribute is None:
                self.report("E201", f"Unrecognized attribute '{written_name(element, str(name))}'",
                            self.at(element, written_name(element, str(name))))
            else:
                self.check_value(element, attribute, str(value))
        for attribute in spec.attributes.values():
            if attribute.required and attribute.name not in element.attrib:
                self.report("E204", f"Missing required attribute '{attribute.name}' on "
                            f"<{tag(element)}>", self.at(element))
        if element.text and not _XML_SPACE.fullmatch(element.text):
            self.report("E203", f"Text is not allowed inside <{tag(element)}>", self.at(element))
        seen: set[str] = set()
        for child in element:
            if child.tail and not _XML_SPACE.fullmatch(child.tail):
                self.report("E203", f"Text is not allowed inside <{tag(element)}>",
                            self.at(element))
            if not isinstance(child.tag, str):
                continue  # comments and processing instructions are fine anywhere (A4)
            child_spec = spec.children.get(child.tag)
            if child_spec is None:
                self.report("E202", f"Unrecognized element '{tag(child)}'", self.at(child))
                continue
            if child.tag in spec.single:
                if child.tag in seen:
                    self.report("E209", f"Element '{tag(child)}' may appear only once here",
                                self.at(child))
                seen.add(child.tag)
            self.check(child, child_spec)

    def check_value(self, element: etree._Element, attribute: AttributeSpec, value: str) -> None:
        name = attribute.name
        problem: tuple[str, str] | None = None
        control = _CONTROL.search(value)
        if attribute.kind == "bool" and parse_bool(value) is None:
            problem = ("E206", f"Invalid boolean value '{value}' for attribute '{name}' "
                       "(true or false)")
        elif attribute.kind == "int32" and parse_int32(value) is None:
            problem = ("E207", f"Invalid integer value '{value}' for attribute '{name}'")
        elif attribute.kind in ("key", "token") and _BLANK.fullmatch(value):
            problem = ("E205", f"Required attribute '{name}' is empty")
        elif attribute.kind in ("key", "token", "value") and control is not None:
            problem = ("E208", f"Attribute '{name}' holds a control character "
                       f"{control.group()!r}")
        elif attribute.kind == "token" and not headers.TOKEN.fullmatch(value):
            # Contract A4: header names and methods reach response headers.
            problem = ("E210", f"'{value}' cannot be sent as a header name or method: "
                       f"attribute '{name}' must be an HTTP token")
        elif attribute.kind == "value" and not _SENDABLE.fullmatch(value):
            problem = ("E210", f"Attribute '{name}' holds characters a WSGI server cannot send "
                       "in a header (only ISO-8859-1 is allowed)")
        if problem is not None:
            self.report(*problem, self.at(element, name))

    # -- typed builders: read values the checks above already judged ------------------------

    def entries(self, element: etree._Element, key: str) -> Iterator[
            tuple[Literal["add", "remove", "clear"], str, etree._Element]]:
        for child in element:
            if child.tag == "clear":
                yield "clear", "", child
            elif child.tag in ("add", "remove"):
                value = child.get(key)
                if value is None or _BLANK.fullmatch(value):
                    continue  # E204/E205 already reported
                yield ("add" if child.tag == "add" else "remove"), value, child

    def key_list(self, parent: etree._Element | None, key: str, what: str) -> tuple[
            tuple[str, ...], tuple[tuple[str, str, Location], ...]]:
        """Resolve one rule's header or method list within its own level (contract A6)."""
        if parent is None:
            return (), ()
        items: dict[str, tuple[str, Location]] = {}
        for op, value, child in self.entries(parent, key):
            folded = value.casefold()
            if op == "clear":
                items.clear()
            elif op == "remove":
                if items.pop(folded, None) is None:
                    self.report("W103", f"<remove {key}=\"{value}\"/>: no such entry in "
                                f"<{tag(parent)}>", self.at(child, key))
            elif folded in items:
                self.report("E302", duplicate_message(key, value), self.at(child, key))
            else:
                items[folded] = (value, self.at(child, key))
        values = tuple(value for value, _ in items.values())
        located = tuple((what, value, where) for value, where in items.values())
        return values, located

    def origin_rule(self, element: etree._Element, origin: str) -> OriginRule:
        # Most rules of a large file are a bare <add origin="..."/>: skip the child lookups.
        lists = len(element) > 0
        allow_headers = element.find("allowHeaders") if lists else None
        header_names, header_at = self.key_list(allow_headers, "header", "allowHeaders")
        methods, method_at = self.key_list(element.find("allowMethods") if lists else None,
                                           "method", "allowMethods")
        exposed, exposed_at = self.key_list(element.find("exposeHeaders") if lists else None,
                                            "header", "exposeHeaders")
        written_max_age = element.get("maxAge")
        max_age = None if written_max_age is None else parse_int32(written_max_age)
        return OriginRule(
            origin=origin,
            allowed=bool_attribute(element, "allowed", True),
            allow_credentials=bool_attribute(element, "allowCredentials", False),
            max_age=-1 if max_age is None else max_age,
            allow_all_requested_headers=(
                allow_headers is not None
                and bool_attribute(allow_headers, "allowAllRequestedHeaders", False)),
            allow_headers=header_names,
            allow_methods=methods,
            expose_headers=exposed,
            location=self.at(element, "origin"),
            header_locations=header_at + method_at + exposed_at,
            attribute_locations=tuple((str(name), self.at(element, str(name)))
                                      for name in element.attrib if name != "origin"),
        )

    def entry(self, op: Literal["add", "remove", "clear"], key: str, value: T | None,
              child: etree._Element, where: Location) -> Entry[T]:
        """One collection directive, with its ``lockItem`` (contract E2)."""
        locked = child.get("lockItem")
        locked_at = (self.at(child, "lockItem") if op == "add" and locked is not None
                     and parse_bool(locked) else None)
        return Entry(op, key, value, where, locked_at)

    def cors(self, element: etree._Element) -> CorsSection:
        entries: list[Entry[OriginRule] | OriginRule] = []
        for op, value, child in self.entries(element, "origin"):
            rule = self.origin_rule(child, value) if op == "add" else None
            if rule is not None:
                where = rule.location  # already located: 10,000 rules, 10,000 lookups fewer
            else:
                where = self.at(child, "origin") if op != "clear" else self.at(child)
            entry = self.entry(op, value, rule, child, where)
            # An <add> is its own entry (OriginRule is a Directive), unless it holds a lockItem
            entries.append(rule if rule is not None and entry.locked_at is None else entry)
        fail_unlisted = optional_bool(element, "failUnlistedOrigins")
        return CorsSection(optional_bool(element, "enabled"), fail_unlisted,
                           tuple(entries), self.at(element),
                           None if fail_unlisted is None
                           else self.at(element, "failUnlistedOrigins"))

    def custom_headers(self, element: etree._Element) -> CustomHeadersSection:
        entries: list[Entry[tuple[str, str]]] = []
        for op, value, child in self.entries(element, "name"):
            pair = (value, child.get("value", "")) if op == "add" else None
            where = self.at(child, "name") if op != "clear" else self.at(child)
            entries.append(self.entry(op, value, pair, child, where))
        return CustomHeadersSection(tuple(entries), self.at(element))

    def modules(self, element: etree._Element) -> ModulesSection:
        entries: list[Entry[None]] = []
        for op, value, child in self.entries(element, "name"):
            where = self.at(child, "name") if op != "clear" else self.at(child)
            entries.append(self.entry(op, value, None, child, where))
        return ModulesSection(tuple(entries), self.at(element))

    def use(self, element: etree._Element, plain: RuleChildren | None = None) -> SectionUse:
        """What a section element writes, for the lock checks (contract E2); ``plain``: its
        children when it is a ``<cors>`` read in one pass."""
        attributes = tuple((name, self.at(element, name)) for name in map(str, element.attrib)
                           if name not in NOT_SETTINGS and not name.startswith(XDT))
        children = plain if plain is not None else tuple(
            (child.tag, self.at(child)) for child in element if isinstance(child.tag, str))
        return SectionUse(str(element.tag), self.at(element), attributes, children,
                          read_locks(element, lambda name: self.at(element, name)))


def written_name(element: etree._Element, name: str) -> str:
    """An attribute's name as the file spells it: ``prefix:local`` rather than lxml's
    ``{namespace}local`` (contract A4's messages quote what the administrator wrote)."""
    if not name.startswith("{"):
        return name
    namespace, _, local = name[1:].partition("}")
    for prefix, uri in element.nsmap.items():
        if uri == namespace and prefix:
            return f"{prefix}:{local}"
    return name


def tag(element: etree._Element) -> str:
    """An element's name for messages."""
    return str(element.tag)


def optional_bool(element: etree._Element, name: str) -> bool | None:
    value = element.get(name)
    return None if value is None else parse_bool(value)


def bool_attribute(element: etree._Element, name: str, default: bool) -> bool:
    value = optional_bool(element, name)
    return default if value is None else value


#: How a duplicate's related place (the entry it repeats) is introduced (contract E1).
FIRST_ADDED = "first added at"


def duplicate_message(key: str, value: str) -> str:
    return (f"Cannot add duplicate collection entry of type 'add' with unique key attribute "
            f"'{key}' set to '{value}'")


def split_location_path(path: str) -> tuple[str, ...] | None:
    """Contract A9: ``""`` and ``"."`` are the level itself; None for a path IIS would refuse."""
    stripped = path.strip().strip("/")
    if stripped in ("", "."):
        return ()
    segments = stripped.split("/")
    if any(s in ("", ".", "..") or "\\" in s for s in segments):
        return None
    return tuple(fold_segment(s) for s in segments)


#: Application paths as the user names them (contract E3), folded like location paths.
Applications = tuple[tuple[str, ...], ...]


def application_paths(values: Iterable[str]) -> Applications:
    """Contract E3: the application paths a user names (``/api``, ``legacy/app``), as folded
    segments relative to the site root, without duplicates; ``/`` (the site's own root
    application) adds nothing.

    :raises ValueError: a path IIS would refuse (``..``, ``.``, a backslash).
    """
    found: dict[tuple[str, ...], None] = {}
    for value in values:
        segments = split_location_path(value)
        if segments is None:
            raise ValueError(f"{value!r} is not an application path: write plain segments "
                             "such as /api or /legacy/app")
        if segments:
            found[segments] = None
    return tuple(found)


def fold_segment(segment: str) -> str:
    """A path segment as location paths and request paths are compared (contract A9:
    case-insensitively, the whole Unicode range, as IIS compares URLs)."""
    return segment.casefold()


_SECTIONS = ("cors", "httpProtocol", "modules", "rewrite")


class FileLevels(NamedTuple):
    """What :func:`read_levels` finds in one file."""

    levels: list[Level]
    diagnostics: list[Diagnostic]
    #: the errors by the path whose scope they make unusable (contract E6)
    broken: Broken


#: Maps a ``<location path>`` as written to the site-relative path it means, or None when it
#: is about something else (an applicationHost.config's other sites, contract E4).
LocationMap = Callable[[str], "str | None"]


def read_levels(document: XmlDocument, *, prefix: tuple[str, ...] = (),
                depth: int = 0, includer: Includer | None = None,
                locations: LocationMap | None = None) -> FileLevels:
    """Walk one parsed web.config into its levels (``prefix``: the file's directory segments;
    ``includer`` reads the files its configSource attributes name, contract E5; ``locations``
    maps the location paths of an applicationHost.config, contract E4).

    An error in the file's structure (its root element, a location path) makes the file's own
    scope unusable; an error inside a section only the scope of the place that holds it (the
    file's root, or one ``<location path>``), as IIS reads a URL's configuration (contract E6).
    """
    walk = _Walk(document, prefix)
    root = document.root
    if root.tag != "configuration":
        walk.report("E106", f"The root element is <{tag(root)}>, not <configuration>",
                    walk.at(root))
        return FileLevels([], walk.diagnostics, walk.broken)
    places = _collect_places(walk, root, prefix, locations)
    _report_misplaced_cors(walk, root)
    specs = element_specs()
    levels = []
    for order, (path, place) in enumerate(places.items()):
        walk.scope = path
        levels.append(_read_level(walk, path, place, depth, order, specs, includer))
    walk.scope = prefix
    # W101 (is this a CORS configuration at all?) is iiscors.config.filenotes's (contract C2)
    return FileLevels(levels, walk.diagnostics, walk.broken)


@dataclass(slots=True)
class _Place:
    """The sections one file defines for one path, as found: not read yet."""

    display: str
    location: Location | None
    sections: dict[str, etree._Element] = field(default_factory=dict)
    #: what the <location> holding each section says (contract E2, E3)
    holders: dict[str, Holder] = field(default_factory=dict)


def _collect_places(walk: _Walk, root: etree._Element, prefix: tuple[str, ...],
                    locations: LocationMap | None = None) -> dict[tuple[str, ...], _Place]:
    """The sections of the file's own ``system.webServer`` and of each ``<location path>``'s,
    by path (contract A9), in file order; a section written twice for one path is E301."""
    places: dict[tuple[str, ...], _Place] = {}

    def collect(web_server: etree._Element, path: tuple[str, ...], display: str,
                where: Location | None, holder: Holder | None) -> None:
        place = places.setdefault(path, _Place(display, where))
        for child in web_server:
            if child.tag not in _SECTIONS:
                continue
            if child.tag in place.sections:
                path_text = f" for path '{display}'" if display else ""
                walk.scope = path  # contract E6: the path defined twice is the one unusable
                walk.report("E301", f"Config section 'system.webServer/{tag(child)}' already "
                            f"defined{path_text}. Sections must only appear once per config "
                            "file", walk.at(child))
                walk.scope = prefix
                continue
            place.sections[child.tag] = child
            if holder is not None:
                place.holders[str(child.tag)] = holder

    for child in root:
        if child.tag == "system.webServer":
            collect(child, prefix, "", None, None)
        elif child.tag == "location":
            raw_path = child.get("path", "")
            meant = raw_path if locations is None else locations(raw_path)
            if meant is None:
                continue  # another site's, in an applicationHost.config (contract E4)
            segments = split_location_path(meant)
            if segments is None:
                walk.report("E303", f"Invalid location path '{raw_path}'", walk.at(child, "path"))
                continue
            walk.scope = prefix + segments  # contract E6: a bad attribute breaks its path
            holder = _location_holder(walk, child)
            walk.scope = prefix
            for web_server in child.iterchildren("system.webServer"):
                collect(web_server, prefix + segments, raw_path.strip().strip("/"),
                        walk.at(child), holder)
    return places


def _location_holder(walk: _Walk, element: etree._Element) -> Holder:
    """Check a ``<location>``'s own attributes and read what they say (contract E2, E3)."""
    for name in map(str, element.attrib):
        if name not in LOCATION_ATTRIBUTES and not name.startswith(XDT):
            written = written_name(element, name)
            walk.report("E201", f"Unrecognized attribute '{written}'", walk.at(element, written))
    mode = element.get("overrideMode")
    if mode is not None and mode.strip().lower() not in OVERRIDE_MODES:
        walk.report("E211", f"Invalid overrideMode value '{mode}' (Allow, Deny or Inherit)",
                    walk.at(element, "overrideMode"))
        mode = None
    flags: dict[str, bool | None] = {}
    for name in ("allowOverride", "inheritInChildApplications"):
        value = element.get(name)
        flags[name] = None if value is None else parse_bool(value)
        if value is not None and flags[name] is None:
            walk.report("E206", f"Invalid boolean value '{value}' for attribute '{name}' "
                        "(true or false)", walk.at(element, name))
    if mode is not None and element.get("allowOverride") is not None:
        walk.report("E212", "overrideMode and allowOverride cannot both be set on one "
                    "<location>", walk.at(element, "allowOverride"))
    written = (f'overrideMode="{mode}"' if mode is not None
               else f'allowOverride="{element.get("allowOverride")}"')
    where = walk.at(element, "overrideMode" if mode is not None else "allowOverride")
    return Holder(override_of(mode, flags["allowOverride"], where, written),
                  flags["inheritInChildApplications"] is not False, walk.at(element))


#: Every ``<cors>`` element, the root included, in document order (as ``root.iter("cors")``):
#: libxml2 searches the tree without holding the GIL, where ``iter`` walked a 100,000-rule
#: file's 500,000 elements in one C call of 30-80 ms while a hot reload's requests waited
#: (issue 17, tools/gil_holds.py).
_EVERY_CORS = etree.XPath("descendant-or-self::cors")


def _report_misplaced_cors(walk: _Walk, root: etree._Element) -> None:
    """W102: a ``<cors>`` anywhere but under a ``system.webServer`` the walk reads."""
    for cors in cast(list[etree._Element], _EVERY_CORS(root)):
        parent = cors.getparent()
        grand = parent.getparent() if parent is not None else None
        placed = (parent is not None and parent.tag == "system.webServer" and grand is not None
                  and (grand is root or (grand.tag == "location" and grand.getparent() is root)))
        if not placed:
            walk.report("W102", "This <cors> element is not under system.webServer: it is some "
                        "other product's section, not the IIS CORS module's", walk.at(cors))


def _read_level(walk: _Walk, path: tuple[str, ...], place: _Place, depth: int, order: int,
                specs: Mapping[str, ElementSpec], includer: Includer | None) -> Level:
    """Check and read the sections of one place into its :class:`Level`."""
    sections = _resolved(walk, place.sections, includer)
    cors_section: CorsSection | None = None
    custom: CustomHeadersSection | None = None
    modules: ModulesSection | None = None
    plain_children: RuleChildren | None = None
    if "cors" in sections:
        reader, element = sections["cors"]
        plain = read_plain_cors(reader.document, element, reader.origin_rule)
        if plain is None:  # something unusual: the long way, which reports it
            cors_section = _section(reader, element, specs["cors"], reader.cors)
        else:
            cors_section = CorsSection(*plain)
            plain_children = RuleChildren(plain.rules)
    uses = [reader.use(element, plain_children if name == "cors" else None)
            for name, (reader, element) in sections.items()
            if name != "rewrite"]  # the lock checks (E2) read the CORS sections
    if "httpProtocol" in sections:
        reader, element = sections["httpProtocol"]
        holders = element.findall("customHeaders")
        for extra in holders[1:]:
            reader.report("E209", "Element 'customHeaders' may appear only once here",
                          reader.at(extra))
        if holders:
            custom = _section(reader, holders[0], specs["customHeaders"], reader.custom_headers)
            uses.append(reader.use(holders[0]))
    if "modules" in sections:
        reader, element = sections["modules"]
        modules = _section(reader, element, specs["modules"], reader.modules)
    rewrite = None
    if "rewrite" in sections:  # contract C2: read for the OPTIONS recipe only
        reader, element = sections["rewrite"]
        rewrite = read_rewrite(element, reader.at)
    return Level(path, place.display, walk.document.name, depth, order, cors_section, custom,
                 modules, place.location, rewrite, tuple(uses), tuple(place.holders.items()))


def _resolved(walk: _Walk, sections: Mapping[str, etree._Element], includer: Includer | None
              ) -> dict[str, tuple[_Walk, etree._Element]]:
    """Each section element to read, and the walk that locates it: the element itself, or the
    root of the file its configSource names (contract E5; a section whose file is refused is
    left out, its errors reported)."""
    resolved: dict[str, tuple[_Walk, etree._Element]] = {}
    for name in _SECTIONS:
        element = sections.get(name)
        if element is None:
            continue
        value = element.get(CONFIG_SOURCE)
        if value is None:
            resolved[name] = (walk, element)
            continue
        included = _include(walk, element, value, includer)
        if included is not None:
            resolved[name] = included
    return resolved


def _include(walk: _Walk, element: etree._Element, value: str, includer: Includer | None
             ) -> tuple[_Walk, etree._Element] | None:
    """The section read from ``configSource=value``, or None (its errors reported)."""
    others = [str(n) for n in element.attrib if n != CONFIG_SOURCE and not str(n).startswith(XDT)]
    text = element.text is not None and not _XML_SPACE.fullmatch(element.text)
    if others or text or any(isinstance(child.tag, str) for child in element):
        walk.report("E307", ONLY_CONFIG_SOURCE, walk.at(element))
    where = walk.at(element, CONFIG_SOURCE)
    if includer is None:
        walk.report("E306", f'configSource="{value}": a configuration read from memory has no '
                    "directory to read it from", where)
        return None
    document, found = includer.load(value, where)
    for diagnostic in found:  # located in the included file, scoped as the section (E6)
        walk.report_found(diagnostic)
    if document is None:
        return None
    reader = walk.sub(document)
    root = document.root
    if root.tag != element.tag:
        reader.report("E306", f"The root element of this configSource file is <{tag(root)}>, "
                      f"not <{tag(element)}>", reader.at(root))
        return None
    if CONFIG_SOURCE in root.attrib:
        reader.report("E306", "A configSource file cannot use configSource itself",
                      reader.at(root, CONFIG_SOURCE))
        return None
    return reader, root


SectionT = TypeVar("SectionT")


def _section(walk: _Walk, element: etree._Element, spec: ElementSpec,
             build: Callable[[etree._Element], SectionT]) -> SectionT:
    before = sum(d.is_error for d in walk.diagnostics)
    walk.check(element, spec)
    if sum(d.is_error for d in walk.diagnostics) == before:
        # The walker found nothing: lxml's XSD validator gets the last word (schema.py).
        for line, message in schema_violations(element):
            walk.report("E299", message, Location(walk.document.name, line))
    return build(element)
