"""The request plan: what an adapter does with one request (contract B2-B15, C1, C2).

Sans-IO: the WSGI and the ASGI adapter unpack their protocol into the same few fields (method,
Origin, Access-Control-Request-Method and -Headers, the scope of the request's path, and, with
contract B13's opt-in, the request's own origin) and :func:`plan_request` turns them into a
:class:`Plan`: answer the request itself with a status and headers, or call the application and
add headers to whatever it answers.  The adapters only write that plan in their protocol.

**The fast path.** A request without Origin, and a repeat of an allowed origin, need no
decision: the scope prepared their headers (:attr:`~iiscors.policy.core.ScopePolicy.passive`,
:attr:`~iiscors.policy.core.ScopePolicy.answers`). They are nearly every request, and a call
into this module and the :class:`Plan` it returns cost more than reading those tables (+0.15 µs
without Origin, +0.35 µs for a repeated allowed GET or preflight, on a WSGI path of about 1 µs,
measured when the plan was written; repeats may cost at most +0.2 µs), so each adapter reads
them itself, exactly as the first branches of :func:`plan_request` do; on a miss they ask the
scope's first-sight lookup (:meth:`~iiscors.policy.core.ScopePolicy.admit`) themselves, as
:func:`plan_request` does, and go on as for a repeat when it allows the origin (no Verdict, no
Plan: issue 17); they call :func:`plan_request` for everything else. Where URL Rewrite's OPTIONS
recipe applies (contract C2) and the method matches it, the adapters skip the fast path and ask
:func:`recipe_plan`: the middleware then always answers itself (the recipe, or CORS's own 204 or
403). A policy without the recipe and without path levels is ``direct``
(:attr:`~iiscors.policy.core.Policy.direct`): the adapters read its root with neither the path
lookup nor the recipe's check.
``test_fast_path.py`` holds both adapters to the plan, request by request,
first sight and repeat; ``test_answers.py`` holds them to the
:class:`~iiscors.policy.core.Decision`.
"""

from __future__ import annotations

from iiscors.policy.core import Plan as Plan  # defined beside Verdict and Decision
from iiscors.policy.core import ScopePolicy, preflight_headers

#: The body of the middleware's own 403 (contract B7); its headers come from the plan.
FORBIDDEN_BODY = b"403 Forbidden: the CORS policy does not allow this origin.\n"
#: The body of the 500 under an unusable scope (contract E6): no detail of the configuration,
#: which goes to the log (as IIS shows 500.19's details only to local requests).
UNUSABLE_SCOPE_BODY = (b"500 Internal Server Error: the configuration of this path is unusable "
                       b"(like IIS's 500.19); see the server log.\n")
#: The body of each status the middleware answers with itself (a 204 has none).
BODIES = {403: FORBIDDEN_BODY, 500: UNUSABLE_SCOPE_BODY}


def own_origin(scheme: str, host: str | None) -> str | None:
    """Contract B13: the request's own ``scheme://Host``, None without a Host header."""
    return None if host is None else f"{scheme}://{host}"


def plan_request(scope: ScopePolicy, method: str, origin: str | None,
                 request_method: str | None = None, request_headers: str | None = None,
                 own: str | None = None) -> Plan:
    """What to do with one request in ``scope`` (the policy of the request's path).

    :param method: the request method, as sent.
    :param origin: the Origin header, None without one.
    :param request_method: Access-Control-Request-Method (read by a preflight only, B3).
    :param request_headers: Access-Control-Request-Headers (echoed by a preflight only, B14).
    :param own: the request's own origin (:func:`own_origin`) when the B13 exemption is
        enabled, else None.

    Requests already decided are read from the scope's tables (the adapters' fast path does the
    same, see the module docstring); the others by the scope's first-sight lookup,
    :meth:`~iiscors.policy.core.ScopePolicy.admit`, which keeps what it allowed for next time
    (:meth:`~iiscors.policy.core.ScopePolicy.verdict` takes its answers from there too).
    """
    recipe = scope.recipe
    if recipe is not None and recipe.matches(method):
        return recipe_plan(scope, method, origin, request_method, request_headers, own)
    if origin is None or origin == own:
        return scope.passive_plan  # contract B2/B15, B13's opt-in: not a CORS request
    answer = scope.answers.get(origin, scope.any_answer)
    if answer is None:
        # First sight of this origin, or not an allowed one: the scope's first-sight lookup
        # (contract B4-B6), which keeps what it allows; what it refuses (403 or passed through,
        # B7) or leaves alone (B1, D1) is planned alike for every method, prepared by the scope.
        answer = scope.admit(origin)
        if answer is None:
            return scope.refused_plan
    if method == "OPTIONS" and request_method:
        return Plan(204, preflight_headers(answer, request_headers))  # contract B3/B8
    allow_origin, rule = answer
    return Plan(None, allow_origin, rule.actual_tail)  # contract B9


def recipe_plan(scope: ScopePolicy, method: str, origin: str | None,
                request_method: str | None = None, request_headers: str | None = None,
                own: str | None = None) -> Plan:
    """The plan of a request whose method URL Rewrite's OPTIONS recipe matches (contract C2):
    CORS's own 204 or 403 where it answers, else the recipe's answer, with the headers the
    app's response would have got.  Always answered by the middleware (``status`` set)."""
    verdict = scope.verdict(method, origin, request_method, request_headers, own)
    recipe = verdict.recipe
    if recipe is not None:
        return Plan(verdict.status, verdict.headers, (), recipe.reason, recipe.body)
    if verdict.status == 403:
        return scope.refused_plan
    return Plan(verdict.status, verdict.headers)
