"""``iiscors explain``: what the middleware does with one request, and why.

It builds a :class:`~iiscors.policy.CorsRequest` from the options, asks
:meth:`iiscors.config.Config.evaluate` (or, with ``--exempt-same-origin``, the policy that option
compiles) for the :class:`~iiscors.policy.Decision`, and renders that very Decision: there is no
second evaluator here, so what explain prints is what the middleware acts on.

Exit codes: 0 rendered (and, with ``--expect``, the outcome is the expected one); 1 the outcome
differs from ``--expect``; 2 usage problems or a configuration that cannot be loaded.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from .config import Config, load_config
from .diagnostics import ConfigError
from .loader import DEFAULT_MAX_BYTES
from .policy import CorsRequest, Decision, Outcome
from .report import diagnostic_json

#: The version of the ``--format json`` shape of explain.
JSON_VERSION = 1


def decide(config: Config, request: CorsRequest, *, exempt_same_origin: bool = False
           ) -> Decision:
    """The middleware's decision for ``request`` (contract B1-B15)."""
    if exempt_same_origin:
        return config.compile(exempt_same_origin=True).evaluate(request)
    return config.evaluate(request)


def scope_of(config: Config, path: str) -> str:
    """The configured path whose effective section applies at ``path`` (contract A9)."""
    return "/" + "/".join(config.section_for(path).path)


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


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--origin", required=True, help="The Origin header the browser sends.")
@click.option("--method", default=None,
              help="The request method [default: OPTIONS with --request-method, else GET].")
@click.option("--request-method", default=None,
              help="Access-Control-Request-Method (makes an OPTIONS request a preflight).")
@click.option("--request-headers", default=None, help="Access-Control-Request-Headers.")
@click.option("--path", default="/", show_default=True,
              help="The request path (WSGI PATH_INFO), for <location path> scoping.")
@click.option("--exempt-same-origin", is_flag=True,
              help="Use the middleware's exempt_same_origin option (with --host).")
@click.option("--host", default=None, help="The request's Host header.")
@click.option("--scheme", default="http", show_default=True, type=click.Choice(["http", "https"]),
              help="The request's scheme.")
@click.option("-f", "--format", "format_name", default="text", show_default=True,
              type=click.Choice(["text", "json"]))
@click.option("--expect", type=click.Choice([o.value for o in Outcome]), default=None,
              help="Exit 1 unless the outcome is this one (a CI assertion).")
@click.option("--max-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_BYTES,
              show_default=True, help="Size limit for the file.")
def explain(config: str, origin: str, method: str | None, request_method: str | None,
            request_headers: str | None, path: str, exempt_same_origin: bool,
            host: str | None, scheme: str, format_name: str, expect: str | None,
            max_bytes: int) -> None:
    """Show what the middleware does with one request to CONFIG, and why.

    Exit 0 when rendered (and the outcome is --expect's), 1 when the outcome differs from
    --expect, 2 on usage problems or a configuration that cannot be loaded.
    """
    try:
        loaded = load_config(config, max_bytes=max_bytes)
    except ConfigError as exc:
        # Contract A8: an unusable configuration has no behaviour to explain.
        for diagnostic in exc.diagnostics:
            click.echo(str(diagnostic), err=True)
        click.echo(f"{config}: the configuration cannot be loaded; nothing to explain.",
                   err=True)
        sys.exit(2)
    if method is None:
        method = "OPTIONS" if request_method else "GET"
    request = CorsRequest(method=method, origin=origin, request_method=request_method,
                          request_headers=request_headers, path=path, host=host, scheme=scheme)
    decision = decide(loaded, request, exempt_same_origin=exempt_same_origin)
    scope = scope_of(loaded, path)
    if format_name == "json":
        document = decision_json(decision, request, scope)
        document["warnings"] = [diagnostic_json(d) for d in loaded.diagnostics]
        document["expected"] = expect
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        for line in render_text(decision, request, scope):
            click.echo(line)
        for diagnostic in loaded.diagnostics:
            click.echo(str(diagnostic), err=True)
    if expect is not None and decision.outcome.value != expect:
        click.echo(f"expected {expect}, got {decision.outcome}", err=True)
        sys.exit(1)
