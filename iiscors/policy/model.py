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

    @property
    def active(self) -> bool:
        """Contract B1 and D1: CORS processing happens only where enabled and not removed."""
        return self.enabled and self.cors_module
