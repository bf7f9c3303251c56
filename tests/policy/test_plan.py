"""The request plan (iiscors.policy.plan.plan_request), on its own: sans-IO, no adapter.

plan_request answers a repeat of an allowed origin from the scope's tables and everything else
through ScopePolicy.verdict, and it returns the scope's prepared plans for what is refused or left
alone.  These tests hold each shortcut to the verdict it stands for.
"""

from __future__ import annotations

import itertools

import pytest

from iiscors import load_config
from iiscors.policy.core import Outcome, Plan, Policy, ScopePolicy
from iiscors.policy.plan import own_origin, plan_request

from support import web_config

CUSTOM = ('<httpProtocol><customHeaders><add name="X-Site" value="1" /></customHeaders>'
          "</httpProtocol>")
CONFIG = web_config(
    '<cors enabled="true" failUnlistedOrigins="false">'
    '<add origin="https://app.contoso.com" allowCredentials="true" />'
    '<add origin="https://*.contoso.com" maxAge="60">'
    '<allowHeaders allowAllRequestedHeaders="true"><add header="X-A" /></allowHeaders>'
    '<allowMethods><add method="PUT" /></allowMethods></add>'
    '<add origin="https://blocked.contoso.com" allowed="false" />'
    '<add origin="*" /></cors>',
    server=CUSTOM,
    outside='<location path="api"><system.webServer>'
            '<cors enabled="true" failUnlistedOrigins="true"><clear />'
            '<add origin="https://*.contoso.com" />'
            '<add origin="https://blocked.contoso.com" allowed="false" /></cors>'
            "</system.webServer></location>"
            '<location path="off"><system.webServer><cors enabled="false" />'
            "</system.webServer></location>"
            '<location path="star"><system.webServer><cors enabled="true"><clear />'
            '<add origin="*" /></cors></system.webServer></location>')
PATHS = ["/", "/api/x", "/off/y", "/star/z"]
ORIGINS = [None, "https://app.contoso.com", "https://www.contoso.com", "https://a.b.contoso.com",
           "https://blocked.contoso.com", "https://evil.example", "null",
           "https://x.contoso.com/p", "https://self.example"]
METHODS = ["GET", "OPTIONS", "options"]
REQUEST_METHODS = [None, "", "PUT"]
REQUEST_HEADERS = [None, "x-a", "x a"]


def requests() -> itertools.product[tuple[str, str | None, str, str | None, str | None]]:
    return itertools.product(PATHS, ORIGINS, METHODS, REQUEST_METHODS, REQUEST_HEADERS)


def written(plan: Plan) -> tuple[int | None, list[tuple[str, str]]]:
    """What an adapter writes from a plan: the status and every header, in order."""
    return plan.status, [*plan.headers, *plan.rule_headers]


@pytest.mark.parametrize("exempt", [False, True], ids=["plain", "exempt-same-origin"])
def test_the_plan_of_a_repeat_equals_the_plan_at_first_sight(exempt: bool) -> None:
    """The table branch (a repeat) and the verdict branch (first sight) plan the same."""
    policy = Policy(load_config(CONFIG).scopes, exempt_same_origin=exempt)
    own = own_origin("https", "self.example") if exempt else None
    for path, origin, method, request_method, request_headers in requests():
        scope = policy.scope_for(path)
        policy.forget_answers()
        first = plan_request(scope, method, origin, request_method, request_headers, own)
        repeat = plan_request(scope, method, origin, request_method, request_headers, own)
        where = (path, origin, method, request_method, request_headers)
        assert written(repeat) == written(first), where
        verdict = scope.verdict(method, origin, request_method, request_headers, own)
        assert written(first) == (verdict.status, list(verdict.headers)), where


def test_a_repeat_is_read_from_the_tables() -> None:
    """The plan of an allowed origin already decided takes the prepared answer, not a verdict:
    its Access-Control-Allow-Origin, then its rule's shared headers, kept apart (B9)."""
    scope = load_config(CONFIG).policy.root
    origin = "https://www.contoso.com"
    plan_request(scope, "GET", origin)
    answer = scope.answers[origin]
    plan = plan_request(scope, "GET", origin)
    assert plan.headers is answer[0]
    assert plan.rule_headers is answer[1].actual_tail
    assert plan_request(scope, "OPTIONS", origin, "PUT", "x-a") == Plan(204, [
        *answer[0], ("Access-Control-Allow-Methods", "PUT"),
        ("Access-Control-Allow-Headers", "x-a"), ("Access-Control-Max-Age", "60"),
        ("Vary", "Origin"), ("X-Site", "1")])


def test_every_verdict_but_an_allowance_carries_the_passive_headers() -> None:
    """What plan_request relies on to return the scope's prepared plans for refusals and for
    requests CORS leaves alone (B1, B2, B7, B13, B15, C1, D1)."""
    policy = Policy(load_config(CONFIG).scopes, exempt_same_origin=True)
    own = "https://self.example"
    seen: set[Outcome] = set()
    for path, origin, method, request_method, request_headers in requests():
        scope = policy.scope_for(path)
        verdict = scope.verdict(method, origin, request_method, request_headers, own)
        plan = plan_request(scope, method, origin, request_method, request_headers, own)
        seen.add(verdict.outcome)
        if verdict.outcome is Outcome.ALLOWED:
            continue
        where = (path, origin, method, request_method, request_headers)
        assert verdict.headers == scope.passive, where
        assert plan is (scope.refused_plan if verdict.status == 403 else scope.passive_plan), where
    # the product reaches every outcome but E6's unusable scope, which tests/config/
    # test_scoped_errors.py covers (its plan is a 500 with no CORS header at all)
    assert seen == set(Outcome) - {Outcome.UNUSABLE}


@pytest.mark.parametrize("fail", [True, False])
def test_the_prepared_plans(fail: bool) -> None:
    config = web_config(f'<cors enabled="true" failUnlistedOrigins="{str(fail).lower()}">'
                        '<add origin="https://a.example" /></cors>', server=CUSTOM)
    scope: ScopePolicy = load_config(config).policy.root
    passive = (("Vary", "Origin"), ("X-Site", "1"))
    assert scope.passive_plan == Plan(None, passive)
    assert scope.refused_plan == (Plan(403, passive) if fail else Plan(None, passive))
    assert plan_request(scope, "GET", "https://evil.example") is scope.refused_plan
    assert plan_request(scope, "GET", None) is scope.passive_plan


def test_own_origin() -> None:
    """Contract B13: the request's own origin is scheme://Host as sent; no Host, no origin."""
    assert own_origin("https", "self.example:8443") == "https://self.example:8443"
    assert own_origin("http", None) is None
    scope = load_config(web_config('<cors enabled="true" failUnlistedOrigins="true">'
                                   '<add origin="https://a.example" /></cors>')).policy.root
    assert plan_request(scope, "POST", "https://self.example").status == 403
    assert plan_request(scope, "POST", "https://self.example",
                        own=own_origin("https", "self.example")) is scope.passive_plan
