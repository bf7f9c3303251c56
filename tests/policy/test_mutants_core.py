"""Decision-core cases that a mutation run of iiscors/policy/core.py found no test for
(docs/mutation.md): each test pins one behaviour that a surviving mutant changed."""

from __future__ import annotations

from iiscors import CorsRequest, load_config

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
