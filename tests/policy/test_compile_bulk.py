"""The policy's origin table built in bulk equals the one built rule by rule (issue 17).

``ScopePolicy`` builds its origin table with :meth:`RuleCompiler.compiled_all` (one
``compiled_of`` per shared shape tuple) and :meth:`OriginMatcher.of` (no ``classify`` per
pattern when every pattern is a plain exact origin).  Both are shortcuts of the per-rule way,
``OriginMatcher((rule.origin, compiler.compiled_of(rule)) for rule in rules)``: every test
here builds both and compares them whole, key order included, for mixed inputs (wildcards, odd
case, IDNA, ports, trailing dots, over-long origins, duplicates with different shapes), and
counts calls to show that the shortcut is taken where it should be.  Nothing is timed.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterable
from typing import Any

import pytest

import iiscors.policy.model as model_module
import iiscors.policy.origins as origins_module
from iiscors.policy.compiled import DENIED, CompiledRule, Denied, RuleCompiler
from iiscors.policy.core import ScopePolicy
from iiscors.policy.model import EffectiveSection, Location, OriginRule
from iiscors.policy.origins import MAX_ORIGIN_BYTES, OriginMatcher, PatternKind

from support import record_calls

PLAIN = [f"https://app{n}.example.com" for n in range(200)]
#: the longest origin contract B6 allows, and one past it (both plain in form)
LONGEST = "https://" + "a" * (MAX_ORIGIN_BYTES - len("https://"))
TOO_LONG = LONGEST + "a"
#: plain exact origins classify's first test takes, but not only "https://x.y"
PLAIN_ODD = ["HTTPS://APP.Example.COM", "http://a.example:80", "https://a.example:65535",
             "a+b.c-d://x_y.example", "https://xn--bcher-kva.example", "http://localhost",
             LONGEST]
#: every other form: wildcards, "*", trailing dots, IPv6, IDNA as Unicode, paths, junk
NOT_PLAIN = ["*", "null", "https://*", "https://*.example.com", "https://*.example.com:8443",
             "https://a.example.", "https://[::1]:8443", "https://bücher.example",
             "https://a.example/", "https://a.example:123456", "", " https://a.example",
             "https://a.example\nhttps://b.example", "https://a.example\n", TOO_LONG,
             "https://*.a.example.", "ftp://*.", "*.example.com"]
MIXED = [*PLAIN[:5], *PLAIN_ODD, *NOT_PLAIN, PLAIN[0], "https://*", "*", PLAIN_ODD[0]]


def random_patterns(count: int, seed: int) -> list[str]:
    """Patterns plain and not, with repeats: schemes, cases, ports, paths, wildcards, junk."""
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + "-_.:/*[]@é\n "
    heads = ["https://", "HTTPS://", "ws://", "a+b://", "1x://", "", "http://*.", "https://*"]
    found = []
    for _ in range(count):
        found.append(rng.choice(heads) + "".join(rng.choice(alphabet)
                                                 for _ in range(rng.randint(0, 12))))
    return found + found[: count // 10]


def state(matcher: OriginMatcher[Any], name: Callable[[Any], object] = lambda v: v
          ) -> tuple[object, ...]:
    """Everything a matcher holds, in order, its values through ``name``."""
    return ([(k, name(v)) for k, v in matcher._exact.items()],
            [(head, [(k, name(v)) for k, v in suffixes.items()])
             for head, suffixes in matcher._hosts.items()],
            [(k, name(v)) for k, v in matcher._schemes.items()],
            None if matcher._any is None else name(matcher._any))


def count_classify(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The patterns classify is asked about from now on."""
    return record_calls(monkeypatch, origins_module, "classify")


def table_of(patterns: Iterable[str]) -> dict[str, int]:
    """pattern -> index of its last occurrence, as a dict built item by item."""
    table: dict[str, int] = {}
    for index, pattern in enumerate(patterns):
        table[pattern] = index
    return table


@pytest.mark.parametrize("patterns", [
    PLAIN, PLAIN_ODD, NOT_PLAIN, MIXED, [], [LONGEST], [TOO_LONG], ["*"],
    *([*PLAIN[:3], odd] for odd in [*PLAIN_ODD, *NOT_PLAIN]),
    random_patterns(3_000, 17), random_patterns(300, 18)])
def test_the_bulk_matcher_holds_what_the_per_pattern_one_holds(patterns: list[str]) -> None:
    bulk = OriginMatcher.of(table_of(patterns))
    assert state(bulk) == state(OriginMatcher(table_of(patterns).items()))
    assert state(bulk) == state(OriginMatcher((p, i) for i, p in enumerate(patterns)))


@pytest.mark.parametrize("patterns", [PLAIN, PLAIN_ODD, [*PLAIN, *PLAIN_ODD], [LONGEST],
                                      [*PLAIN, PLAIN[0]]])
def test_plain_exact_origins_are_not_classified_one_by_one(
        patterns: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    asked = count_classify(monkeypatch)
    matcher = OriginMatcher.of(table_of(patterns))
    assert asked == []
    assert list(matcher.exact) == list(dict.fromkeys(patterns))


@pytest.mark.parametrize("odd", NOT_PLAIN)
def test_one_pattern_of_another_form_classifies_them_all(
        odd: str, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = count_classify(monkeypatch)
    table = table_of([*PLAIN, odd])
    matcher = OriginMatcher.of(table)
    assert asked == list(table)
    assert (odd in matcher.exact) is (origins_module.classify(odd) is PatternKind.EXACT)


def test_an_empty_table_is_an_empty_matcher(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = count_classify(monkeypatch)
    matcher = OriginMatcher.of({})
    assert asked == [] and state(matcher) == ([], [], [], None)
    assert not origins_module._all_plain_exact([])


@pytest.mark.parametrize(("patterns", "plain"), [
    (PLAIN, True), ([LONGEST], True), ([*PLAIN, LONGEST], True), ([TOO_LONG], False),
    ([*PLAIN, TOO_LONG], False), (["https://a.example\nhttps://b.example"], False),
    ([*PLAIN, "https://a.example\nhttps://b.example"], False), (["https://a.example\n"], False),
    (["\nhttps://a.example"], False), ([*PLAIN, ""], False), (["https://a.example."], False),
    (["https://*.a.example"], False), (["https://a.example", "https://a.example"], True)])
@pytest.mark.parametrize("step", [1, 2, 4096])
def test_all_plain_exact_says_what_classify_says_of_each(patterns: list[str], plain: bool,
                                                         step: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # told a step of patterns at a time (issue 17): every step size says the same
    monkeypatch.setattr(model_module, "TABLE_STEP", step)
    assert origins_module._all_plain_exact(patterns) is plain
    assert plain is all(origins_module.classify(p) is PatternKind.EXACT
                        and origins_module._PLAIN_EXACT.fullmatch(p) is not None
                        and len(p) <= MAX_ORIGIN_BYTES for p in patterns)


# --- the whole origin table of a scope, values included -------------------------------------

WHERE = "web.config"


def rule(origin: str, line: int, **flags: Any) -> OriginRule:
    """A rule as the loader builds it: an interned shape, located at ``line``."""
    return OriginRule.located(origin, OriginRule.shape_of(WHERE, **flags), line, 5)


def located_rule(origin: str, line: int) -> OriginRule:
    """A rule whose shape is its own (located list entries), equal in headers to rule()'s."""
    where = Location(WHERE, line, 5)
    return OriginRule(origin, allow_methods=("GET",), location=where,
                      header_locations=(("allowMethods", "GET", where),))


def mixed_rules() -> list[OriginRule]:
    """Duplicated origins with different shapes, shapes shared across origins, and every form
    of pattern: what the per-rule way resolves by order (last value, first place)."""
    shapes: list[dict[str, Any]] = [{}, {"allow_credentials": True}, {"allowed": False},
                                    {"allow_methods": ("GET",)}, {"max_age": 60}]
    rules = [rule(p, n, **shapes[n % len(shapes)]) for n, p in enumerate(MIXED, start=3)]
    rules += [located_rule(PLAIN[1], 90), located_rule("https://late.example", 91),
              rule(PLAIN[1], 92, allowed=False), rule("https://*", 93, max_age=5),
              rule(PLAIN[2], 94)]
    return rules


def headers_of(value: CompiledRule | Denied) -> object:
    if value is DENIED:
        return DENIED
    assert isinstance(value, CompiledRule)
    return (value.rule, value.actual_tail, value.preflight_tail, value.preflight_before_echo,
            value.preflight_after_echo)


def scope(rules: list[OriginRule]) -> ScopePolicy:
    return ScopePolicy(EffectiveSection((), enabled=True, rules=tuple(rules)))


def per_rule(rules: list[OriginRule], vary: tuple[tuple[str, str], ...]
             ) -> tuple[OriginMatcher[CompiledRule | Denied], RuleCompiler]:
    """The origin table the way ScopePolicy built it before issue 17's bulk build."""
    compiler = RuleCompiler(vary)
    return OriginMatcher((r.origin, compiler.compiled_of(r)) for r in rules), compiler


@pytest.mark.parametrize("rules", [
    mixed_rules(), [rule(p, n) for n, p in enumerate(PLAIN)],
    [rule(p, n, allow_credentials=n % 3 == 0) for n, p in enumerate([*PLAIN, *PLAIN[::-7]])],
    [located_rule(p, n) for n, p in enumerate(PLAIN_ODD)], [rule("*", 3)],
    [rule(p, n, allowed=n % 2 == 0) for n, p in enumerate(random_patterns(500, 19))]])
def test_a_scope_table_is_what_the_per_rule_way_builds(rules: list[OriginRule]) -> None:
    built = scope(rules)
    table, compiler = per_rule(rules, built.vary)
    assert state(built._table, headers_of) == state(table, headers_of)
    # the same headers compiled, at the same (first) rules, in the same order
    assert [headers_of(c) for c in built._compiler.compiled] == [
        headers_of(c) for c in compiler.compiled]
    assert all(a.rule is b.rule for a, b in zip(built._compiler.compiled, compiler.compiled,
                                                 strict=True))


def test_the_last_rule_of_an_origin_gives_its_value_and_the_first_its_place() -> None:
    rules = [rule(PLAIN[0], 3), rule(PLAIN[1], 4), rule(PLAIN[0], 5, allowed=False),
             rule(PLAIN[1], 6, allow_credentials=True), rule(PLAIN[1], 7, max_age=9)]
    exact = scope(rules)._table.exact
    assert list(exact) == [PLAIN[0], PLAIN[1]]
    assert exact[PLAIN[0]] is DENIED
    last = exact[PLAIN[1]]
    assert isinstance(last, CompiledRule) and last.rule is rules[4]


def test_each_shared_shape_is_compiled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[OriginRule] = []
    real = RuleCompiler.compiled_of

    def counting(self: RuleCompiler, rule: OriginRule) -> CompiledRule | Denied:
        asked.append(rule)
        return real(self, rule)

    monkeypatch.setattr(RuleCompiler, "compiled_of", counting)
    rules = [rule(p, n, allow_credentials=n % 2 == 1) for n, p in enumerate(PLAIN)]
    own = [located_rule("https://own1.example", 300), located_rule("https://own2.example", 301)]
    table = RuleCompiler(()).compiled_all([*rules, *own])
    assert asked == [rules[0], rules[1], *own]
    assert len(table) == len(PLAIN) + 2


def test_a_plain_scope_classifies_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = count_classify(monkeypatch)
    rules = [rule(p, n, allow_credentials=n % 2 == 1) for n, p in enumerate([*PLAIN,
                                                                               *PLAIN_ODD])]
    built = scope(rules)
    assert asked == []
    assert len(built._table.exact) == len(rules)
    scope([*rules, rule("https://*.example.com", 999)])
    assert len(asked) == len(rules) + 1


def _plain_file(origins: list[str]) -> bytes:
    rules = "".join(f'<add origin="{origin}" />' for origin in origins)
    return (f'<configuration><system.webServer><cors enabled="true">{rules}</cors>'
            "</system.webServer></configuration>").encode()


@pytest.mark.parametrize(("origins", "proven"), [
    (PLAIN, True),                                     # lint's one match proves them all
    ([*PLAIN, "https://a.example:8443"], False),       # plain exact, not lint's plain form
    ([*PLAIN, "https://*.example.com"], False),        # a wildcard: not plain at all
    ([*PLAIN, "HTTPS://APP.EXAMPLE.COM"], False),
])
def test_origins_lint_proved_plain_are_not_checked_again(
        origins: list[str], proven: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where lint's one match proved every origin of a section's table plain, the policy
    builds its origin table without its own check (RuleTable.plain_exact); elsewhere it checks
    as before.  Either way the table is the one built rule by rule."""
    from iiscors import load_config
    from iiscors.policy.core import Policy
    from iiscors.policy.model import RuleTable

    config = load_config(_plain_file(origins))
    rules = config.scopes[()].rules
    assert isinstance(rules, RuleTable) and rules.plain_exact is proven
    checked = record_calls(monkeypatch, origins_module, "_all_plain_exact")
    scope = Policy(config.scopes).root
    assert len(checked) == (0 if proven else 1)
    for origin in origins:
        assert scope._table.match(origin) == OriginMatcher(
            (rule.origin, scope._compiler.compiled_of(rule)) for rule in rules).match(origin)
    scope.verdict("GET", origins[0])  # the verdict's matcher of positions: the same
    assert len(checked) == (0 if proven else 2)
    positions = zip(origins, range(len(origins)), strict=True)
    assert state(scope._matcher) == state(OriginMatcher(positions))
