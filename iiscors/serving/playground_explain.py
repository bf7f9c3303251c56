"""The playground's explain endpoint: one ``fetch()`` as the page describes it, explained.

``GET /__iiscors/explain?method=&path=&headers=&credentials=&body=`` answers what the browser
sends for that ``fetch()`` (:func:`iiscors.policy.fetch.browser_request`: a simple request, or a
preflight and the actual request), for each request the very
:class:`~iiscors.policy.core.Decision` the middleware acts on, rendered by
:func:`iiscors.policy.explanation.decision_json` (no second evaluator), and the browser's
verdict on them (:func:`iiscors.policy.verdict.judge`, contract F1), the one ``iiscors explain``
gives: the page's script only renders it.

Bad input is a :class:`PlaygroundInputError` (the page answers 400 with its message), never a
traceback.
"""

from __future__ import annotations

from typing import Any

from iiscors.config.load import Config
from iiscors.policy.explanation import Exchange, decision_json, verdict_json
from iiscors.policy.fetch import (
    CREDENTIALS_MODES,
    BrowserRequest,
    FetchTypeError,
    browser_request,
    is_header_name,
    is_sendable_header_value,
)
from iiscors.policy.verdict import flow, judge

#: Limits on the explain endpoint's input (a person types these; anything larger is a mistake).
MAX_HEADER_LINES = 50
MAX_FIELD_CHARS = 8192


class PlaygroundInputError(ValueError):
    """The explain endpoint's input is not a request ``fetch()`` would send (answered 400)."""


def parse_header_lines(text: str) -> list[tuple[str, str]]:
    """``Name: value`` lines (blank lines ignored) as fetch() would accept them.

    :raises PlaygroundInputError: a line has no colon, an invalid name or an unsendable value.
    """
    parsed: list[tuple[str, str]] = []
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_HEADER_LINES:
        raise PlaygroundInputError(f"at most {MAX_HEADER_LINES} header lines")
    for number, line in enumerate(lines, 1):
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon:
            raise PlaygroundInputError(
                f"header line {number} has no colon; write it as Name: value")
        if not is_header_name(name):
            raise PlaygroundInputError(
                f"header line {number}: {name!r} is not a valid header name (fetch() throws "
                "a TypeError)")
        value = value.strip(" \t")
        if not is_sendable_header_value(value):
            raise PlaygroundInputError(
                f"header line {number}: the value of {name} has a character fetch() cannot "
                "send (NUL, CR, LF or beyond ISO-8859-1)")
        parsed.append((name, value))
    return parsed


def _check_fields(method: str, path: str, headers: str, credentials: str, body: str) -> None:
    for label, value in (("method", method), ("path", path), ("headers", headers),
                         ("body", body)):
        if len(value) > MAX_FIELD_CHARS:
            raise PlaygroundInputError(f"{label} is longer than {MAX_FIELD_CHARS} characters")
    if credentials not in CREDENTIALS_MODES:
        raise PlaygroundInputError(
            f"credentials must be one of {', '.join(CREDENTIALS_MODES)}, not {credentials!r}")
    if not path.startswith("/") or path.startswith("//"):
        raise PlaygroundInputError("path must start with a single / (e.g. /api/items)")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in path):
        raise PlaygroundInputError("path must not contain spaces or control characters")


def _plan(method: str, headers: str, body: str) -> BrowserRequest:
    try:
        plan = browser_request(method, parse_header_lines(headers))
    except FetchTypeError as exc:
        raise PlaygroundInputError(str(exc)) from exc
    if body and plan.method in ("GET", "HEAD"):
        raise PlaygroundInputError(f"a {plan.method} request cannot have a body (fetch() "
                                   "throws a TypeError)")
    return plan


def explain_fetch(config: Config, origin: str, method: str, path: str, headers: str,
                  credentials: str, body: str = "") -> dict[str, Any]:
    """The explain endpoint's JSON: the browser's requests for one ``fetch()``, for each
    :func:`iiscors.policy.explanation.decision_json` of the decision the middleware acts on, and
    under ``browser`` the verdict (the ``browser`` object of ``iiscors explain --format json``).

    :raises PlaygroundInputError: the input is not a request fetch() would send.
    """
    _check_fields(method, path, headers, credentials, body)
    plan = _plan(method, headers, body)
    path_info = path.split("?", 1)[0].split("#", 1)[0]
    scope = config.scope_of(path_info)
    first, then = flow(plan, origin, path_info)
    preflight = None if first is None else Exchange(first, config.decide(first))
    actual = Exchange(then, config.decide(then))
    verdict = judge(plan, origin, credentials, None if preflight is None else preflight.decision,
                    actual.decision)
    browser = verdict_json(verdict, plan, credentials, preflight, actual, scope)
    return {
        "origin": origin,
        "credentials": credentials,
        "method": plan.method,
        "path": path,
        "simple": not plan.needs_preflight,
        "why_preflight": list(plan.why_preflight),
        "sent_headers": [[name, value] for name, value in plan.headers],
        "dropped_headers": list(plan.dropped),
        "preflight": None if preflight is None else decision_json(
            preflight.decision, preflight.request, scope),
        "actual_sent": browser["actual_sent"],
        "actual": decision_json(actual.decision, actual.request, scope),
        "browser": browser,
    }
