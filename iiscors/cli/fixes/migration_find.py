"""Find what ``fix --migrate-custom-headers`` migrates in one file: the :class:`Pieces`.

The field's recipe sits in one ``system.webServer`` (the file's own, or a ``<location>``'s):
Access-Control-* ``<add>`` elements in ``httpProtocol/customHeaders``, often URL Rewrite's
OPTIONS rule (contract C2) and ``<handlers><remove name="OPTIONSVerbHandler"/>``.  It is migrated
only when nothing else in the file decides CORS differently below it, since ``fix`` judges each
file alone (as ``validate`` does), so :func:`find_pieces` refuses (:class:`Refused`) a file:

- with a ``<cors>`` section already, or Access-Control-* custom headers at several levels;
- where a ``<location>`` below the level changes the Access-Control-* headers, the OPTIONS rule
  or the CorsModule (the new ``<cors>`` would apply there too);
- whose OPTIONS rule (the one that answers at that level) is written in another element.

The OPTIONSVerbHandler removal is migrated when it exists only for CORS: in the same
``system.webServer``, and no handler there takes OPTIONS itself (a ``verb`` of ``*`` or listing
OPTIONS: then the removal routes OPTIONS to that handler, which is not CORS's business).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from iiscors.cli.fixes.context import Analysis
from iiscors.config.rules import split_location_path
from iiscors.policy import headers
from iiscors.policy.model import EffectiveSection, OptionsRecipe

#: The IIS handler that answers OPTIONS when nothing else does.
VERB_HANDLER = "optionsverbhandler"
_ANY_VERB = "*"


class Refused(Exception):
    """Not migrated; the message says why.  ``element`` is where the report points."""

    def __init__(self, element: etree._Element, reason: str) -> None:
        super().__init__(reason)
        self.element = element


@dataclass(frozen=True, slots=True)
class Pieces:
    """Everything one migration reads and edits (elements of the analysed document)."""

    path: tuple[str, ...]
    http_protocol: etree._Element
    custom_headers: etree._Element
    adds: tuple[etree._Element, ...]
    recipe: OptionsRecipe | None
    rule: etree._Element | None
    verb_handler: etree._Element | None
    #: True when a handler of the same <handlers> takes OPTIONS itself (the removal is kept)
    handler_routes_options: bool = False

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return [(add.get("name", ""), add.get("value", "")) for add in self.adds]


def is_cors_header(element: etree._Element) -> bool:
    """An ``<add>`` of an Access-Control-* custom header."""
    return (element.tag == "add"
            and element.get("name", "").lower().startswith(headers.ACCESS_CONTROL_PREFIX))


def _web_servers(root: etree._Element) -> Iterator[tuple[tuple[str, ...], etree._Element]]:
    """Each ``system.webServer`` IIS reads, with the path it applies to (contract A9)."""
    for child in root:
        if child.tag == "system.webServer":
            yield (), child
        elif child.tag == "location":
            path = split_location_path(child.get("path", ""))
            if path is not None:
                for web_server in child.iterchildren("system.webServer"):
                    yield path, web_server


def find_pieces(analysis: Analysis) -> Pieces | None:
    """The pieces to migrate, None when the file has no Access-Control-* custom header;
    :class:`Refused` when it has some that cannot be migrated safely."""
    found = []
    for path, web_server in _web_servers(analysis.document.root):
        for holder in web_server.iterfind("httpProtocol/customHeaders"):
            adds = tuple(child for child in holder if is_cors_header(child))
            if adds:
                found.append((path, web_server, holder, adds))
    if not found:
        return None
    path, web_server, holder, adds = found[0]
    if len(found) > 1:
        raise Refused(found[1][3][0], "Access-Control-* custom headers are set at several "
                      "levels of this file: migrate them by hand")
    if any(True for _ in analysis.document.root.iter("cors")):
        raise Refused(adds[0], "the file has a <cors> section already: move these headers "
                      "into it by hand")
    recipe = _check_below(analysis, path, adds[0])
    rule = _rule_element(analysis, web_server, recipe, adds[0])
    parent = holder.getparent()
    assert parent is not None  # found through httpProtocol/customHeaders
    verb_handler, routes = _verb_handler(web_server)
    return Pieces(path, parent, holder, adds, recipe, rule, verb_handler, routes)


def _cors_headers(section: EffectiveSection) -> tuple[tuple[str, str], ...]:
    return tuple(pair for pair in section.custom_headers
                 if pair[0].lower().startswith(headers.ACCESS_CONTROL_PREFIX))


def _check_below(analysis: Analysis, path: tuple[str, ...],
                 anchor: etree._Element) -> OptionsRecipe | None:
    """The OPTIONS rule at ``path``, once every scope below it is known to agree."""
    assert analysis.config is not None  # the file has no error: the planner refused those
    scopes = analysis.config.scopes
    here = scopes[path]
    for below, section in scopes.items():
        if below[:len(path)] != path:
            continue
        where = "/".join(below) or "the root"
        if _cors_headers(section) != _cors_headers(here):
            raise Refused(anchor, f"<location path=\"{where}\"> changes the Access-Control-* "
                          "headers: migrate by hand")
        if section.options_recipe != here.options_recipe:
            raise Refused(anchor, f"<location path=\"{where}\"> changes the URL Rewrite rules "
                          "that answer OPTIONS: migrate by hand")
        if not section.cors_module:
            raise Refused(anchor, f"the CorsModule is removed at {where}: a <cors> section "
                          "would do nothing there")
    return here.options_recipe


def _rule_element(analysis: Analysis, web_server: etree._Element,
                  recipe: OptionsRecipe | None,
                  anchor: etree._Element) -> etree._Element | None:
    """The ``<rule>`` element of ``recipe``, which must be in ``web_server``."""
    if recipe is None:
        return None
    wanted = (recipe.location.line, recipe.location.column)
    for rule in web_server.iterfind("rewrite/rules/rule"):
        if analysis.document.locator.element(rule) == wanted:
            return rule
    raise Refused(anchor, f"the OPTIONS rule that answers here ({recipe.location}) is "
                  "written in another element: migrate by hand")


def _verb_handler(web_server: etree._Element) -> tuple[etree._Element | None, bool]:
    """``<remove name="OPTIONSVerbHandler"/>`` of this ``system.webServer`` when it exists only
    for CORS, and whether another handler there takes OPTIONS (the removal is then kept)."""
    handlers = web_server.find("handlers")
    if handlers is None:
        return None, False
    removal = next((child for child in handlers if child.tag == "remove"
                    and child.get("name", "").lower() == VERB_HANDLER), None)
    routes = any(_takes_options(child) for child in handlers if child.tag == "add")
    if removal is None or routes:
        return None, routes and removal is not None
    return removal, False


def _takes_options(handler: etree._Element) -> bool:
    verbs = [verb.strip().upper() for verb in handler.get("verb", "").split(",")]
    return _ANY_VERB in verbs or "OPTIONS" in verbs
