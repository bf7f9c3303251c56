"""The section schema: ``schemas/iis-sections.xsd``, read with lxml in two ways.

1. :func:`element_specs` turns the XSD into a small table (:class:`ElementSpec`) that
   :mod:`iiscors.config.rules` walks to report *every* problem with IIS's own wording (contract
   A4, A7).
   libxml2's validator stops at the first misplaced child of an element, so it alone cannot
   report everything at once.
2. :func:`schema_violations` runs lxml's ``XMLSchema`` over a section as a second opinion: a
   violation the walker did not already report becomes an ``E299`` diagnostic, so the XSD and the
   walker can never silently disagree.

Only the XSD constructs the file uses are understood (named complex and simple types,
attribute groups, ``xs:choice``/``xs:all``, ``complexContent`` extension); anything else raises
at import, which the test suite would catch.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from lxml import etree

from iiscors.config.reading import XML_SPACE

XS = "{http://www.w3.org/2001/XMLSchema}"
IIS = "{urn:iiscors:schema}"
SCHEMA_FILE = "iis-sections.xsd"

#: The value kinds of contract A4/A5, by XSD type name.
_KINDS = {
    "iisBool": "bool",
    "iisInt32": "int32",
    "iisKey": "key",
    "iisToken": "token",
    "iisHeaderValue": "value",
    "xs:string": "string",
}


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    name: str
    kind: str  # one of _KINDS' values
    required: bool
    unique_key: bool


@dataclass(frozen=True, slots=True)
class ElementSpec:
    name: str
    attributes: Mapping[str, AttributeSpec]
    children: Mapping[str, ElementSpec]
    #: children that may appear at most once (xs:all), the others repeat (xs:choice)
    single: frozenset[str]

    @property
    def key(self) -> str | None:
        for attribute in self.attributes.values():
            if attribute.unique_key:
                return attribute.name
        return None


def schema_path() -> Path:
    """Where the XSD is: inside the installed package, or at the top of a source checkout."""
    packaged = resources.files("iiscors").joinpath("schemas", SCHEMA_FILE)
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "schemas" / SCHEMA_FILE


@functools.cache
def _schema_root() -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
    return etree.fromstring(schema_path().read_bytes(), parser)


@functools.cache
def element_specs() -> Mapping[str, ElementSpec]:
    """The global elements of the XSD (``cors``, ``customHeaders``, ``modules``) as specs."""
    root = _schema_root()
    complex_types = {t.get("name"): t for t in root.findall(XS + "complexType")}
    groups = {g.get("name"): g for g in root.findall(XS + "attributeGroup")}

    def attributes_of(node: etree._Element, into: dict[str, AttributeSpec]) -> None:
        for child in node:
            if child.tag == XS + "attribute":
                name = child.get("name", "")
                kind = _KINDS[child.get("type", "xs:string")]
                into[name] = AttributeSpec(name, kind, child.get("use") == "required",
                                           child.get(IIS + "isUniqueKey") == "true")
            elif child.tag == XS + "attributeGroup":
                attributes_of(groups[child.get("ref")], into)

    def build(name: str, complex_type: etree._Element) -> ElementSpec:
        attributes: dict[str, AttributeSpec] = {}
        children: dict[str, ElementSpec] = {}
        single: set[str] = set()
        body = complex_type
        content = complex_type.find(XS + "complexContent")
        if content is not None:
            extension = content.find(XS + "extension")
            assert extension is not None, "only complexContent/extension is supported"
            base = build(name, complex_types[extension.get("base")])
            attributes.update(base.attributes)
            children.update(base.children)
            single.update(base.single)
            body = extension
        for particle in body:
            if particle.tag in (XS + "choice", XS + "all"):
                for element in particle.findall(XS + "element"):
                    child_name = element.get("name", "")
                    children[child_name] = spec_of(element)
                    if particle.tag == XS + "all":
                        single.add(child_name)
        attributes_of(body, attributes)
        return ElementSpec(name, attributes, children, frozenset(single))

    def spec_of(element: etree._Element) -> ElementSpec:
        name = element.get("name", "")
        type_name = element.get("type")
        complex_type = (complex_types[type_name] if type_name
                        else element.find(XS + "complexType"))
        assert complex_type is not None, f"element {name} has no complex type"
        return build(name, complex_type)

    return {e.get("name", ""): spec_of(e) for e in root.findall(XS + "element")}


@functools.cache
def _xml_schema() -> etree.XMLSchema:
    return etree.XMLSchema(_schema_root())


def schema_violations(section: etree._Element) -> list[tuple[int | None, str]]:
    """``(line, message)`` for every violation lxml's validator finds in one section element."""
    schema = _xml_schema()
    if schema.validate(section):
        return []
    if _blank_in_empty_elements(section):
        # Contract A4: white space is fine anywhere.  The XSD gives entries (<add>, <clear>)
        # an empty content type, which XSD 1.0 makes refuse even white space, so the
        # validator judges a copy without it (comments and line numbers are kept); text that
        # is not white space is the walker's E203 either way.
        section = copy.deepcopy(section)
        _blank_in_empty_elements(section, remove=True)
        if schema.validate(section):
            return []
    return [(entry.line or None, entry.message) for entry in schema.error_log]


def _blank_in_empty_elements(section: etree._Element, *, remove: bool = False) -> bool:
    """Is there white-space-only text in an element without element children (its text, or
    the tail of a comment inside it)?  With ``remove``, drop that text."""
    found = False
    for element in section.iter(tag=etree.Element):
        if any(isinstance(child.tag, str) for child in element):
            continue  # element-only content: the XSD allows white space there
        for node, attribute in ((element, "text"), *((child, "tail") for child in element)):
            value = getattr(node, attribute)
            if value is not None and not value.strip(XML_SPACE):
                found = True
                if remove:
                    setattr(node, attribute, None)
    return found
