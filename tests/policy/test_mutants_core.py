"""Decision-core cases that a mutation run of iiscors/policy/core.py found no test for
(docs/mutation.md): each test pins one behaviour that a surviving mutant changed."""

from __future__ import annotations

from iiscors import CorsRequest, load_config
from iiscors.policy.core import (
    ANSWER_CACHE_MAX_ORIGIN,
    ANSWER_CACHE_SIZE,
    LAST_ECHO_MAX,
    Outcome,
    Policy,
    RequestKind,
    preflight_headers,
)
from iiscors.policy.headers import ALLOW_HEADERS

from support import web_config

A = "https://a.example"
B = "https://b.example"
LISTED = web_config(f'<cors enabled="true" failUnlistedOrigins="true"><add origin="{A}"/></cors>')
RECIPE = ('<rewrite><rules><rule name="CORS Preflight" stopProcessing="true">'
          '<match url=".*" /><conditions><add input="{REQUEST_METHOD}" pattern="^OPTIONS$" />'
          '</conditions><action type="CustomResponse" statusCode="200" statusReason="Preflight" '
          'statusDescription="Preflight answered" /></rule></rules></rewrite>')


# -- Decision.reason: what `iiscors explain` prints ----------------------------------------------

def test_reason_names_the_rule_by_its_origin_and_location_and_quotes_the_origin() -> None:
    decision = load_config(LISTED).evaluate(CorsRequest("GET", A))
    assert decision.reason == (f'rule origin="{A}" (<bytes>:4) allows \'{A}\': the app '
                               "answers and the CORS headers are added to its response")


def test_reason_without_an_origin_or_a_rule_says_none() -> None:
    decision = load_config(LISTED).evaluate(CorsRequest("GET", None))
    assert decision.reason == "no Origin header: not a CORS request, the app answers"
    unlisted = load_config(LISTED).evaluate(CorsRequest("GET", B))
    assert unlisted.reason == f"no rule matches '{B}'; failUnlistedOrigins is true → 403"


def test_reason_of_a_decision_without_origin_renders_none_in_the_origin_slot() -> None:
    """A Decision built with no origin but a template that names one (as a caller of
    Verdict.decision may): the slot reads "(none)", never "None"."""
    verdict = load_config(LISTED).policy.root.verdict("GET", B)
    assert verdict.decision(None).reason == (
        "no rule matches (none); failUnlistedOrigins is true → 403")
    allowed = load_config(LISTED).policy.root.verdict("GET", A).decision(None)
    assert allowed.reason.startswith(f'rule origin="{A}" (<bytes>:4) allows (none): ')


def test_reason_adds_the_url_rewrite_recipe_that_answers_instead_of_the_app() -> None:
    config = load_config(web_config(f'<cors enabled="true"><add origin="{A}"/></cors>',
                                    server=RECIPE))
    decision = config.evaluate(CorsRequest("OPTIONS", B, "PUT"))
    assert decision.reason == (
        f"no rule matches '{B}'; failUnlistedOrigins is false → the app answers without CORS "
        'headers; but the URL Rewrite rule <rule name="CORS Preflight"> (<bytes>:5) answers '
        "this request itself, before the app: 200 Preflight")


# -- the memo's bounds, at the bound itself ------------------------------------------------------

WILDCARD = web_config('<cors enabled="true"><add origin="https://*.example">'
                      '<allowHeaders allowAllRequestedHeaders="true" /></add></cors>')


def _origin_of_length(length: int) -> str:
    """A serialized origin under https://*.example, exactly ``length`` characters long."""
    fixed = len("https://.example")
    return "https://" + "a" * (length - fixed) + ".example"


def test_an_origin_of_exactly_the_bound_is_kept_and_one_longer_is_not() -> None:
    scope = load_config(WILDCARD).policy.root
    at_bound = _origin_of_length(ANSWER_CACHE_MAX_ORIGIN)
    past = _origin_of_length(ANSWER_CACHE_MAX_ORIGIN + 1)
    assert scope.admit(at_bound) is not None and scope.admit(past) is not None
    assert at_bound in scope.answers
    assert past not in scope.answers


def test_a_requested_header_list_of_exactly_the_bound_is_kept_in_the_rule_slot() -> None:
    scope = load_config(WILDCARD).policy.root
    answer = scope.admit("https://x.example")
    assert answer is not None
    at_bound = ("x-" + "a" * (LAST_ECHO_MAX - 2))
    assert len(at_bound) == LAST_ECHO_MAX
    assert (ALLOW_HEADERS, at_bound) in preflight_headers(answer, at_bound)
    assert answer[1].last_echo == (at_bound, (ALLOW_HEADERS, at_bound))
    past = at_bound + "b"
    assert (ALLOW_HEADERS, past) in preflight_headers(answer, past)
    assert answer[1].last_echo[0] == at_bound  # not replaced: longer than the bound


def test_an_emptied_budget_counts_again_from_zero() -> None:
    """The tables are emptied when ANSWER_CACHE_SIZE answers are kept, and the count starts
    again from nothing: the next emptying comes after ANSWER_CACHE_SIZE more, not earlier."""
    scope = load_config(WILDCARD).policy.root
    for n in range(ANSWER_CACHE_SIZE):
        scope.admit(f"https://u{n}.example")
    assert len(scope.answers) == ANSWER_CACHE_SIZE
    scope.admit("https://first-after.example")
    assert len(scope.answers) == 1  # emptied, then this one kept
    for n in range(ANSWER_CACHE_SIZE - 1):
        scope.admit(f"https://v{n}.example")
    assert len(scope.answers) == ANSWER_CACHE_SIZE  # full again, not emptied one early


# -- RecipeScopePolicy: a scope where URL Rewrite's OPTIONS recipe answers (contract C2) --------

HOST = "api.contoso.com"
RECIPE_CORS = (f'<cors enabled="true"><add origin="{A}"><allowHeaders '
               'allowAllRequestedHeaders="true" /></add></cors>')


def _recipe_policy(*, exempt: bool = False) -> Policy:
    config = load_config(web_config(RECIPE_CORS, server=RECIPE))
    return Policy(config.scopes, exempt_same_origin=exempt)


def test_under_the_recipe_an_allowed_preflight_echoes_the_requested_headers() -> None:
    decision = _recipe_policy().evaluate(CorsRequest("OPTIONS", A, "PUT", "x-a, x-b"))
    assert (decision.status, decision.recipe) == (204, None)  # CORS answers first
    assert (ALLOW_HEADERS, "x-a, x-b") in decision.headers  # contract B14


def test_under_the_recipe_the_same_origin_exemption_still_applies() -> None:
    own = f"https://{HOST}"
    request = CorsRequest("GET", own, host=HOST, scheme="https")
    assert _recipe_policy(exempt=True).evaluate(request).kind is RequestKind.NOT_CORS
    assert _recipe_policy().evaluate(request).kind is RequestKind.ACTUAL


def test_the_recipe_answering_an_allowed_origin_keeps_the_rule_that_allowed_it() -> None:
    """OPTIONS without Access-Control-Request-Method is an actual request (B3): CORS allows
    the origin and passes it on, and the recipe answers it, naming the rule (explain)."""
    decision = _recipe_policy().evaluate(CorsRequest("OPTIONS", A))
    assert decision.recipe is not None and decision.status == 200
    assert decision.rule is not None and decision.rule.origin == A
    assert (decision.kind, decision.outcome) == (RequestKind.ACTUAL, Outcome.ALLOWED)


def test_a_recipe_scope_shares_the_policy_answer_budget() -> None:
    """Every scope of a Policy counts against one bound, the recipe's scopes too: filling a
    plain <location>'s table and then admitting one origin at the recipe's root empties it."""
    config = load_config(web_config(
        '<cors enabled="true"><add origin="https://*.example" /></cors>', server=RECIPE,
        outside='<location path="p"><system.webServer><rewrite><rules><clear /></rules>'
                "</rewrite></system.webServer></location>"))
    root, plain = config.policy.root, config.policy.scope_for("/p")
    assert root.recipe is not None and plain is not root
    for n in range(ANSWER_CACHE_SIZE):
        plain.admit(f"https://u{n}.example")
    assert len(plain.answers) == ANSWER_CACHE_SIZE
    root.admit("https://v.example")
    assert len(plain.answers) == 0


# -- Policy: how the adapters find a request's scope ---------------------------------------------

def test_one_scope_without_the_recipe_is_read_directly_and_nothing_else_is() -> None:
    """The adapters skip the path lookup (single_scope) and the recipe's check (direct) only
    where the configuration has one usable scope and no recipe."""
    plain = load_config(LISTED).policy
    assert (plain.single_scope, plain.direct) == (True, True)
    recipe = load_config(web_config(RECIPE_CORS, server=RECIPE)).policy
    assert (recipe.single_scope, recipe.direct) == (True, False)
    located = load_config(web_config(
        RECIPE_CORS, outside='<location path="p"><system.webServer><cors enabled="false" />'
                             "</system.webServer></location>")).policy
    assert (located.single_scope, located.direct) == (False, False)


def test_an_empty_origin_is_not_the_own_origin_without_the_opt_in() -> None:
    """Contract B13 is an opt-in: without it no Origin is exempt, not even an empty one
    (not a serialized origin, so unlisted: 403 under failUnlistedOrigins)."""
    decision = load_config(LISTED).evaluate(CorsRequest("GET", "", host=HOST))
    assert (decision.kind, decision.status) == (RequestKind.ACTUAL, 403)


# -- the rule an allowed preflight names (what explain and diff print) ---------------------------

def test_an_allowed_preflight_names_the_rule_that_allowed_it() -> None:
    """`iiscors explain` and `iiscors diff` read the verdict's rule: an allowed preflight names
    it as an allowed actual request does."""
    config = load_config(LISTED)
    preflight = config.evaluate(CorsRequest("OPTIONS", A, "GET"))
    assert preflight.kind is RequestKind.PREFLIGHT and preflight.outcome is Outcome.ALLOWED
    assert preflight.rule is not None and preflight.rule.origin == A
    assert preflight.reason.startswith(f'rule origin="{A}" (<bytes>:4) allows \'{A}\'')


def test_forget_leaves_no_origin_marked_refused_not_even_an_empty_one() -> None:
    """After forget, admit answers every origin from the rules again; an empty Origin header
    under the static "*" (B10: "*" whatever the Origin) is still admitted with the "*" answer."""
    policy = load_config(web_config('<cors enabled="true"><add origin="*"/></cors>')).policy
    assert policy.root.any_answer is not None
    assert policy.root.admit("") is policy.root.any_answer  # a new scope marks none either
    policy.forget_answers()
    assert policy.root.admit("") is policy.root.any_answer


# -- why CORS is off: what explain says (contract B1, D1) ----------------------------------------

MODULE_OFF = '<modules><remove name="CorsModule"/></modules>'


def test_a_disabled_scope_says_cors_is_not_enabled_and_a_removed_module_says_so() -> None:
    """Contract B1 (enabled false or unset) and D1 (CorsModule removed) both leave requests to
    the app, and explain names which of the two; when both hold, B1's reason is given."""
    cases = [('<cors enabled="false"><add origin="https://a.example"/></cors>', "", "not enabled"),
             ('<cors enabled="true"><add origin="https://a.example"/></cors>', MODULE_OFF,
              "CorsModule is removed"),
             ('<cors enabled="false"><add origin="https://a.example"/></cors>', MODULE_OFF,
              "not enabled")]
    for cors, server, words in cases:
        config = load_config(web_config(cors, server=server))
        for request in (CorsRequest("GET", A), CorsRequest("OPTIONS", A, "PUT")):
            decision = config.evaluate(request)
            assert decision.outcome is Outcome.PASSTHROUGH and words in decision.reason, cors
