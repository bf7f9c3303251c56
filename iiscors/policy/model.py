"""What a decision is made from: the effective section of one path and its origin rules.

The config room (:mod:`iiscors.config`) reads files and builds these; the policy room compiles and
decides from them.  They are plain frozen data, so that the decision core needs neither lxml nor
the file readers (contract A3, A9, C1, D1).
"""

from __future__ import annotations

import operator
from collections import deque
from dataclasses import Field, FrozenInstanceError, dataclass
from itertools import repeat
from typing import Any, ClassVar, Literal


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


#: The memory an :class:`OriginRule` keeps is what a worker keeps per configured origin: a
#: 100,000-origin file is loaded by every worker of a pool (issue 17).  So a rule holds three
#: references: its origin, one tuple shared by every rule with the same file, flags and lists
#: (:data:`_SHAPES` interns them), and where it was written, packed into one int when the
#: column is small enough.
_COLUMN_BITS = 10
_COLUMN_LIMIT = 1 << _COLUMN_BITS
#: The interned shapes (file, allowed, allow_credentials, max_age, allow_all_requested_headers,
#: allow_headers, allow_methods, expose_headers, header_locations, attribute_locations); emptied
#: when it grows past _SHAPES_LIMIT so that a long-lived process never keeps old files' shapes.
_SHAPES: dict[tuple[object, ...], tuple[object, ...]] = {}
_SHAPES_LIMIT = 4096
_NO_LOCATION = Location("<memory>")


def _shape(key: tuple[object, ...]) -> tuple[object, ...]:
    shape = _SHAPES.get(key)
    if shape is None:
        if len(_SHAPES) >= _SHAPES_LIMIT:
            _SHAPES.clear()
        shape = _SHAPES[key] = key
    return shape


class OriginRule:
    """One ``<add origin>`` of ``system.webServer/cors``, with its own lists resolved.

    Immutable, compared and hashed by value, like the frozen dataclass it was; its attributes
    are computed from a compact storage (see :data:`_COLUMN_BITS`).  ``header_locations`` and
    ``attribute_locations`` (where each list entry and each other attribute was written, for
    the lint checks) are empty unless a reader located them.
    """

    __slots__ = ("_at", "origin", "shape")

    #: The public fields, as :func:`dataclasses.fields` and :func:`dataclasses.replace` see
    #: them (set below the class): callers such as ``iiscors fix`` replace a rule's origin.
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    origin: str
    #: the rule's file, flags and lists, one tuple shared by every rule with the same ones
    #: (:meth:`shape_of`): what a reader of many rules may judge once per shape
    shape: tuple[Any, ...]
    _at: int | Location

    def __init__(self, origin: str, allowed: bool = True, allow_credentials: bool = False,
                 max_age: int = -1, allow_all_requested_headers: bool = False,
                 allow_headers: tuple[str, ...] = (), allow_methods: tuple[str, ...] = (),
                 expose_headers: tuple[str, ...] = (), location: Location = _NO_LOCATION,
                 header_locations: tuple[tuple[str, str, Location], ...] = (),
                 attribute_locations: tuple[tuple[str, Location], ...] = ()) -> None:
        line, column = location.line, location.column
        at: int | Location = location
        if line is not None and column is not None and 0 <= column < _COLUMN_LIMIT and line >= 0:
            at = line << _COLUMN_BITS | column
        shape: tuple[object, ...] = (location.file, allowed, allow_credentials, max_age,
                                     allow_all_requested_headers, allow_headers, allow_methods,
                                     expose_headers, header_locations, attribute_locations)
        if not (header_locations or attribute_locations):  # located ones are the rule's own
            shape = _shape(shape)
        setter = object.__setattr__
        setter(self, "origin", origin)
        setter(self, "shape", shape)
        setter(self, "_at", at)

    @classmethod
    def located(cls, origin: str, shape: tuple[Any, ...], line: int, column: int
                ) -> OriginRule:
        """A rule whose shape came from :meth:`shape_of` (a loader building thousands of
        rules asks once per distinct shape), written at ``line``/``column`` of the shape's
        file."""
        rule = _new_rule(cls)
        _set_origin(rule, origin)
        _set_shape(rule, shape)
        _set_at(rule, line << _COLUMN_BITS | column if 0 <= column < _COLUMN_LIMIT
                and line >= 0 else Location(shape[0], line, column))
        return rule

    @classmethod
    def located_all(cls, origins: list[str], shapes: list[tuple[Any, ...]], lines: list[int],
                    columns: list[int]) -> list[OriginRule]:
        """:meth:`located` for many rules at once, by C-level iterators (a loader building
        100,000 rules: issue 17)."""
        if not origins:
            return []
        if max(columns) >= _COLUMN_LIMIT or min(columns) < 0 or min(lines) < 0:
            return [cls.located(*rule) for rule in zip(origins, shapes, lines, columns,
                                                          strict=True)]
        rules = list(map(_new_rule, repeat(cls, len(origins))))
        packed = map(operator.or_, map(operator.lshift, lines, repeat(_COLUMN_BITS)), columns)
        for setter, values in ((_set_origin, origins), (_set_shape, shapes), (_set_at, packed)):
            deque(map(setter, rules, values), maxlen=0)
        return rules

    @staticmethod
    def shape_of(file: str, allowed: bool = True, allow_credentials: bool = False,
                 max_age: int = -1, allow_all_requested_headers: bool = False,
                 allow_headers: tuple[str, ...] = (), allow_methods: tuple[str, ...] = (),
                 expose_headers: tuple[str, ...] = ()) -> tuple[Any, ...]:
        """The interned shape :meth:`located` takes (no located lists or attributes)."""
        return _shape((file, allowed, allow_credentials, max_age, allow_all_requested_headers,
                       allow_headers, allow_methods, expose_headers, (), ()))

    @property
    def allowed(self) -> bool:
        """``allowed`` (default true)"""
        value: bool = self.shape[1]
        return value

    @property
    def allow_credentials(self) -> bool:
        """``allowCredentials``"""
        value: bool = self.shape[2]
        return value

    @property
    def max_age(self) -> int:
        """``maxAge`` (-1 where it is not written)"""
        value: int = self.shape[3]
        return value

    @property
    def allow_all_requested_headers(self) -> bool:
        """``allowAllRequestedHeaders`` of ``<allowHeaders>``"""
        value: bool = self.shape[4]
        return value

    @property
    def allow_headers(self) -> tuple[str, ...]:
        """``<allowHeaders>``'s names"""
        value: tuple[str, ...] = self.shape[5]
        return value

    @property
    def allow_methods(self) -> tuple[str, ...]:
        """``<allowMethods>``'s methods"""
        value: tuple[str, ...] = self.shape[6]
        return value

    @property
    def expose_headers(self) -> tuple[str, ...]:
        """``<exposeHeaders>``'s names"""
        value: tuple[str, ...] = self.shape[7]
        return value

    @property
    def header_locations(self) -> tuple[tuple[str, str, Location], ...]:
        """(list, value, where) of each list entry, for lint"""
        value: tuple[tuple[str, str, Location], ...] = self.shape[8]
        return value

    @property
    def attribute_locations(self) -> tuple[tuple[str, Location], ...]:
        """(name, where) of its other attributes, for lint"""
        value: tuple[tuple[str, Location], ...] = self.shape[9]
        return value

    @property
    def location(self) -> Location:
        """Where the rule's ``origin`` attribute was written."""
        at = self._at
        if isinstance(at, Location):
            return at
        return Location(self.shape[0], at >> _COLUMN_BITS, at & (_COLUMN_LIMIT - 1))

    # -- what a collection directive is (iiscors.config.scope): an <add> needs no Entry -----

    @property
    def op(self) -> Literal["add"]:
        return "add"

    @property
    def key(self) -> str:
        return self.origin

    @property
    def value(self) -> OriginRule:
        return self

    @property
    def locked_at(self) -> None:
        return None

    # -- a frozen value ---------------------------------------------------------------------

    def _identity(self) -> tuple[object, ...]:
        # A place is packed whenever it can be (the same line and column always the same
        # way), and the file is the shape's: comparing the storage compares the fields, with
        # no Location built (a reload compares 100,000 rules with the ones in use).
        return (self.origin, self.shape, self._at)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OriginRule):
            return NotImplemented
        return self is other or self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[type[OriginRule], tuple[object, ...]]:
        return OriginRule, tuple(getattr(self, name) for name in _RULE_FIELDS)

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in _RULE_FIELDS)
        return f"OriginRule({values})"


@dataclass(frozen=True)
class _OriginRuleFields:
    """The public fields of :class:`OriginRule`, for :mod:`dataclasses` (never built)."""

    origin: str
    allowed: bool = True
    allow_credentials: bool = False
    max_age: int = -1
    allow_all_requested_headers: bool = False
    allow_headers: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    location: Location = _NO_LOCATION
    header_locations: tuple[tuple[str, str, Location], ...] = ()
    attribute_locations: tuple[tuple[str, Location], ...] = ()


OriginRule.__dataclass_fields__ = _OriginRuleFields.__dataclass_fields__
# The slots' own setters, in C: what OriginRule.located builds 100,000 rules with (issue 17).
_new_rule = object.__new__
_set_origin = vars(OriginRule)["origin"].__set__
_set_shape = vars(OriginRule)["shape"].__set__
_set_at = vars(OriginRule)["_at"].__set__
_RULE_FIELDS = tuple(_OriginRuleFields.__dataclass_fields__)


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
