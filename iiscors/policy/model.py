"""What a decision is made from: the effective section of one path and its origin rules.

The config room (:mod:`iiscors.config`) reads files and builds these; the policy room compiles and
decides from them.  They are plain frozen data, so that the decision core needs neither lxml nor
the file readers (contract A3, A9, C1, D1).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Location:
    """Where a node is: file, 1-based line and column (None where unknown)."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        # A rule is named by file and line in reasons and in explain: what people look for.
        return format_location(self.file, self.line)


def format_location(file: str, line: int | None = None, column: int | None = None) -> str:
    """``file:line:column``, leaving out what is unknown (a column only after a line): how every
    place is written, in diagnostics, reports and reasons."""
    if line is None:
        return file
    return f"{file}:{line}" if column is None else f"{file}:{line}:{column}"


@dataclass(frozen=True, slots=True)
class OriginRule:
    """One ``<add origin>`` of ``system.webServer/cors``, with its own lists resolved."""

    origin: str
    allowed: bool = True
    allow_credentials: bool = False
    max_age: int = -1
    allow_all_requested_headers: bool = False
    allow_headers: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    location: Location = field(default_factory=lambda: Location("<memory>"))
    #: where each list entry was written, for the lint checks
    header_locations: tuple[tuple[str, str, Location], ...] = ()
    #: where the rule's other attributes (allowCredentials, maxAge...) were written, for lint
    attribute_locations: tuple[tuple[str, Location], ...] = ()


@dataclass(frozen=True, slots=True)
class OptionsRecipe:
    """The URL Rewrite rule that answers OPTIONS itself, before the app (contract C2).

    Only the exact recipe becomes one (:mod:`iiscors.config.rewrite` says what that is): a rule
    matching every URL, with the single condition ``{REQUEST_METHOD}`` against ``OPTIONS`` or
    ``^OPTIONS$``, and a ``CustomResponse`` action answering 200.
    """

    #: the rule's ``name``
    name: str
    #: where its ``<rule>`` element was written
    location: Location
    #: True for the pattern ``^OPTIONS$`` (the whole method), False for ``OPTIONS`` (a regular
    #: expression without anchors, so any method holding the word)
    anchored: bool = True
    #: the condition's ``ignoreCase`` (URL Rewrite's default: true)
    ignore_case: bool = True
    #: the pattern's letters as written (``OPTIONS``, or ``options``...)
    word: str = "OPTIONS"
    #: the action's ``statusCode``, ``statusReason`` and ``statusDescription``
    status: int = 200
    reason: str = "OK"
    description: str | None = None

    def matches(self, method: str) -> bool:
        """Does the condition hold for a request ``method``?  As URL Rewrite's ECMAScript
        regular expressions match: ``ignoreCase`` folds ASCII letters only."""
        word = self.word
        if self.ignore_case:
            method, word = ascii_lower(method), ascii_lower(word)
        return method == word if self.anchored else word in method

    @property
    def body(self) -> bytes:
        """The answer's body: the description (UTF-8), empty without one."""
        return b"" if self.description is None else self.description.encode("utf-8")

    def __str__(self) -> str:
        return f'<rule name="{self.name}"> ({self.location})'


def ascii_lower(text: str) -> str:
    """``text`` with ASCII capitals lowered and nothing else touched: how ECMAScript's
    ``ignoreCase`` compares a method name (no Unicode folding: ``ſ`` is not ``s``)."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


@dataclass(frozen=True, slots=True)
class EffectiveSection:
    """Everything that applies at one path, merged from all the levels above it."""

    path: tuple[str, ...]
    enabled: bool = False
    fail_unlisted_origins: bool = False
    rules: tuple[OriginRule, ...] = ()
    custom_headers: tuple[tuple[str, str], ...] = ()
    #: False where ``<modules>`` removed CorsModule (contract D1)
    cors_module: bool = True
    #: True where some ``<cors>`` element applies (for the lint checks)
    cors_configured: bool = False
    #: where the ``<cors>`` sections that apply were written, outermost first
    cors_locations: tuple[Location, ...] = ()
    #: where each custom header was added, for the lint checks
    custom_header_locations: tuple[Location, ...] = ()
    modules_location: Location | None = None
    #: where the failUnlistedOrigins in effect was written (None when it is the default)
    fail_unlisted_location: Location | None = None
    #: where the CorsModule was removed (its ``<remove>`` or ``<clear/>``), for the lint checks
    module_removed_location: Location | None = None
    #: True where the configuration is unusable (contract E6): IIS answers 500.19 there, so
    #: the middleware answers 500 and never calls the application
    unusable: bool = False
    #: the URL Rewrite rule that answers OPTIONS itself here, if the recipe applies (contract C2)
    options_recipe: OptionsRecipe | None = None

    @property
    def active(self) -> bool:
        """Contract B1 and D1: CORS processing happens only where enabled and not removed."""
        return self.enabled and self.cors_module
