"""A :class:`~iiscors.policy.core.Decision` told in words and in JSON, for ``iiscors explain`` and
the playground.  It renders a decision; it never makes one (there is no second evaluator).
"""

from __future__ import annotations

from typing import Any

from iiscors.policy.core import CorsRequest, Decision

#: The version of the ``--format json`` shape of explain.
JSON_VERSION = 1


def outcome_text(decision: Decision) -> str:
    if decision.status is not None:
        return (f"{decision.outcome}: the middleware answers {decision.status} itself; "
                "the app is not called")
    added = ", with the headers below added to its response" if decision.headers else ""
    return f"{decision.outcome}: the app answers{added}"


def decision_json(decision: Decision, request: CorsRequest, scope: str) -> dict[str, Any]:
    """The documented JSON shape (docs/cli.md): kind, outcome, status, headers, rule, reason."""
    rule = None
    if decision.rule is not None:
        where = decision.rule.location
        rule = {"origin": decision.rule.origin, "allowed": decision.rule.allowed,
                "file": where.file, "line": where.line, "column": where.column}
    return {
        "version": JSON_VERSION,
        "request": {"method": request.method, "path": request.path, "origin": request.origin,
                    "request_method": request.request_method,
                    "request_headers": request.request_headers},
        "scope": scope,
        "kind": decision.kind.value,
        "outcome": decision.outcome.value,
        "status": decision.status,
        "headers": [[name, value] for name, value in decision.headers],
        "rule": rule,
        "reason": decision.reason,
    }


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
    if decision.rule is not None:
        lines.append(f"rule:     origin=\"{decision.rule.origin}\" at {decision.rule.location}")
    else:
        lines.append("rule:     (none)")
    lines.append(f"reason:   {decision.reason}")
    return lines
