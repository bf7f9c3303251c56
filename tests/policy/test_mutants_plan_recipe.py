"""The request plan where URL Rewrite's OPTIONS recipe applies (contract C2): behaviours that
a mutation run of iiscors/policy/plan.py found no test for (docs/mutation.md).

The plan (:func:`iiscors.policy.plan.plan_request`) is what every adapter writes; these tests ask
it directly, with a policy built from a web.config as the adapters build theirs.
"""

from __future__ import annotations

from iiscors import load_config
from iiscors.policy import headers
from iiscors.policy.core import Policy
from iiscors.policy.plan import own_origin, plan_request

ORIGIN = "https://app.example"
SELF = own_origin("https", "self.example")
CONFIG = (
    '<?xml version="1.0"?><configuration><system.webServer>'
    f'<cors enabled="true" failUnlistedOrigins="true"><add origin="{ORIGIN}">'
    '<allowHeaders allowAllRequestedHeaders="true" /></add></cors>'
    '<rewrite><rules><rule name="Preflight"><match url=".*" /><conditions>'
    '<add input="{REQUEST_METHOD}" pattern="OPTIONS" /></conditions>'
    '<action type="CustomResponse" statusCode="200" statusReason="Pre flight" '
    'statusDescription="answered" /></rule></rules></rewrite>'
    "</system.webServer></configuration>").encode()


def test_a_preflight_under_the_recipe_echoes_the_requested_headers() -> None:
    plan = plan_request(Policy(load_config(CONFIG).scopes).root, "OPTIONS", ORIGIN, "PUT",
                        "X-Token")
    # contract C2: CORS answers its preflight before URL Rewrite; B8: the headers echoed
    assert plan.status == 204 and dict(plan.headers)[headers.ALLOW_HEADERS] == "X-Token"


def test_under_the_recipe_the_sites_own_origin_gets_the_recipes_answer() -> None:
    root = Policy(load_config(CONFIG).scopes, exempt_same_origin=True).root
    # contract B13's opt-in: the page's own origin is no CORS request, so the recipe answers
    # (unlisted, it would be refused: failUnlistedOrigins)
    plan = plan_request(root, "OPTIONS", SELF, "PUT", None, SELF)
    assert (plan.status, plan.reason) == (200, "Pre flight")
    assert plan_request(root, "OPTIONS", SELF, "PUT").status == 403


def test_without_the_recipe_an_allowed_preflight_has_no_reason_and_no_body() -> None:
    plain = CONFIG.replace(CONFIG[CONFIG.index(b"<rewrite>"):CONFIG.index(b"</rewrite>") + 10],
                           b"")
    plan = plan_request(Policy(load_config(plain).scopes).root, "OPTIONS", ORIGIN, "PUT")
    # contract B8: a 204 with an empty body; a reason and a body are the recipe's alone (C2)
    assert (plan.status, plan.reason, plan.body) == (204, "", b"")
