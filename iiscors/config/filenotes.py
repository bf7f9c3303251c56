"""Notes about one whole file: is it a CORS configuration at all, and does it hold rules
iiscors does not interpret (contract C2, C3).

- W101 (a note): the file neither has a ``<cors>`` section nor sets an Access-Control-* header in
  ``httpProtocol/customHeaders``, so there is nothing to check.  A file that sets such headers
  *is* a CORS configuration (C2), and a ``Views/Web.config`` or a transform without CORS earns
  at most this note, which never fails ``--strict`` (C3).
- N101: the file has a ``system.webServer/rewrite`` section other than one holding only URL
  Rewrite's OPTIONS recipe (which iiscors interprets, C2).  Nothing else of URL Rewrite is
  interpreted; the note is given once per file, at the first such section.

Each is reported once per file, whatever else is wrong with it, so that it reads the same next to
errors as alone.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from iiscors.config.diagnostics import Diagnostic, make_at
from iiscors.config.loader import XmlDocument
from iiscors.config.rewrite import is_options_recipe
from iiscors.policy.headers import ACCESS_CONTROL_PREFIX
from iiscors.policy.model import Location

#: The element names of the configuration system that place a section (contract A1, A9).
_ROOT = "configuration"
_WEB_SERVER = "system.webServer"
_LOCATION = "location"
_REWRITE = "rewrite"
_CORS = "cors"
_CUSTOM_HEADER_ADDS = "httpProtocol/customHeaders/add"


def file_notes(document: XmlDocument) -> list[Diagnostic]:
    """W101 and N101 for one parsed file."""
    if document.root.tag != _ROOT:
        return []  # E106 already says what is wrong with it
    found: list[Diagnostic] = []
    if not is_cors_configuration(document.root):
        found.append(make_at("W101", "No system.webServer/cors section and no "
                             "Access-Control-* custom header: nothing to check",
                             Location(document.name)))
    # C2: a section holding only URL Rewrite's OPTIONS recipe is interpreted, and one with no
    # rule at all does nothing: neither earns the note
    rewrite = next((section for section in _rewrite_sections(document.root)
                    if not (_empty(section) or is_options_recipe(section))), None)
    if rewrite is not None:
        line, column = document.locator.element(rewrite)
        found.append(make_at("N101", "URL Rewrite is not interpreted: iiscors passes every "
                             "request on as if this <rewrite> section were not there "
                             "(reported once per file; contract C2)",
                             Location(document.name, line, column)))
    return found


def is_cors_configuration(root: etree._Element) -> bool:
    """Contract C2: a ``<cors>`` section, or customHeaders that add an Access-Control-* header.

    Read from the document, not from the levels, so that the answer is the same when a section
    is refused (E301: a second ``<httpProtocol>`` is not read, but its author meant CORS)."""
    for web_server in _web_servers(root):
        if web_server.find(_CORS) is not None:
            return True
        for add in web_server.iterfind(_CUSTOM_HEADER_ADDS):
            if add.get("name", "").lower().startswith(ACCESS_CONTROL_PREFIX):
                return True
    return False


def _web_servers(root: etree._Element) -> Iterator[etree._Element]:
    """The ``system.webServer`` elements IIS reads: the root's and each ``<location>``'s
    (contract A1, A9), in file order."""
    for child in root:
        if child.tag == _WEB_SERVER:
            yield child
        elif child.tag == _LOCATION:
            yield from child.iterchildren(_WEB_SERVER)


def _rewrite_sections(root: etree._Element) -> Iterator[etree._Element]:
    """``system.webServer/rewrite`` at the root and in each ``<location>``, in file order."""
    for web_server in _web_servers(root):
        yield from web_server.iterchildren(_REWRITE)


def _empty(rewrite: etree._Element) -> bool:
    """A ``<rewrite>`` whose ``<rules>`` hold no rule (what a migration of the OPTIONS recipe
    leaves, ``iiscors fix``): URL Rewrite has nothing to do."""
    tags = [child.tag for child in rewrite.iter() if isinstance(child.tag, str)]
    return "rules" in tags and all(tag in (_REWRITE, "rules", "clear") for tag in tags)
