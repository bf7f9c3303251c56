"""Diagnostics: every problem iiscors finds in a web.config, as located, typed data.

A :class:`Diagnostic` names a file, a line and a column where known, a stable code from
:data:`CATALOGUE`, a severity and a message.  Contract C3 names three severities: errors are what
IIS itself would refuse (the configuration is then unusable, contract A7/A8); warnings are
configurations IIS accepts but that do not do what their author meant; notes are information
(such as "this <rewrite> is not interpreted") and never change an exit code, even with
``--strict``.  Neither warnings nor notes change behaviour.

The catalogue is the single place codes are defined: ``docs/diagnostics.md`` is generated from it
(``python -m iiscors.cli.docgen``) and a test checks that the page is current.  Never renumber a
code: tools and suppressions in users' CI depend on them.  A code keeps its letter when its
severity changes (W101 became a note); the severity and its history are in :class:`CodeInfo`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from iiscors.config.text import line
from iiscors.policy.model import Location, format_location


class Severity(enum.StrEnum):
    """How bad a diagnostic is.  ``.value`` is the string used in every output format."""

    ERROR = "error"
    WARNING = "warning"
    #: contract C3: information only, never a failure, even with ``--strict``
    NOTE = "note"

    def __str__(self) -> str:
        return self.value


#: The version that had the first catalogue, and the name of changes not released yet
#: (CHANGELOG.md's headings).
FIRST_RELEASE = "0.1.0"
UNRELEASED = "Unreleased"


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """What a code means, for the documentation and the reporters."""

    code: str
    severity: Severity
    title: str
    fix: str
    example: str
    #: ``iiscors fix`` repairs it (where unambiguous; docs/diagnostics.md says when)
    fixable: bool = False
    #: the version (or "Unreleased") the code was added in
    added: str = FIRST_RELEASE
    #: what changed since, one line each, oldest first, each starting with its version
    changed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Related:
    """Another place a diagnostic is about (contract E1): where the entry a duplicate repeats
    was first added, where a lock was set.  ``note`` says what is there, in a few words."""

    note: str
    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        return f"{self.note} {format_location(self.file, self.line, self.column)}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem, located.

    :param code: a stable code from :data:`CATALOGUE`, such as ``E201``.
    :param severity: :class:`Severity`; compares equal to ``"error"``, ``"warning"`` or
        ``"note"``.
    :param message: one sentence, in the words of the IIS configuration system where it has some.
    :param file: the display name of the file (a path, or ``<bytes>``/``<stdin>``).
    :param line: 1-based line, or ``None`` when the problem is about the whole file.
    :param column: 1-based column, or ``None`` when unknown.
    :param fix: a one-line suggestion, or ``None``.
    :param related: other places the problem involves (contract E1: a cross-file error is
        located in the lower file and names the upper file's place here).
    """

    code: str
    severity: Severity
    message: str
    file: str
    line: int | None = None
    column: int | None = None
    fix: str | None = None
    related: tuple[Related, ...] = ()

    def __str__(self) -> str:
        # Safe to print or log as it is (issue 12): the file name and the message quote what a
        # stranger wrote, so serve, the playground and the reload log cannot be injected.
        return line(f"{where(self)}: {self.severity.value} {self.code} {self.message}")

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


class ConfigError(Exception):
    """An unusable configuration (contract A8): carries every diagnostic, of every severity."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        errors = [d for d in self.diagnostics if d.is_error]
        first = str(errors[0]) if errors else "unusable configuration"
        more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
        super().__init__(first + more)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)


def _e(code: str, title: str, fix: str, example: str, added: str = FIRST_RELEASE, *,
       fixable: bool = False) -> CodeInfo:
    return CodeInfo(code, Severity.ERROR, title, fix, example, fixable, added)


def _w(code: str, title: str, fix: str, example: str, added: str = FIRST_RELEASE,
       changed: tuple[str, ...] = (), *, fixable: bool = False) -> CodeInfo:
    return CodeInfo(code, Severity.WARNING, title, fix, example, fixable, added, changed)


def _n(code: str, title: str, fix: str, example: str, added: str = UNRELEASED,
       changed: tuple[str, ...] = ()) -> CodeInfo:
    return CodeInfo(code, Severity.NOTE, title, fix, example, False, added, changed)


_CODES: tuple[CodeInfo, ...] = (
    # -- E1xx: the file itself (contract A1, A2) --------------------------------------------
    _e("E100", "The file cannot be read", "Check the path and its permissions.",
       "iiscors validate missing/web.config"),
    _e("E101", "The file is larger than the size limit (IIS's default web.config limit is 250 KiB)",
       "Shrink the file, or raise the limit (max_bytes / --max-bytes) as IIS administrators can.",
       "a 300 KiB web.config"),
    _e("E102", "The file is not well-formed XML", "Fix the XML at the line and column shown.",
       "<configuration><system.webServer></configuration>"),
    _e("E103", "A DOCTYPE or DTD is present; iiscors never reads DTDs or entities",
       "Remove the <!DOCTYPE ...> declaration; web.config files never need one.",
       '<!DOCTYPE configuration [<!ENTITY x "y">]>'),
    _e("E104", "The file's encoding is missing, contradictory or unsupported",
       "Save the file as UTF-8 (with or without BOM) or as UTF-16 with a BOM, and make the XML "
       "declaration agree.",
       "UTF-16 without a byte order mark"),
    _e("E105", "Elements are nested too deeply", "Real web.config files nest a few levels; remove "
       "the excess nesting.", "1,500 nested elements"),
    _e("E106", "The root element is not <configuration>",
       "A web.config file's root element must be <configuration>.", "<config>...</config>"),
    # -- E2xx: the section schema (contract A3, A4, A5) -------------------------------------
    _e("E201", "Unrecognized attribute", "Remove the attribute or fix its spelling (names are "
       "case-sensitive).", '<cors enabeld="true">'),
    _e("E202", "Unrecognized element", "Remove the element or fix its spelling, and check it is in "
       "the right place.", "<cors><allowOrigins/></cors>"),
    _e("E203", "Text is not allowed inside this element", "Remove the text, or make it an XML "
       "comment.", "<cors>origin=*</cors>"),
    _e("E204", "A required attribute is missing", "Add the attribute.", "<add />"),
    _e("E205", "A required attribute is empty", "Give the attribute a value.", '<add origin="" />'),
    _e("E206", "Invalid boolean value", "Write true or false.", '<cors enabled="yes">'),
    _e("E207", "Invalid integer value", "Write a whole number of seconds between -2147483648 and "
       "2147483647, without spaces.", '<add origin="*" maxAge="1h" />'),
    _e("E208", "A control character in a value that could reach a response header",
       "Remove the control character (such as &#10;).", '<add header="a&#10;b" />'),
    _e("E209", "An element that may appear once appears again",
       "Merge the two elements into one.", "two <allowMethods> in one rule"),
    _e("E210", "A value that cannot be sent in an HTTP header",
       "Header names and methods are HTTP tokens (letters, digits and !#$%&'*+-.^_`|~); "
       "header values use ISO-8859-1 characters only.", '<add name="X Token" value="1" />'),
    _e("E299", "The XML schema rejects the section",
       "Fix what the schema message says (schemas/iis-sections.xsd).", "(any schema violation)"),
    # -- E3xx: the configuration system (contract A4, A6, A9) -------------------------------
    _e("E301", "The section is already defined for this path",
       "Keep one definition per path: merge the two sections.",
       "two <cors> under one <system.webServer>"),
    _e("E302", "Cannot add a duplicate collection entry",
       "Remove one of the entries (keys compare case-insensitively), or <remove> the inherited "
       "one first.", '<add origin="https://a.example" /> twice', fixable=True),
    _e("E303", "Invalid location path", "Write a relative path of plain segments, such as "
       "api/v1.", '<location path="../x">'),
    # -- W1xx and N1xx: structure (W101 kept its code when it became a note) ------------------
    CodeInfo("W101", Severity.NOTE, "No CORS configuration here (no <cors> section, no "
             "Access-Control-* custom header): nothing to check",
             "Nothing to fix when the file is not about CORS (Views/Web.config, a transform); "
             "--ignore W101 hides the note.",
             "a Views/Web.config with only <system.web.webPages.razor> and a handler",
             changed=(f"{UNRELEASED}: a note, no longer a warning, so --strict passes such "
                      "files; not reported for a file whose customHeaders set an "
                      "Access-Control-* header (contract C2, C3).",)),
    _w("W102", "A <cors> element outside system.webServer is some other product's section, not "
       "the IIS CORS module's", "Move it under <system.webServer> if it was meant for IIS.",
       "<configuration><cors>...</cors></configuration>"),
    _w("W103", "<remove> of a key that is not there", "Drop the <remove>, or fix the key.",
       '<remove origin="https://never-added.example" />', fixable=True),
    _w("W104", "A symbolic link found by a search leads outside the directory searched; "
       "iiscors validate does not follow it",
       "Validate the file where it really is, or replace the link with a copy.",
       "site/web.config -> /etc/iis/web.config, found by iiscors validate site", UNRELEASED),
    _n("N101", "A <rewrite> section: iiscors does not interpret URL Rewrite rules, requests "
       "reach the application as if they were not there",
       "Check that the application answers what the rules answered on IIS (an OPTIONS "
       "preflight, a redirect); --ignore N101 hides the note.",
       '<rewrite><rules><rule name="SPA"><match url=".*" />...</rule></rules></rewrite>'),
    # -- W2xx: CORS policy lint ---------------------------------------------------------------
    _w("W201", "allowCredentials on the * rule", "Browsers refuse credentials with "
       "Access-Control-Allow-Origin: *; list the trusted origins instead.",
       '<add origin="*" allowCredentials="true" />', fixable=True),
    _w("W202", "allowCredentials on a scheme wildcard trusts every site of that scheme",
       "List the trusted origins or a host wildcard instead.",
       '<add origin="https://*" allowCredentials="true" />'),
    _w("W203", "allowCredentials on an http: origin (credentials over plain HTTP)",
       "Use the https: origin.", '<add origin="http://app.example" allowCredentials="true" />'),
    _w("W204", "The origin has upper-case letters; browsers send lower case and matching is "
       "case-sensitive, so it never matches", "Write the origin in lower case.",
       '<add origin="https://App.Example.com" />', fixable=True),
    _w("W205", "The origin has a path or a trailing slash; browsers never send one, so it never "
       "matches", "Remove everything after the host and port.",
       '<add origin="https://app.example/" />', fixable=True),
    _w("W206", "The origin has no scheme; browsers always send one, so it never matches",
       "Write scheme://host[:port].", '<add origin="localhost:3000" />'),
    _w("W207", "The origin is a template (braces); it is matched literally and never matches",
       "Write the real origin.", '<add origin="https://{domain}" />'),
    _w("W208", "The origin has an escaped \\*; there is no escaping, it never matches",
       "Write https://*.example.com for a host wildcard.",
       '<add origin="https://\\*.example.com" />'),
    _w("W209", "A * in a position the IIS module treats literally; it never matches",
       "Only *, scheme://* and scheme://*.suffix[:port] are wildcards.",
       '<add origin="https://api-*.example.com" />'),
    _w("W210", "The default port is written out; browsers omit it, so it never matches",
       "Remove :443 from https: and :80 from http: origins.",
       '<add origin="https://app.example:443" />', fixable=True),
    _w("W211", "The null origin is allowed (sandboxed iframes, file: pages and redirects send "
       "it, so any site can forge it)", "Remove the null rule.", '<add origin="null" />'),
    _w("W212", "A file:// origin is allowed; browsers send null for file: pages, and trusting "
       "local files is unsafe", "Remove the rule.", '<add origin="file://" />'),
    _w("W213", "OPTIONS in allowMethods is never needed (preflights are answered by the module)",
       "Remove the OPTIONS entry.", '<add method="OPTIONS" />', fixable=True),
    _w("W214", "An Access-Control-* name in exposeHeaders; browsers never expose those",
       "Remove the entry.", '<add header="Access-Control-Allow-Origin" />'),
    _w("W215", "A preflight cache time (maxAge, or an Access-Control-Max-Age custom header) above "
       "what browsers honour (Chromium caps at 7,200 s, Firefox at 86,400 s)",
       "Use 7200 or less.", '<add origin="https://a.example" maxAge="604800" />',
       changed=(f"{UNRELEASED}: also reported for an Access-Control-Max-Age custom header "
                "(contract C3).",)),
    _w("W216", "allowAllRequestedHeaders together with a header list: the list is then ignored "
       "on preflights", "Keep either allowAllRequestedHeaders or the list.",
       '<allowHeaders allowAllRequestedHeaders="true"><add header="x" /></allowHeaders>'),
    _w("W217", "CORS is enabled but has no origin rules: every CORS request is unlisted",
       "Add <add origin=.../> rules, or disable the section.", '<cors enabled="true" />'),
    _w("W218", "Origin rules are configured but CORS is not enabled here; they do nothing",
       'Add enabled="true" to <cors>.', '<cors><add origin="*" /></cors>'),
    _w("W219", "failUnlistedOrigins with a * rule can never fail an origin",
       "Remove the * rule, or failUnlistedOrigins.",
       '<cors enabled="true" failUnlistedOrigins="true"><add origin="*" /></cors>'),
    _w("W220", "httpProtocol/customHeaders sets an Access-Control-* header where <cors> is "
       "enabled: every response carries the header twice and browsers reject it",
       "Remove the Access-Control-* custom headers and let <cors> add them.",
       '<add name="Access-Control-Allow-Origin" value="*" />'),
    _w("W221", "The CorsModule is removed here while <cors> is configured: the section has no "
       "effect", 'Remove <remove name="CorsModule"/>, or the <cors> section.',
       '<modules><remove name="CorsModule" /></modules>'),
    _w("W222", "failUnlistedOrigins: browsers send Origin on a page's own POST/PUT/DELETE, so the "
       "site's own forms get 403 unless its origin is listed",
       "List the site's own origin, or use the exempt_same_origin option.",
       '<cors enabled="true" failUnlistedOrigins="true"><add origin="https://other.example" />'),
    _w("W223", "The origin is not a valid serialized origin; it never matches a browser's Origin",
       "Write scheme://host[:port] with a valid host.", '<add origin="https://exa mple.com" />'),
    # -- W3xx and N3xx: customHeaders CORS lint (contract C3) ---------------------------------
    _w("W301", "Access-Control-Allow-Origin: * together with Access-Control-Allow-Credentials: "
       "true; browsers refuse every credentialed response that carries both",
       "Send one trusted origin instead of * (a <cors> rule with allowCredentials echoes the "
       "caller's), or remove Access-Control-Allow-Credentials.",
       '<add name="Access-Control-Allow-Origin" value="*" />\n'
       '<add name="Access-Control-Allow-Credentials" value="true" />', UNRELEASED),
    _w("W302", "Several origins in one Access-Control-Allow-Origin value; browsers accept exactly "
       "one, so every CORS request fails",
       "Send one origin; to allow several, use <cors> rules, which answer with the caller's "
       "origin.", '<add name="Access-Control-Allow-Origin" '
       'value="http://www.example.com,https://www.example.com" />', UNRELEASED),
    _w("W303", "The Access-Control-Allow-Origin origin has a path or a trailing slash; browsers "
       "compare it with their origin, which has neither, so it never matches",
       "Remove everything after the host and port.",
       '<add name="Access-Control-Allow-Origin" value="https://app.example.com/" />',
       UNRELEASED),
    _w("W304", "The Access-Control-Allow-Origin value is neither * nor a serialized origin "
       "(a pattern, no scheme, upper case, a default port); browsers compare it literally, so "
       "it never matches", "Write * or exactly one origin: scheme://host[:port], lower case, "
       "without the default port.", '<add name="Access-Control-Allow-Origin" '
       'value="*.example.com" />', UNRELEASED),
    _w("W305", "Access-Control-Allow-Origin: null; sandboxed iframes, file: pages and "
       "redirects send Origin: null, so any site can obtain it",
       "Remove the header, or send the one trusted origin.",
       '<add name="Access-Control-Allow-Origin" value="null" />', UNRELEASED),
    _w("W306", "Access-Control-Allow-Credentials is not exactly true; browsers allow credentials "
       "only for the lower-case value true", "Write true, or remove the header.",
       '<add name="Access-Control-Allow-Credentials" value="True" />', UNRELEASED),
    _w("W307", "A * in Access-Control-Allow-Methods, -Allow-Headers or -Expose-Headers beside "
       "Access-Control-Allow-Credentials: true; for credentialed requests browsers read it as "
       "a literal name, not a wildcard", "List the methods or headers by name.",
       '<add name="Access-Control-Allow-Headers" value="*" />', UNRELEASED),
    _w("W308", "An Access-Control-* custom header that is not a CORS response header (a "
       "misspelling, or a request header); browsers ignore it",
       "Use the response header's exact name, or remove it.",
       '<add name="Access-Control-Allow-Method" value="GET, POST" />', UNRELEASED),
    _w("W309", "Access-Control-Max-Age is not a whole number of seconds; browsers ignore it and "
       "cache the preflight for 5 seconds", "Write a whole number of seconds, such as 600.",
       '<add name="Access-Control-Max-Age" value="1d" />', UNRELEASED),
    _n("N301", "A header only preflights read (Access-Control-Allow-Methods, -Allow-Headers, "
       "-Max-Age) is sent on every response; harmless, browsers ignore it on other responses",
       "Nothing to fix; a <cors> section sends these on preflights only. --ignore N301 hides "
       "the note.", '<add name="Access-Control-Allow-Methods" value="GET, POST, OPTIONS" />'),
    _n("N302", "Access-Control-Allow-Credentials: false does nothing; browsers treat it as if "
       "the header were absent", "Remove the header.",
       '<add name="Access-Control-Allow-Credentials" value="false" />'),
    # -- the configuration system beyond one file (contract E2; issue 13) --------------------
    _e("E211", "Invalid overrideMode value (Allow, Deny or Inherit)",
       "Write Allow, Deny or Inherit.", '<location path="api" overrideMode="Lock">', UNRELEASED),
    _e("E212", "overrideMode and allowOverride are both set on one <location>",
       "Keep overrideMode (allowOverride is its older form).",
       '<location path="api" overrideMode="Deny" allowOverride="false">', UNRELEASED),
    _e("E304", "This configuration section cannot be used at this path: it is locked at a "
       "parent level", "Remove the section from the lower file, or unlock it where it is "
       'locked (overrideMode="Allow").',
       '<location path="api" overrideMode="Deny"> in web.config, <cors> in api/web.config',
       UNRELEASED),
    _e("E305", "Lock violation: an attribute, element or item locked at a parent level is "
       "changed", "Leave the locked attribute, element or item alone, or remove the lock where "
       "it is set (lockAttributes, lockElements, lockItem...).",
       '<cors lockAttributes="enabled"> in web.config, <cors enabled="false"> below', UNRELEASED),
    _e("E306", "The configSource file cannot be used (its path leaves the including file's "
       "directory or the site, it is missing, a directory or not a regular file, or its root "
       "element is not the section's)",
       "Put the file in the including web.config's directory or below it, name it with a "
       "relative path, and make its root element the section's own (<cors>...</cors>).",
       '<cors configSource="..\\shared\\cors.config" />', UNRELEASED),
    _e("E307", "A section using configSource holds other attributes or elements",
       "Move everything into the configSource file; the including element carries "
       "configSource alone.", '<cors configSource="cors.config" enabled="true" />', UNRELEASED),
    _e("E401", "The applicationHost.config does not define the site",
       "Check the site's name (--site; the message lists the sites found), or that the file "
       "has <system.applicationHost><sites>.", "--site 'Default Website'", UNRELEASED),
    _e("E402", "A physical path of the site cannot be mapped to a local directory",
       "Add a --map 'WINDOWS_PATH=LOCAL_DIRECTORY' that covers it.",
       'physicalPath="D:\\sites\\api" without a --map for D:\\sites', UNRELEASED),
    _e("E403", "The section cannot be defined at this level (its allowDefinition forbids it)",
       "Move the section to a level its registration in applicationHost.config allows (an "
       "application's root web.config for MachineToApplication).",
       "<modules> in a sub-directory's web.config, registered MachineToApplication", UNRELEASED),
    _e("E404", "The section is not registered in applicationHost.config's <configSections>",
       "Install the IIS module that registers it (the IIS CORS module registers cors), or "
       "remove the section.", "<cors> on a server without the IIS CORS module", UNRELEASED),
)

CATALOGUE: dict[str, CodeInfo] = {info.code: info for info in _CODES}


def make(code: str, message: str, file: str, line: int | None = None,
         column: int | None = None, related: tuple[Related, ...] = ()) -> Diagnostic:
    """Build a diagnostic whose severity and fix come from the catalogue."""
    info = CATALOGUE[code]
    return Diagnostic(code, info.severity, message, file, line, column, info.fix, related)


def make_at(code: str, message: str, location: Location | None,
            related: tuple[Related, ...] = ()) -> Diagnostic:
    """:func:`make`, located at ``location`` (``<unknown>`` when there is none)."""
    if location is None:
        return make(code, message, "<unknown>", related=related)
    return make(code, message, location.file, location.line, location.column, related)


def related_at(note: str, location: Location) -> Related:
    """A :class:`Related` place at ``location``."""
    return Related(note, location.file, location.line, location.column)


def where(diagnostic: Diagnostic) -> str:
    """Where a diagnostic is, as ``file:line:column`` (the unknown parts left out)."""
    return format_location(diagnostic.file, diagnostic.line, diagnostic.column)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (d.file, d.line or 0, d.column or 0, d.code)
