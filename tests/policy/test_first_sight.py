"""The first sight of an origin (issue 17): ``ScopePolicy.admit``, the lookup the adapters and
the plan ask on a miss in the answers table, and the origin table it reads.

admit must say exactly what the one evaluator, ``verdict``, says (an answer for every allowed
origin, nothing for the rest, whatever the method), and every origin it does not allow must be
planned as the scope's ``refused_plan``; the adapters' first sight of an allowed origin then
builds neither a Verdict nor a Plan.  The origin table keeps one dict entry per configured
origin and nothing else: its values are shared, its keys are the rules' own strings.
"""

from __future__ import annotations

import gc
import itertools
import tracemalloc
from typing import Any

import pytest
from werkzeug.test import create_environ, run_wsgi_app

from iiscors import CorsMiddleware, load_config
from iiscors.policy.compiled import DENIED, CompiledRule
from iiscors.policy.core import Outcome, Policy, ScopePolicy
from iiscors.policy.plan import plan_request

from support import record_calls


def web_config(cors: str, *, outside: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n<system.webServer>\n'
            f"{cors}\n<httpProtocol><customHeaders><add name=\"X-Site\" value=\"1\" />"
            f"</customHeaders></httpProtocol>\n</system.webServer>\n{outside}\n"
            "</configuration>\n").encode()


def config_for(fail: str) -> bytes:
    return web_config(
        f'<cors enabled="true" failUnlistedOrigins="{fail}">'
        '<add origin="https://app.contoso.com" allowCredentials="true" />'
        '<add origin="https://*.contoso.com" maxAge="60" />'
        '<add origin="http://*" />'
        '<add origin="https://blocked.contoso.com" allowed="false" />'
        '<add origin="*" /></cors>',
        outside='<location path="api"><system.webServer>'
                f'<cors enabled="true" failUnlistedOrigins="{fail}"><clear />'
                '<add origin="https://*.contoso.com" />'
                '<add origin="https://*.evil.example" allowed="false" /></cors>'
                "</system.webServer></location>"
                '<location path="off"><system.webServer>'
                f'<cors enabled="false" failUnlistedOrigins="{fail}" />'
                "</system.webServer></location>"
                '<location path="star"><system.webServer><cors enabled="true"><clear />'
                '<add origin="*" /></cors></system.webServer></location>')


PATHS = ["/", "/api/x", "/off/y", "/star/z"]
ORIGINS = ["https://app.contoso.com", "https://www.contoso.com", "https://a.b.contoso.com",
           "https://blocked.contoso.com", "https://evil.example", "https://x.evil.example",
           "http://plain.example", "http://plain.example.", "null", "https://x.contoso.com/p",
           "https://x@a.contoso.com", "HTTPS://APP.CONTOSO.COM", "https://" + "a" * 300 + ".com",
           "https://x.unlisted.example", "https://x-_Y.b.contoso.com:443",
           # B6's bound: a wildcard's hit at 2,048 characters, none past it
           "https://" + "a" * 2028 + ".contoso.com", "https://" + "a" * 2029 + ".contoso.com"]
METHODS = [("GET", None), ("OPTIONS", "PUT"), ("OPTIONS", None), ("POST", None)]


@pytest.mark.parametrize("fail", ["true", "false"])
def test_admit_says_what_the_verdict_says(fail: str) -> None:
    """An answer exactly for the origins the verdict allows, whatever the method, with the
    headers the verdict sends; None for the rest, which every method plans alike as the
    scope's refused_plan (contract B1, B4-B7, B9, B10, D1)."""
    policy = Policy(load_config(config_for(fail)).scopes)
    for path, origin in itertools.product(PATHS, ORIGINS):
        scope = policy.scope_for(path)
        for method, request_method in METHODS:
            policy.forget_answers()
            admitted = scope.admit(origin)
            policy.forget_answers()
            verdict = scope.verdict(method, origin, request_method)
            where = (path, origin, method, request_method)
            if verdict.outcome is Outcome.ALLOWED:
                assert admitted is not None, where
                if request_method is None:
                    assert verdict.headers == (*admitted[0],
                                               *admitted[1].actual_tail), where
            else:
                assert admitted is None, where
                policy.forget_answers()
                plan = plan_request(scope, method, origin, request_method)
                assert plan is scope.refused_plan, where
                assert plan.status == verdict.status, where
                assert tuple(plan.headers) == verdict.headers, where


def test_admit_keeps_what_it_allows_and_only_that() -> None:
    scope = load_config(config_for("true")).policy.root
    answer = scope.admit("https://www.contoso.com")
    assert answer is not None and scope.answers["https://www.contoso.com"] is answer
    assert scope.admit("https://blocked.contoso.com") is None
    assert scope.admit("https://x.contoso.com/p") is None
    assert set(scope.answers) == {"https://www.contoso.com"}


def test_where_cors_is_off_an_origin_is_planned_as_passive_even_with_fail_unlisted() -> None:
    """Contract B1: a disabled scope leaves every request alone, failUnlistedOrigins="true"
    or not: its refused_plan is its passive plan, never a 403."""
    scope = Policy(load_config(config_for("true")).scopes).scope_for("/off/y")
    assert not scope.active and scope.fail
    assert scope.admit("https://app.contoso.com") is None
    assert scope.refused_plan is scope.passive_plan
    assert scope.refused_plan.status is None


def test_the_adapters_first_sight_asks_no_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    """An allowed origin's first request is answered from admit: no Verdict is built (and no
    Plan: tests/adapters/test_fast_path.py); the answer is the verdict's (test_answers)."""
    def no_verdict(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("verdict asked at first sight")

    middleware = CorsMiddleware(_app, config_for("true"))
    monkeypatch.setattr(ScopePolicy, "verdict", no_verdict)
    for origin in ("https://app.contoso.com", "https://www.contoso.com", "http://plain.example"):
        environ = create_environ("/", headers={"Origin": origin})
        _body, status, headers = run_wsgi_app(middleware, environ, buffered=True)
        assert status.startswith("200") and headers.get("Access-Control-Allow-Origin") == origin


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def test_the_origin_table_holds_shared_values_under_the_rules_own_strings() -> None:
    """One dict entry per origin: rules that answer alike share one CompiledRule, a denied
    rule is DENIED, and each key is the rule's own origin string (no copy)."""
    rules = "".join(f'<add origin="https://a{n}.example" />' for n in range(20))
    config = load_config(web_config(f'<cors enabled="true">{rules}'
                                    '<add origin="https://no.example" allowed="false" /></cors>'))
    scope = config.policy.root
    table = scope._table.exact
    values = {id(value) for key, value in table.items() if key != "https://no.example"}
    assert len(values) == 1
    assert isinstance(table["https://a0.example"], CompiledRule)
    assert table["https://no.example"] is DENIED
    for rule in config.scopes[()].rules:
        key = next(key for key in table if key == rule.origin)
        assert key is rule.origin


def test_a_decision_builds_the_rule_lookup_only_when_asked() -> None:
    """The per-rule lookup that names a Decision's rule exists only once a Decision is asked
    for, and then names the origin's own rule."""
    config = load_config(config_for("true"))
    scope = config.policy.root
    scope.admit("https://www.contoso.com")
    assert scope._rules is None
    verdict = scope.verdict("GET", "https://www.contoso.com")
    assert verdict.rule is not None and verdict.rule.origin == "https://*.contoso.com"
    assert scope._rules is not None


def test_the_rule_lookup_keeps_no_object_per_rule() -> None:
    """A Decision's lookup (built at the first verdict: explain, the OPTIONS recipe) keeps
    each origin's position among the rules, not a rule object per origin (a table's rules are
    columns, issue 17): the collector tracks a few more objects after it, not one per rule;
    and each Decision still names its origin's own rule, line included."""
    count = 5000
    rules = "\n".join(f'<add origin="https://app{n:05d}.example.com" />' for n in range(count))
    scope = load_config(web_config(f'<cors enabled="true">\n{rules}</cors>'),
                        max_bytes=10**8).policy.root
    scope.verdict("GET", "https://unlisted.example")  # imports and caches first
    scope._rules = None
    gc.collect()
    before = len(gc.get_objects())
    verdict = scope.verdict("GET", "https://app04321.example.com")
    gc.collect()
    assert len(gc.get_objects()) - before < count / 20
    assert verdict.rule is not None and verdict.rule.origin == "https://app04321.example.com"
    assert verdict.rule.location.line == 4321 + 5


def test_the_policy_keeps_a_dict_entry_per_origin_and_nothing_more() -> None:
    """Retained by a Policy over 20,000 exact origins of one shape, after gc.collect(): under
    50 bytes per origin (a dict entry; a per-origin object, as a ScopeRule was, adds 48)."""
    count = 20_000
    rules = "".join(f'<add origin="https://app{n:05d}.example.com" />' for n in range(count))
    scopes = load_config(web_config(f'<cors enabled="true">{rules}</cors>'),
                         max_bytes=10**8).scopes
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        policy = Policy(scopes)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(policy.root._table.exact) == count
    assert held / count < 50, held / count


def test_a_refusal_is_looked_up_once_for_the_adapter_and_the_plan(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapters ask admit, then plan_request asks it again for the same refused origin:
    the pattern lookup runs once (a one-slot memo), and the refusal is the same."""
    scope = load_config(config_for("true")).policy.root
    looked: list[str] = []
    # the pattern lookups admit makes after the exact origins: the matcher's, or its own
    # probe of the split followed, on a miss, by the rest of the walk
    lookup, after_split = scope._allowed, type(scope._table).allowed_after_split

    def counting(origin: str) -> Any:
        looked.append(origin)
        return lookup(origin)

    def counting_after_split(self: Any, origin: str, *args: Any) -> Any:
        looked.append(origin)
        return after_split(self, origin, *args)

    monkeypatch.setattr(scope, "_allowed", counting)
    monkeypatch.setattr(type(scope._table), "allowed_after_split", counting_after_split)
    other = "https://x@a.contoso.com"  # userinfo: not a serialized origin (B6)
    for origin in ("https://x.contoso.com/p", "https://x.contoso.com/p", other):
        assert scope.admit(origin) is None
        assert plan_request(scope, "GET", origin) is scope.refused_plan
    assert looked == ["https://x.contoso.com/p", other]
    scope.forget()
    assert scope.admit(other) is None
    assert looked == ["https://x.contoso.com/p", other, other]


def test_a_wildcard_first_sight_is_probed_by_admit_itself(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the host wildcards have one scheme, admit probes the split's suffix itself (no
    call of the matcher's lookup) and hands only a miss at the first dot on; with two schemes
    every pattern lookup is the matcher's."""
    scope = Policy(load_config(config_for("true")).scopes).scope_for("/api/x")
    asked = record_calls(monkeypatch, scope, "_allowed")
    answer = scope.admit("https://www.contoso.com")
    assert answer is not None and answer[0][0][1] == "https://www.contoso.com"
    assert scope.admit("https://a.b.contoso.com") is not None  # a later dot: walked on
    assert scope.admit("https://x.evil.example") is None       # allowed="false"
    assert scope.admit("https://x.unlisted.example") is None
    assert asked == []
    assert scope.admit("https://x@a.contoso.com") is None      # not split: the matcher's
    assert asked == ["https://x@a.contoso.com"]

    two = load_config(web_config('<cors enabled="true"><add origin="https://*.contoso.com" />'
                                 '<add origin="http://*.contoso.com" /></cors>')).policy.root
    assert two._split is None
    assert two.admit("http://www.contoso.com") is not None
