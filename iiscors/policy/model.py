"""What a decision is made from: the effective section of one path and its origin rules.

The config room (:mod:`iiscors.config`) reads files and builds these; the policy room compiles and
decides from them.  They are plain frozen data, so that the decision core needs neither lxml nor
the file readers (contract A3, A9, C1, D1).
"""

from __future__ import annotations

import operator
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import Field, FrozenInstanceError, dataclass
from itertools import repeat
from typing import Any, ClassVar, Literal, overload


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


#: How many rows of a :class:`RuleTable` one C-level step builds or reads: a hot reload builds
#: tables on a thread beside requests, and a C call over 100,000 rows holds the GIL for tens of
#: milliseconds (issue 17); a thousand rows take a millisecond or two on a slow VM (4,096 took
#: up to 6 ms of the 5 ms a request may wait, tools/gil_holds.py).
TABLE_STEP = 1024
#: The smallest array type codes that hold a shape's index, by how many shapes they can count.
_KIND_CODES = ((1 << 8, "B"), (1 << 16, "H"))


def table_steps(count: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of each step of :data:`TABLE_STEP` rows over ``count`` rows."""
    for start in range(0, count, TABLE_STEP):
        yield start, start + TABLE_STEP


class RuleTable(Sequence[OriginRule]):
    """The origin rules of one ``<cors>`` section, kept as columns (issue 17: a worker keeps
    every configured origin, and a full collection walks every tracked object).

    What a rule costs here: a slot in :attr:`origins` (the string itself is the one the
    policy's origin table keys on), its place packed into 8 bytes of :attr:`places` (as
    :class:`OriginRule` packs it) and its shape as a 1- or 2-byte index in :attr:`kinds` into
    :attr:`shapes`, the distinct shape tuples.  None of these is an object per rule, and a
    tuple of strings, the arrays and the shapes are not walked by the collector.  A rule whose
    place cannot be packed (a column past 1023) is kept whole in ``odd``.

    It reads as the tuple of :class:`OriginRule` it stands for: indexing and iterating build
    each rule when asked (rules compare by value, never by identity), it compares equal to
    that tuple and hashes as it does.  Readers of many rules (the policy's compiler, lint,
    scoping) read the columns instead, building no rule.
    """

    __slots__ = ("_odd", "_unique", "firsts", "kinds", "origins", "places", "plain_exact",
                 "shapes")

    def __init__(self, origins: tuple[str, ...], shapes: tuple[tuple[Any, ...], ...],
                 firsts: tuple[int, ...], kinds: array[int], places: array[int],
                 odd: dict[int, OriginRule]) -> None:
        #: each rule's origin, in document order
        self.origins = origins
        #: the distinct shapes (:attr:`OriginRule.shape`), in the order of their first rule
        self.shapes = shapes
        #: the index of each shape's first rule
        self.firsts = firsts
        #: each rule's shape, as an index into :attr:`shapes`
        self.kinds = kinds
        #: each rule's place, packed (0 for a rule of ``odd``)
        self.places = places
        self._odd = odd
        #: whether no two origins are equal case-folded (contract A6), once asked
        self._unique: bool | None = None
        #: True once a reader proved every origin a plain exact origin (lint's one match over
        #: all of them, iiscors.config.lint): the policy then builds its origin table without
        #: checking them again (``OriginMatcher.of``; issue 17: 18 ms of a 100,000-rule load)
        self.plain_exact = False

    @classmethod
    def located(cls, origins: list[str], shapes: list[tuple[Any, ...]], lines: list[int],
                columns: list[int], whole: dict[int, OriginRule] | None = None) -> RuleTable:
        """The rules :meth:`OriginRule.located` would make of each ``origin``, ``shape``,
        ``line`` and ``column``, a step of rows at a time (a loader building 100,000 rules);
        the rows of ``whole`` are those rules instead (built otherwise: their shape and place
        are theirs).  The lists are the caller's, given up: they are changed."""
        odd: dict[int, OriginRule] = {}
        for index, rule in (whole or {}).items():
            shapes[index] = rule.shape
            at = rule._at
            if isinstance(at, Location):
                odd[index], at = rule, 0
            lines[index], columns[index] = at >> _COLUMN_BITS, at & (_COLUMN_LIMIT - 1)
        places: array[int] = array("q")
        for start, stop in table_steps(len(origins)):
            line_step, column_step = lines[start:stop], columns[start:stop]
            if min(column_step) < 0 or max(column_step) >= _COLUMN_LIMIT or min(line_step) < 0:
                for offset, (line, column) in enumerate(zip(line_step, column_step, strict=True)):
                    if not (0 <= column < _COLUMN_LIMIT and line >= 0):
                        odd[start + offset] = OriginRule.located(
                            origins[start + offset], shapes[start + offset], line, column)
                        line_step[offset] = column_step[offset] = 0
            places.extend(map(operator.or_, map(operator.lshift, line_step,
                                                repeat(_COLUMN_BITS)), column_step))
        return cls._of_columns(origins, shapes, places, odd)

    @classmethod
    def of(cls, rules: Iterable[OriginRule]) -> RuleTable:
        """The table of ``rules`` (any rules: each keeps its place and shape)."""
        origins: list[str] = []
        shapes: list[tuple[Any, ...]] = []
        places: array[int] = array("q")
        odd: dict[int, OriginRule] = {}
        for index, rule in enumerate(rules):  # a loop the interpreter can interrupt
            origins.append(rule.origin)
            shapes.append(rule.shape)
            at = rule._at
            if isinstance(at, Location):
                odd[index], at = rule, 0
            places.append(at)
        return cls._of_columns(origins, shapes, places, odd)

    @classmethod
    def _of_columns(cls, origins: list[str], shapes: list[tuple[Any, ...]], places: array[int],
                    odd: dict[int, OriginRule]) -> RuleTable:
        # Shapes are told apart by identity (most are interned, one tuple each): ``shapes``
        # keeps each alive, so its id stays its own while this runs.
        index: dict[int, int] = {}
        distinct: list[tuple[Any, ...]] = []
        firsts: list[int] = []
        for start, stop in table_steps(len(shapes)):
            step = shapes[start:stop]
            # each shape of the step at its first row (read backwards: the first one wins)
            met = dict(zip(map(id, reversed(step)), range(start + len(step) - 1, start - 1, -1),
                           strict=True))
            for first, ident in sorted((first, ident) for ident, first in met.items()
                                       if ident not in index):
                index[ident] = len(distinct)
                distinct.append(shapes[first])
                firsts.append(first)
        code = next((code for limit, code in _KIND_CODES if len(distinct) <= limit), "I")
        kinds: array[int] = array(code)
        for start, stop in table_steps(len(shapes)):
            kinds.extend(map(index.__getitem__, map(id, shapes[start:stop])))
        return cls(tuple(origins), tuple(distinct), tuple(firsts), kinds, places, odd)

    def __len__(self) -> int:
        return len(self.origins)

    @overload
    def __getitem__(self, index: int) -> OriginRule: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[OriginRule, ...]: ...

    def __getitem__(self, index: int | slice) -> OriginRule | tuple[OriginRule, ...]:
        if isinstance(index, slice):
            return tuple(map(self.__getitem__, range(len(self.origins))[index]))
        position = range(len(self.origins))[index]  # IndexError as a tuple raises it
        whole = self._odd.get(position) if self._odd else None
        if whole is not None:
            return whole
        rule: OriginRule = _new_rule(OriginRule)
        _set_origin(rule, self.origins[position])
        _set_shape(rule, self.shapes[self.kinds[position]])
        _set_at(rule, self.places[position])
        return rule

    def __iter__(self) -> Iterator[OriginRule]:
        for start, stop in table_steps(len(self.origins)):
            yield from self.rows(start, stop)

    def rows(self, start: int, stop: int) -> list[OriginRule]:
        """The rules ``start`` to ``stop`` (not past the end), built by C-level iterators."""
        origins = self.origins[start:stop]
        rules = list(map(_new_rule, repeat(OriginRule, len(origins))))
        shapes = map(self.shapes.__getitem__, self.kinds[start:stop])
        for setter, values in ((_set_origin, origins), (_set_shape, shapes),
                               (_set_at, self.places[start:stop])):
            deque(map(setter, rules, values), maxlen=0)
        odd = self._odd
        if odd:
            for offset in range(len(rules)):
                rules[offset] = odd.get(start + offset, rules[offset])
        return rules

    def unique_origins(self) -> bool:
        """Whether no two origins are equal case-folded (contract A6: the collection's key
        compares case-insensitively), told once per table."""
        if self._unique is None:
            folded: set[str] = set()
            for start, stop in table_steps(len(self.origins)):
                step = self.origins[start:stop]
                joined = "\n".join(step)
                # ASCII with no capital folds to itself: the origins themselves, no new string
                # each (freeing 100,000 new ones at the end held the GIL beside a reload)
                plain = joined.isascii() and joined.lower() == joined
                folded.update(step if plain else map(str.casefold, step))
            self._unique = len(folded) == len(self.origins)
        return self._unique

    def first_of_each_shape(self) -> list[OriginRule]:
        """The first rule of each shape, in the order of :attr:`shapes`: a reader that judges
        rules by their shape asks once per shape."""
        return list(map(self.__getitem__, self.firsts))

    # -- a frozen value: the tuple of its rules ---------------------------------------------

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RuleTable):
            if self is other:
                return True
            if len(self) != len(other) or not self._same_column(other, _ORIGINS):
                return False
            if (self.shapes == other.shapes and self._odd == other._odd
                    and self._same_column(other, _KINDS) and self._same_column(other, _PLACES)):
                return True  # the same columns (a file read again); else rule by rule:
            return all(map(operator.eq, self, other))
        if isinstance(other, tuple):
            return len(self) == len(other) and all(map(operator.eq, self, other))
        return NotImplemented

    def _same_column(self, other: RuleTable, column: Callable[[RuleTable], Sequence[object]]
                     ) -> bool:
        """Whether ``column`` of both tables (as long) is equal, compared a step at a time
        (a reload compares 100,000 origins with the ones in use)."""
        mine, theirs = column(self), column(other)
        return all(mine[start:stop] == theirs[start:stop]
                   for start, stop in table_steps(len(mine)))

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __reduce__(self) -> tuple[type[RuleTable], tuple[object, ...]]:
        return RuleTable, (self.origins, self.shapes, self.firsts, self.kinds, self.places,
                           self._odd)

    def __repr__(self) -> str:
        return f"RuleTable({tuple(self)!r})"


_ORIGINS = operator.attrgetter("origins")
_KINDS = operator.attrgetter("kinds")
_PLACES = operator.attrgetter("places")


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
    #: a tuple, or the :class:`RuleTable` of a section read in one pass (compared by value)
    rules: Sequence[OriginRule] = ()
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
