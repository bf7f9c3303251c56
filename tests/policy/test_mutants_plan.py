"""A request plan case that a mutation run of iiscors/policy/plan.py found no test for
(docs/mutation.md)."""

from __future__ import annotations

from iiscors import load_config
from iiscors.policy.plan import plan_request

STATIC_STAR = (b'<?xml version="1.0" encoding="utf-8"?>\n<configuration><system.webServer>'
               b'<cors enabled="true"><add origin="*"><exposeHeaders><add header="X-A" />'
               b"</exposeHeaders></add></cors>"
               b"</system.webServer></configuration>\n")


def test_the_static_star_is_read_from_the_scope_tables_at_first_sight() -> None:
    """Contract B10: with one rule, origin="*", every Origin gets the scope's prepared answer,
    its Access-Control-Allow-Origin and its rule's shared headers kept apart (B9), without a
    verdict, from the very first request of an origin."""
    scope = load_config(STATIC_STAR).policy.root
    answer = scope.any_answer
    assert answer is not None
    plan = plan_request(scope, "GET", "https://first.example")
    assert plan.status is None
    assert plan.headers is answer[0]
    assert plan.rule_headers is answer[1].actual_tail
    assert plan.headers == (("Access-Control-Allow-Origin", "*"),)
    assert plan.rule_headers == (("Access-Control-Expose-Headers", "X-A"),)
