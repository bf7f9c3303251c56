"""The decision core: request in, :class:`Decision` out (contract B1-B15, C1, C2, D1).

Pure on purpose: it imports neither werkzeug nor lxml, and everything that depends only on the
configuration (header tuples, the origin table, the decisions that never vary) is computed once
in :class:`ScopePolicy`.  The only state that changes after construction is a memo of its own
results: the answers of allowed origins already decided (:attr:`ScopePolicy.answers`, bounded),
the last origin refused after a pattern lookup, and each rule's last proven
Access-Control-Request-Headers echo; none changes a decision.

One operation, one evaluator: :meth:`ScopePolicy.verdict` decides a request in one scope and
returns a :class:`Verdict`.  Everything else wraps it or shares its lookup:

- :meth:`Policy.evaluate` (and the public ``Config.evaluate``/``Config.decide`` and the adapters'
  ``CorsMiddleware.decide``) find the scope and add the origin: a :class:`Decision`, which
  ``iiscors explain`` and the tests read;
- :meth:`ScopePolicy.admit`, the first sight of an origin, returns (and keeps) the
  :class:`Answer` of an allowed origin, or None; ``verdict`` takes its answers from it, and the
  adapters and the request plan (:func:`iiscors.policy.plan.plan_request`) ask it on a miss in
  :attr:`ScopePolicy.answers`, so that neither a repeat nor a first sight builds a Verdict.

So what explain prints is what the middleware does.

Where URL Rewrite's OPTIONS recipe applies (contract C2), the scope is a
:class:`RecipeScopePolicy`: CORS decides first, as the IIS CORS module acts before other modules
(its 204 and 403 stand), and what CORS would pass on to the app is answered by the recipe
instead, with the same headers.  Scopes without the recipe are plain :class:`ScopePolicy`
objects and do not pay for it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from iiscors.policy import headers
from iiscors.policy.compiled import (
    DENIED,
    CompiledRule,
    Denied,
    RawHeaders,
    RuleCompiler,
    raw,
)
from iiscors.policy.model import (
    EffectiveSection,
    OptionsRecipe,
    OriginRule,
    RuleTable,
    table_steps,
)
from iiscors.policy.origins import MAX_ORIGIN_BYTES, OriginMatcher
from iiscors.policy.scopes import PathTree

Headers = tuple[tuple[str, str], ...]


class RequestKind(enum.StrEnum):
    """Contract B2/B3: what the request is, for CORS."""

    PREFLIGHT = "preflight"
    ACTUAL = "actual"
    NOT_CORS = "not-cors"

    def __str__(self) -> str:
        return self.value


class Outcome(enum.StrEnum):
    """What the middleware does: answers itself (allowed preflight, 403; 500 where the
    configuration is unusable, contract E6) or lets the app answer."""

    ALLOWED = "allowed"
    DENIED = "denied"
    PASSTHROUGH = "passthrough"
    UNUSABLE = "unusable"

    def __str__(self) -> str:
        return self.value


class Reason(enum.StrEnum):
    """Why, as a template over the request's origin and the chosen rule."""

    DISABLED = "CORS is not enabled for this path (<cors enabled> is false or unset)"
    MODULE_REMOVED = "the CorsModule is removed for this path (<modules>), so <cors> does nothing"
    NO_ORIGIN = "no Origin header: not a CORS request, the app answers"
    SAME_ORIGIN = ("Origin {origin} is the request's own origin and same-origin requests are "
                   "exempt: the app answers")
    UNLISTED_FAIL = "no rule matches {origin}; failUnlistedOrigins is true → 403"
    UNLISTED_PASS = ("no rule matches {origin}; failUnlistedOrigins is false → the app answers "
                     "without CORS headers")
    DENIED_FAIL = ('rule {rule} matches {origin} and has allowed="false"; failUnlistedOrigins '
                   "is true → 403")
    DENIED_PASS = ('rule {rule} matches {origin} and has allowed="false"; failUnlistedOrigins '
                   "is false → the app answers without CORS headers")
    NOT_SERIALIZED_FAIL = ("{origin} is not a serialized origin, so it is never echoed and "
                           "counts as unlisted; failUnlistedOrigins is true → 403")
    NOT_SERIALIZED_PASS = ("{origin} is not a serialized origin, so it is never echoed and "
                           "counts as unlisted; failUnlistedOrigins is false → the app answers "
                           "without CORS headers")
    PREFLIGHT_ALLOWED = ("rule {rule} allows {origin}: the middleware answers the preflight "
                         "with 204")
    ACTUAL_ALLOWED = ("rule {rule} allows {origin}: the app answers and the CORS headers are "
                      "added to its response")
    UNUSABLE = ("the configuration of this path is unusable (IIS answers 500.19 here): the "
                "middleware answers 500 to every request under it and the app is not called")


# Plain aliases: reading a member through its Enum class costs more on every request.
_PREFLIGHT = RequestKind.PREFLIGHT
_ACTUAL = RequestKind.ACTUAL
_NOT_CORS = RequestKind.NOT_CORS
_ALLOWED = Outcome.ALLOWED
_PASSTHROUGH = Outcome.PASSTHROUGH
_ACTUAL_ALLOWED = Reason.ACTUAL_ALLOWED
_PREFLIGHT_ALLOWED = Reason.PREFLIGHT_ALLOWED
_ALLOW_ANY: tuple[tuple[str, str], ...] = ((headers.ALLOW_ORIGIN, "*"),)
_ALLOW_ORIGIN = headers.ALLOW_ORIGIN
#: ``_new_tuple(Cls, (fields...))`` builds a NamedTuple without the Python-level ``__new__`` of
#: its class (an allowed Verdict is built this way).
_new_tuple = tuple.__new__


#: How many allowed origins a whole :class:`Policy` (all its scopes together) keeps a ready
#: :class:`Answer` for (see :attr:`ScopePolicy.answers`); every table is emptied when full.
ANSWER_CACHE_SIZE = 1024
#: Longer origins are answered without being kept, which bounds the tables' memory
#: (a DNS name has at most 253 characters; contract B6 allows origins up to 2,048).
ANSWER_CACHE_MAX_ORIGIN = 256
#: Longer Access-Control-Request-Headers values are echoed without being kept in a rule's
#: ``last_echo`` slot.
LAST_ECHO_MAX = 256


#: The prepared response headers of one allowed origin (contract B8-B10, B12):
#: ``(allow_origin, rule)``.
#:
#: - ``allow_origin``, ``((Access-Control-Allow-Origin, origin or "*"),)``, is the only part
#:   that belongs to the origin;
#: - ``rule`` holds the headers of the rule that allowed it, built once and shared by every
#:   origin of that rule, so that a kept answer costs the same few hundred bytes whatever the
#:   rule and the customHeaders hold.
#:
#: A plain tuple, not a NamedTuple: the first sight of an origin builds one (admit), and a
#: tuple display costs about 1,400 machine instructions less than ``tuple.__new__`` of a
#: subclass, a fifth of a first sight's cost above a repeat (issue 17; docs/performance.md,
#: "First sight", round three).  Read it by unpacking: ``allow_origin, rule = answer``.
Answer = tuple[Headers, CompiledRule]


def preflight_headers(answer: Answer, request_headers: str | None) -> list[tuple[str, str]]:
    """The allowed preflight's headers for ``answer`` (contract B8, B14), as a new list (the
    WSGI ``start_response`` form): the requested headers are copied as sent when the rule
    allows all of them and the value is proven safe (:func:`iiscors.policy.headers.
    echoable_request_headers`; the rule's ``last_echo`` slot spares repeats the check).
    """
    allow_origin, rule = answer
    before = rule.preflight_before_echo
    if before is None or request_headers is None:
        return [*allow_origin, *rule.preflight_tail]
    last, echoed = rule.last_echo
    if last != request_headers:
        if not headers.echoable_request_headers(request_headers):
            return [*allow_origin, *rule.preflight_tail]
        echoed = (headers.ALLOW_HEADERS, request_headers)
        if len(request_headers) <= LAST_ECHO_MAX:
            # One slot per rule, replaced as a whole: a reader never sees a value paired with
            # another value's header (a page sends the same list preflight after preflight).
            rule.last_echo = (request_headers, echoed)
    return [*allow_origin, *before, echoed, *rule.preflight_after_echo]


class CorsRequest(NamedTuple):
    """The parts of a request that CORS decisions read (header values as received)."""

    method: str = "GET"
    origin: str | None = None
    request_method: str | None = None
    request_headers: str | None = None
    path: str = "/"
    host: str | None = None
    scheme: str = "http"


class Verdict(NamedTuple):
    """What :meth:`ScopePolicy.verdict` decides: a :class:`Decision` without its origin (see
    :class:`Decision` for the fields)."""

    kind: RequestKind
    outcome: Outcome
    status: int | None
    headers: Headers
    rule: OriginRule | None
    why: Reason
    #: the URL Rewrite rule that answers instead of the app (contract C2), else None
    recipe: OptionsRecipe | None = None

    def decision(self, origin: str | None) -> Decision:
        """This verdict with the request's origin: the :class:`Decision` explain reads."""
        return Decision(self.kind, self.outcome, self.status, self.headers, self.rule, self.why,
                        origin, self.recipe)


class Plan(NamedTuple):
    """What an adapter does with one request (:func:`iiscors.policy.plan.plan_request`).

    ``status`` 204 or 403: the adapter answers itself, with ``headers`` (and, for a 403, a
    short text body), before the application and any authentication inside it run (contract
    B7, B8).  With a ``reason``, the URL Rewrite recipe's answer (contract C2): the status
    line ``status reason``, a text ``body`` (maybe empty), and ``headers``.  ``status`` None:
    the adapter calls the application and adds ``headers``, then ``rule_headers``, to whatever
    response it starts, any status (contract B9, B11, B15, C1); nothing to add when both are
    empty.
    """

    status: int | None
    headers: Sequence[tuple[str, str]]
    #: the shared headers of the rule that allowed the origin, kept apart from the origin's own
    #: Access-Control-Allow-Origin so that a repeat is planned without building a tuple
    rule_headers: Headers = ()
    #: the recipe's reason phrase and body (contract C2); empty for every other plan
    reason: str = ""
    body: bytes = b""


#: Contract E6: what the middleware answers under an unusable scope (IIS's 500.19), and the
#: plan that says so (no header: nothing of the configuration applies there).
UNUSABLE_STATUS = 500
UNUSABLE_PLAN = Plan(UNUSABLE_STATUS, ())


class Decision(NamedTuple):
    """What the middleware does with one request.

    ``status`` is 204 or 403 when the middleware answers itself, None when the app is called;
    ``headers`` are the headers the middleware adds (``Vary`` is merged, never duplicated).
    Where URL Rewrite's OPTIONS recipe answers instead of the app (contract C2), ``recipe`` is
    that rule and ``status`` its status; ``outcome`` and ``why`` still say what CORS did.
    """

    kind: RequestKind
    outcome: Outcome
    status: int | None
    headers: Headers
    rule: OriginRule | None
    why: Reason
    origin: str | None
    recipe: OptionsRecipe | None = None

    @property
    def reason(self) -> str:
        rule = "(none)"
        if self.rule is not None:
            rule = f"origin=\"{self.rule.origin}\" ({self.rule.location})"
        text = self.why.value.format(origin=repr(self.origin) if self.origin is not None
                                     else "(none)", rule=rule)
        if self.recipe is None:
            return text
        return (f"{text}; but the URL Rewrite rule {self.recipe} answers this "
                f"request itself, before the app: {self.recipe.status} {self.recipe.reason}")


class _Budget:
    """The entries all the answer tables of one :class:`Policy` may hold together."""

    __slots__ = ("tables", "used")

    def __init__(self) -> None:
        self.used = 0
        self.tables: list[dict[str, Answer]] = []

    def empty(self) -> None:
        for table in self.tables:
            table.clear()  # bounded; emptied tables refill from the next requests
        self.used = 0


def _proven_plain(rules: Sequence[OriginRule]) -> bool:
    """Whether a reader proved every origin of ``rules`` a plain exact origin (only a
    :class:`RuleTable` is told so: ``RuleTable.plain_exact``)."""
    return isinstance(rules, RuleTable) and rules.plain_exact


class ScopePolicy:
    """The compiled policy of one effective section (one configured path).

    :param section: the merged section from :func:`iiscors.config.scope.build_scopes`.
    :param budget: shared by the scopes of one :class:`Policy`, so that their answer tables
        together hold at most ANSWER_CACHE_SIZE origins (a scope on its own has its own).
    """

    __slots__ = (
        "_allowed",
        "_budget",
        "_compiled",
        "_compiler",
        "_denied",
        "_exact",
        "_inactive",
        "_last_refused",
        "_no_origin",
        "_not_serialized",
        "_rules",
        "_same_origin",
        "_split",
        "_split_suffixes",
        "_table",
        "_unlisted",
        "active",
        "answers",
        "any_answer",
        "custom",
        "fail",
        "passive",
        "passive_plan",
        "passive_raw",
        "recipe",
        "refused_plan",
        "section",
        "static_star",
        "unusable",
        "vary",
    )

    def __init__(self, section: EffectiveSection, budget: _Budget | None = None) -> None:
        self.section = section
        #: contract E6: an unusable scope is never active, and every plan of it is the 500
        self.unusable = section.unusable
        self.active = section.active and not section.unusable
        #: URL Rewrite's OPTIONS recipe here (contract C2): only a RecipeScopePolicy has one
        self.recipe: OptionsRecipe | None = None
        rules = section.rules
        # Contract B10: Access-Control-Allow-Origin is the static "*" only when the collection
        # holds exactly one rule and it is origin="*".
        self.static_star = len(rules) == 1 and rules[0].origin == "*"
        self.fail = section.fail_unlisted_origins
        #: contract C1: added to every response, the middleware's own 204 and 403 included
        self.custom: Headers = section.custom_headers
        # Contract B15: in an enabled scope that echoes, every response varies on Origin.
        echoes = self.active and not self.static_star
        self.vary: Headers = ((headers.VARY, "Origin"), *self.custom) if echoes else self.custom
        #: headers for requests CORS leaves alone in this scope (no Origin, unlisted, disabled)
        self.passive: Headers = self.vary if self.active else self.custom
        #: the same, as latin-1 bytes (the ASGI adapter's form)
        self.passive_raw: RawHeaders = raw(self.passive)
        # Each origin maps straight to its rule's headers, compiled once per distinct set and
        # shared (issue 17: a dict entry per origin, nothing more; iiscors.policy.compiled).
        # The keys are the rules' own origin strings; both steps are the bulk forms of
        # compiled_of and OriginMatcher() rule by rule (issue 17: a 100,000-rule load).
        self._compiler = compiler = RuleCompiler(self.vary)
        self._table: OriginMatcher[CompiledRule | Denied] = OriginMatcher.of(
            compiler.compiled_all(rules), plain=_proven_plain(rules))
        self._compiled = compiler.compiled
        #: the patterns' lookup :meth:`admit` makes after :attr:`_exact` (a bound method read
        #: once here rather than two attributes on every first sight)
        self._allowed = self._table.allowed
        #: the split of OriginMatcher.allowed and its suffixes, when one scheme has host
        #: wildcards: admit probes them itself (issue 17: a call less on a wildcard's hit)
        self._split, self._split_suffixes = self._table.one_scheme_split
        #: the exact origins that :meth:`admit` tries first; empty where CORS is off (B1, D1),
        #: so that a hit needs no other test
        self._exact = self._table.exact if self.active else {}
        #: which rule matches, for a Decision (:meth:`verdict`): built at the first one
        self._rules: OriginMatcher[int] | None = None
        #: the last origin :meth:`admit` refused after a pattern lookup (a memo, one slot)
        self._last_refused: str | None = None
        self._build_fixed_verdicts()
        #: Ready answers of allowed origins already seen, so that the adapters can answer a
        #: repeated origin with one dict lookup and no call into the policy (the origin
        #: lookup, B4-B6, is then done once per origin, not per request).  Filled only by
        #: :meth:`admit` with what it allowed, never with an origin the rules do not allow;
        #: origins longer than ANSWER_CACHE_MAX_ORIGIN are not kept, and the tables of a whole
        #: Policy hold at most ANSWER_CACHE_SIZE entries together before they are all emptied.
        #: A reload builds new scopes, so an answer never outlives its configuration.
        self.answers: dict[str, Answer] = {}
        self._budget = budget if budget is not None else _Budget()
        self._budget.tables.append(self.answers)
        #: contract B10: with the static "*" every origin gets the same answer (None otherwise)
        self.any_answer: Answer | None = None
        star = self._table.any_rule
        if self.static_star and self.active and isinstance(star, CompiledRule):
            self.any_answer = (_ALLOW_ANY, star)

    @property
    def _matcher(self) -> OriginMatcher[int]:
        """Which rule an origin matches, as its position in the section's rules (the rule is
        built when a Decision names it: a :class:`RuleTable` keeps none, issue 17).  Built at
        the first :meth:`verdict`, a step of rules at a time, by the same matcher as the
        origin table :meth:`admit` reads, so the two find the same pattern."""
        if self._rules is None:
            rules = self.section.rules
            origins = (rules.origins if isinstance(rules, RuleTable)
                       else tuple(rule.origin for rule in rules))
            positions: dict[str, int] = {}
            for start, stop in table_steps(len(origins)):
                positions.update(zip(origins[start:stop], range(start, stop), strict=False))
            self._rules = OriginMatcher.of(positions, plain=_proven_plain(rules))
        return self._rules

    def _build_fixed_verdicts(self) -> None:
        """Every verdict (and plan) that does not depend on the origin's text, built once: a
        request that is not allowed is then a lookup, with no enum member read and no tuple
        built (unlisted origins come again and again, and are never kept in :attr:`answers`)."""
        passive = self.passive
        #: what the adapters do with a request CORS leaves alone here, and with an origin the
        #: rules do not allow: every verdict but an allowance carries the passive headers
        self.passive_plan = Plan(None, passive)
        #: the plan of every request from an origin the scope does not allow (unlisted,
        #: denied, not serialized: contract B6, B7), and of every request with an Origin
        #: where CORS is off (B1, D1): the adapters take it when :meth:`admit` says None
        self.refused_plan = (Plan(403, passive) if self.fail and self.active
                             else self.passive_plan)
        self._no_origin = Verdict(_NOT_CORS, _PASSTHROUGH, None, passive, None, Reason.NO_ORIGIN)
        self._same_origin = Verdict(_NOT_CORS, _PASSTHROUGH, None, passive, None,
                                    Reason.SAME_ORIGIN)  # contract B13's opt-in
        off = Reason.DISABLED if not self.section.enabled else Reason.MODULE_REMOVED
        self._inactive = {kind: Verdict(kind, _PASSTHROUGH, None, self.custom, None, off)
                          for kind in RequestKind}  # contract B1, D1

        self._unlisted = self._refusals(None, Reason.UNLISTED_FAIL, Reason.UNLISTED_PASS)
        self._not_serialized = self._refusals(None, Reason.NOT_SERIALIZED_FAIL,
                                              Reason.NOT_SERIALIZED_PASS)  # contract B6
        #: the refusals of each allowed="false" rule, built at its first Decision
        self._denied: dict[int, dict[RequestKind, Verdict]] = {}
        if self.unusable:
            # Contract E6: IIS answers 500.19 before any module runs, so no CORS header and no
            # custom header; the adapters check ``unusable`` before their fast path.
            self.passive = ()
            self.passive_raw = ()
            self.passive_plan = self.refused_plan = UNUSABLE_PLAN
            self._inactive = {kind: Verdict(kind, Outcome.UNUSABLE, UNUSABLE_STATUS, (), None,
                                            Reason.UNUSABLE) for kind in RequestKind}

    def _refusals(self, rule: OriginRule | None, if_fail: Reason,
                  if_pass: Reason) -> dict[RequestKind, Verdict]:
        """The verdicts of a refusal, by kind (contract B7: 403 with failUnlistedOrigins, else
        the app answers without CORS)."""
        outcome, status, why = ((Outcome.DENIED, 403, if_fail) if self.fail
                                else (_PASSTHROUGH, None, if_pass))
        return {kind: Verdict(kind, outcome, status, self.passive, rule, why)
                for kind in (_PREFLIGHT, _ACTUAL)}

    def verdict(self, method: str, origin: str | None, request_method: str | None = None,
                request_headers: str | None = None, own_origin: str | None = None) -> Verdict:
        """Decide one request (contract B1-B15); ``own_origin`` enables the B13 exemption.

        The one evaluator: :meth:`Policy.evaluate` adds the origin to its :class:`Verdict` to
        make the :class:`Decision` that ``explain`` and the tests read, and the recipe's plan
        (:func:`iiscors.policy.plan.recipe_plan`) acts on it.  An allowed origin's answer comes
        from :meth:`admit`, what the adapters write at first sight.  (The verdicts that never
        vary are built in advance, module-level aliases of the enum members and tuple
        concatenation keep the rest short.)
        """
        if origin is None:
            kind = _NOT_CORS
        elif method == "OPTIONS" and request_method:
            # Contract B3: OPTIONS with a non-empty Access-Control-Request-Method; nothing else.
            kind = _PREFLIGHT
        else:
            kind = _ACTUAL
        if not self.active:
            return self._inactive[kind]
        if origin is None:
            return self._no_origin
        if own_origin is not None and origin == own_origin:
            return self._same_origin
        position, serialized = self._matcher.match(origin)
        if position is None:
            return self._unlisted[kind]
        entry = self._compiler.rule(self.section.rules[position])
        if entry.compiled is None:  # allowed="false"
            denied = self._denied.get(position)
            if denied is None:
                denied = self._denied[position] = self._refusals(
                    entry.rule, Reason.DENIED_FAIL, Reason.DENIED_PASS)
            return denied[kind]
        if self.any_answer is None and not serialized:
            # Contract B6: only "*" matched a value that is not a serialized origin, and the
            # response would echo it: treat it as unlisted, never copy it into a header.
            return self._not_serialized[kind]
        # The answer comes from admit(), as the adapters' first sight takes it: what this
        # verdict says is what they write (contract B9, B10: the static "*" whatever the Origin).
        answer = self.answers.get(origin, self.any_answer)
        if answer is None:
            answer = self.admit(origin)
            assert answer is not None  # the tests above are admit's, in the same order
        rule, (allow_origin, compiled) = entry.rule, answer
        if kind is not _PREFLIGHT:
            return _new_tuple(Verdict, (kind, _ALLOWED, None,
                                        allow_origin + compiled.actual_tail, rule,
                                        _ACTUAL_ALLOWED, None))  # every field: no defaults
        return Verdict(kind, _ALLOWED, 204, tuple(preflight_headers(answer, request_headers)),
                       rule, _PREFLIGHT_ALLOWED)

    def admit(self, origin: str) -> Answer | None:
        """The first sight of ``origin`` (not in :attr:`answers`: callers look there first):
        its :class:`Answer`, kept for the repeats, when this scope's rules allow it (contract
        B4-B6, B9, B10), else None; every request from an origin not allowed is then planned
        as :attr:`refused_plan` (B6, B7; B1 and D1 where CORS is off), whatever its method.

        The adapters call it on a miss in :attr:`answers`, so that an allowed origin's first
        request builds neither a :class:`Verdict` nor a :class:`Plan` (issue 17);
        :meth:`verdict` takes its answers from here too, so what explain prints is still what
        the middleware does.  Own-origin exemption (B13) and the recipe (C2) are the caller's.
        """
        compiled = self._exact.get(origin)  # the common case: one lookup, a serialized origin
        if compiled is None:
            if not self.active or origin == self._last_refused:
                # (the last origin refused here: plan_request asks again right after the
                # adapters, and a refused origin often comes again and again)
                return None
            if self.any_answer is not None:
                return self.any_answer  # contract B10: the static "*", whatever the Origin
            split = self._split  # one scheme of host wildcards: its usual hit without a call
            if split is not None and len(origin) <= MAX_ORIGIN_BYTES and (
                    found := split(origin)) is not None:
                compiled = self._split_suffixes.get(found[2])
                if compiled is None:
                    compiled = self._table.allowed_after_split(origin, found,
                                                               self._split_suffixes)
            else:
                compiled = self._allowed(origin)
            if compiled is None:
                # unlisted, or (B6) only "*" matched what is not an origin; one slot, replaced
                # as a whole: a refusal depends on nothing but the origin's text
                self._last_refused = origin
                return None
        if compiled is DENIED:
            return None  # allowed="false"
        answer: Answer = (((_ALLOW_ORIGIN, origin),), compiled)
        if len(origin) <= ANSWER_CACHE_MAX_ORIGIN:
            # Kept for the repeats (B10: the origin echoed) when short enough; every table of
            # the policy is emptied when their shared budget is spent.
            budget = self._budget
            if budget.used >= ANSWER_CACHE_SIZE:
                budget.empty()
            budget.used += 1
            self.answers[origin] = answer
        return answer

    def forget(self) -> None:
        """Empty this scope's memo (its answers, its last refusal and its rules' last echo):
        every origin is then decided again from the rules at its next request.  Nothing else
        changes."""
        self.answers.clear()
        self._last_refused = None
        for compiled in self._compiled:
            compiled.last_echo = (None, ("", ""))


class RecipeScopePolicy(ScopePolicy):
    """A scope where URL Rewrite's OPTIONS recipe answers before the app (contract C2).

    CORS decides first (the IIS CORS module acts before other modules, so its 204 and 403
    stand); a request CORS would pass on to the app whose method the recipe's condition
    matches is answered by the recipe instead, with the headers the app's response would have
    got (customHeaders, C1; Vary, B15; an allowed origin's headers, B9).
    """

    __slots__ = ()

    def __init__(self, section: EffectiveSection, budget: _Budget | None = None) -> None:
        super().__init__(section, budget)
        self.recipe = section.options_recipe

    def verdict(self, method: str, origin: str | None, request_method: str | None = None,
                request_headers: str | None = None, own_origin: str | None = None) -> Verdict:
        found = super().verdict(method, origin, request_method, request_headers, own_origin)
        recipe = self.recipe
        if found.status is not None or recipe is None or not recipe.matches(method):
            return found
        return Verdict(found.kind, found.outcome, recipe.status, found.headers, found.rule,
                       found.why, recipe)


def scope_policy(section: EffectiveSection, budget: _Budget | None = None) -> ScopePolicy:
    """The compiled policy of one effective section: a :class:`RecipeScopePolicy` where the
    OPTIONS recipe applies (contract C2), else a plain :class:`ScopePolicy`."""
    if section.options_recipe is not None:
        return RecipeScopePolicy(section, budget)
    return ScopePolicy(section, budget)


class Policy:
    """The compiled policy of a whole configuration: one :class:`ScopePolicy` per configured
    path, and the lookup from a request path to the deepest one above it (contract A9).

    :param scopes: effective sections by path (lower-cased segments), ``()`` being the root.
    :param exempt_same_origin: contract B13's opt-in: requests whose Origin is the request's
        own ``scheme://Host`` are not judged as CORS requests.
    """

    __slots__ = ("_scopes", "_tree", "direct", "exempt_same_origin", "root", "single_scope")

    def __init__(self, scopes: Mapping[tuple[str, ...], EffectiveSection], *,
                 exempt_same_origin: bool = False) -> None:
        budget = _Budget()  # one bound for every scope's answers together
        self.root = scope_policy(scopes[()], budget)
        self.exempt_same_origin = exempt_same_origin
        self._scopes = {path: scope_policy(section, budget)
                        for path, section in scopes.items() if path}
        self._tree = PathTree(self._scopes)  # scope_for walks it: linear in the depth
        #: True when no <location> or sub-directory level exists: no path lookup is needed (and
        #: the adapters then skip the ``unusable`` check, so an unusable root never is single)
        self.single_scope = not self._scopes and not self.root.unusable
        #: True when, besides, URL Rewrite's OPTIONS recipe does not apply (contract C2): the
        #: adapters then read the root directly, with neither the path lookup nor the recipe's
        #: check (the configurations without the recipe pay nothing for it)
        self.direct = self.single_scope and self.root.recipe is None

    def forget_answers(self) -> None:
        """Empty every scope's memo of answers (:meth:`ScopePolicy.forget`): for tests that need
        a first sight, and for callers who want the memory back; answers do not change."""
        for scope in (self.root, *self._scopes.values()):
            scope.forget()

    def scope_for(self, path: str) -> ScopePolicy:
        """The policy of the deepest configured path that covers ``path`` (contract A9).

        ``path`` is the request path as text (decoded from UTF-8, as ``CorsRequest.path`` and
        ASGI's ``path`` are; the WSGI adapter decodes ``PATH_INFO`` first, see
        :func:`iiscors.wsgi.text_path`).  Segments compare case-insensitively, the way
        :func:`iiscors.config.rules.fold_segment` folded the configured ones.
        """
        if not self._scopes:
            return self.root
        scope = self._tree.deepest(path)  # one step per segment (issue 12 item 14)
        return self.root if scope is None else scope

    def evaluate(self, request: CorsRequest) -> Decision:
        """Decide ``request`` exactly as the middleware would."""
        own = None
        if self.exempt_same_origin and request.host:
            own = f"{request.scheme}://{request.host}"
        verdict = self.scope_for(request.path).verdict(
            request.method, request.origin, request.request_method, request.request_headers, own)
        return verdict.decision(request.origin)
