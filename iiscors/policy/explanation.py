"""A :class:`~iiscors.policy.core.Decision` and the browser's
:class:`~iiscors.policy.verdict.Verdict` told in words and in JSON, for ``iiscors explain`` and
the playground.  It renders them; it never makes one (there is no second evaluator).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from iiscors.policy.core import CorsRequest, Decision
from iiscors.policy.fetch import BrowserRequest
from iiscors.policy.verdict import Stage, Verdict

#: The version of the ``--format json`` shape of explain (2: the ``browser`` object, contract F1).
JSON_VERSION = 2


def outcome_text(decision: Decision) -> str:
    if decision.recipe is not None:
        return (f"{decision.outcome}: the URL Rewrite rule answers {decision.status} itself, "
                "before the app; the app is not called")
    if decision.status is not None:
        return (f"{decision.outcome}: the middleware answers {decision.status} itself; "
                "the app is not called")
    added = ", with the headers below added to its response" if decision.headers else ""
    return f"{decision.outcome}: the app answers{added}"


def decision_json(decision: Decision, request: CorsRequest, scope: str) -> dict[str, Any]:
    """The documented JSON shape (docs/cli.md): kind, outcome, status, headers, rule, reason."""
    return {"version": JSON_VERSION, **exchange_json(decision, request, scope)}


def exchange_json(decision: Decision, request: CorsRequest, scope: str) -> dict[str, Any]:
    """One request and IIS's answer to it: :func:`decision_json` without the version."""
    rule = None
    if decision.rule is not None:
        where = decision.rule.location
        rule = {"origin": decision.rule.origin, "allowed": decision.rule.allowed,
                "file": where.file, "line": where.line, "column": where.column}
    return {
        "request": {"method": request.method, "path": request.path, "origin": request.origin,
                    "request_method": request.request_method,
                    "request_headers": request.request_headers},
        "scope": scope,
        "kind": decision.kind.value,
        "outcome": decision.outcome.value,
        "status": decision.status,
        "headers": [[name, value] for name, value in decision.headers],
        "rule": rule,
        "rewrite": _recipe_json(decision),
        "reason": decision.reason,
    }


def _recipe_json(decision: Decision) -> dict[str, Any] | None:
    """The URL Rewrite rule that answered instead of the app (contract C2), or None."""
    recipe = decision.recipe
    if recipe is None:
        return None
    where = recipe.location
    return {"name": recipe.name, "file": where.file, "line": where.line, "column": where.column,
            "status": recipe.status, "status_reason": recipe.reason,
            "body": recipe.description}


def render_text(decision: Decision, request: CorsRequest, scope: str) -> list[str]:
    """The human-readable rendering, one line per fact."""
    lines = [f"request:  {request.method} {request.path}"]
    sent = [("Origin", request.origin),
            ("Access-Control-Request-Method", request.request_method),
            ("Access-Control-Request-Headers", request.request_headers)]
    lines.extend(f"          {name}: {value}" for name, value in sent if value is not None)
    lines.append(f"scope:    {scope}")
    lines.append(f"kind:     {decision.kind}")
    lines.append(f"outcome:  {outcome_text(decision)}")
    if decision.headers:
        first, *rest = decision.headers
        lines.append(f"headers:  {first[0]}: {first[1]}")
        lines.extend(f"          {name}: {value}" for name, value in rest)
    else:
        lines.append("headers:  (none added)")
    lines.extend(_rule_lines(decision))
    lines.append(f"reason:   {decision.reason}")
    return lines


def _rule_lines(decision: Decision) -> list[str]:
    """The rule that answered: URL Rewrite's recipe where it did (contract C2), then the CORS
    rule chosen, if any."""
    cors = None
    if decision.rule is not None:
        cors = f"origin=\"{decision.rule.origin}\" at {decision.rule.location}"
    recipe = decision.recipe
    if recipe is None:
        return [f"rule:     {cors or '(none)'}"]
    lines = [f"rule:     URL Rewrite <rule name=\"{recipe.name}\"> at {recipe.location}: "
             f"answers {recipe.status} {recipe.reason} before the app"]
    if cors is not None:
        lines.append(f"          CORS rule {cors}")
    return lines


class Exchange(NamedTuple):
    """One request the browser sends and the decision iiscors makes for it."""

    request: CorsRequest
    decision: Decision


def answer_text(decision: Decision) -> str:
    """IIS's answer in a few words: ``allowed, 204 from the middleware``."""
    if decision.recipe is not None:
        return f"{decision.outcome}, {decision.status} from the URL Rewrite rule"
    if decision.status is not None:
        return f"{decision.outcome}, {decision.status} from the middleware"
    return f"{decision.outcome}, the app answers"


def _exchange_line(label: str, exchange: Exchange) -> str:
    request, decision = exchange
    added = "; ".join(f"{name}: {value}" for name, value in decision.headers) or "no header added"
    return f"          {label} {request.method} {request.path} → {answer_text(decision)} [{added}]"


def _fetch_lines(plan: BrowserRequest, credentials: str, path: str) -> list[str]:
    sent = ", ".join(f"{name}: {value}" for name, value in plan.headers) or "no header"
    lines = [f"          the page's fetch(): {plan.method} {path}, credentials {credentials}, "
             f"{sent}"]
    if plan.dropped:
        lines.append(f"          dropped by fetch() (forbidden request-headers): "
                     f"{', '.join(plan.dropped)}")
    return lines


def verdict_text(verdict: Verdict, plan: BrowserRequest | None, credentials: str,
                 preflight: Exchange | None, actual: Exchange | None) -> list[str]:
    """The ``browser:`` lines of ``iiscors explain``: the verdict, the failed check in
    Chromium's console words, the page's fetch(), and IIS's answer to each request sent."""
    failure = verdict.failure
    if verdict.same_origin:
        return ["browser:  allowed: a same-origin request (the Origin is the request's own "
                "scheme://Host), so no CORS check applies"]
    if failure is None:
        lines = ["browser:  allowed: the page can read the response"]
    else:
        lines = [f"browser:  blocked: {failure.message}",
                 f"          check {failure.check} (Fetch standard, \"{failure.section}\")"]
    if plan is not None and actual is not None:
        lines.extend(_fetch_lines(plan, credentials, actual.request.path))
        if preflight is not None:
            lines.extend(f"          preflight first: {why}" for why in verdict.why_preflight)
            lines.append(_exchange_line("preflight", preflight))
        else:
            lines.append("          no preflight: the method and headers are CORS-safelisted")
        if failure is not None and failure.stage is Stage.PREFLIGHT:
            lines.append(f"          actual {actual.request.method} {actual.request.path} → "
                         "not sent: the preflight failed")
        else:
            lines.append(_exchange_line("actual", actual))
    if verdict.chromium_differs:
        chromium = verdict.chromium
        what = "allowed" if chromium is None else f"blocked: {chromium.message}"
        lines.append(f"          Chromium 156 differs: {what}")
    lines.extend(f"          assumes {assumption}" for assumption in verdict.assumptions)
    return lines


def verdict_json(verdict: Verdict, plan: BrowserRequest | None, credentials: str,
                 preflight: Exchange | None, actual: Exchange | None,
                 scope: str) -> dict[str, Any]:
    """The ``browser`` object of explain's JSON (docs/cli.md)."""
    failure = verdict.failure
    chromium = None
    if verdict.chromium_differs:
        other = verdict.chromium
        chromium = {"verdict": "allowed" if other is None else "blocked",
                    "check": None if other is None else other.check.value,
                    "message": None if other is None else other.message}
    sent = preflight is not None and failure is not None and failure.stage is Stage.PREFLIGHT
    return {
        "verdict": verdict.word,
        "check": None if failure is None else failure.check.value,
        "failed_parameter": None if failure is None else failure.parameter,
        "message": None if failure is None else failure.message,
        "stage": None if failure is None else failure.stage.value,
        "section": None if failure is None else failure.section,
        "same_origin": verdict.same_origin,
        "preflight_needed": verdict.preflight_needed,
        "why_preflight": list(verdict.why_preflight),
        "fetch": None if plan is None else {
            "method": plan.method, "credentials": credentials,
            "headers": [[name, value] for name, value in plan.headers],
            "dropped": list(plan.dropped), "request_headers": plan.preflight_headers},
        "preflight": None if preflight is None else exchange_json(
            preflight.decision, preflight.request, scope),
        "actual": None if actual is None else exchange_json(actual.decision, actual.request,
                                                            scope),
        "actual_sent": actual is not None and not sent,
        "assumptions": list(verdict.assumptions),
        "chromium": chromium,
    }
