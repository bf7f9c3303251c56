"""One untimed call per candidate and request kind, and the check of its CORS answer.

Every candidate's answer is checked before it is timed (right Access-Control-Allow-Origin
present or absent, iiscors's 204/403 where the contract says so): a wrong answer's figure would
compare unlike work, so it is reported as NOT VERIFIED instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from _benchlib import BenchRequest, Scenario, origin_for, request_headers, wsgi_environ

from benchmark.candidates import Candidate

ACAO = "access-control-allow-origin"


def asgi_scope(scenario: Scenario, request: BenchRequest) -> dict[str, Any]:
    """The ASGI HTTP scope of ``request``, as uvicorn would build it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in request_headers(scenario, request).items()
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name]


def call_once(
    cand: Candidate,
    scenario: Scenario,
    request: BenchRequest,
    loop: asyncio.AbstractEventLoop,
) -> Answer:
    """One full call, capturing the answer (used only for verification, never timed)."""
    if cand.kind == "wsgi":
        return call_wsgi(cand.app, wsgi_environ(scenario, request))
    return call_asgi(cand.app, asgi_scope(scenario, request), loop)


def call_wsgi(app: Any, environ: dict[str, Any]) -> Answer:
    seen: dict[str, Any] = {}

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        seen["status"], seen["headers"] = status, list(headers)
        return lambda data: None

    body_iter = app(environ, start_response)
    try:
        body = b"".join(body_iter)
    finally:
        close = getattr(body_iter, "close", None)
        if close is not None:
            close()
    return Answer(int(seen["status"].split()[0]), seen["headers"], body)


def call_asgi(app: Any, scope: dict[str, Any], loop: asyncio.AbstractEventLoop) -> Answer:
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    loop.run_until_complete(app(scope, receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", [])]
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return Answer(start["status"], headers, body)


def verify(cand: Candidate, scenario: Scenario, request: BenchRequest, answer: Answer) -> list[str]:
    """Problems with a candidate's CORS answer (empty: verified)."""
    problems: list[str] = []
    origin = origin_for(scenario, request)
    allowed = cand.cors and request.origin == "allowed"
    acao = answer.header(ACAO)
    if allowed and acao != [origin]:
        problems.append(f"expected ACAO {origin!r}, got {acao!r}")
    if not allowed and acao and not (request.origin == "" and cand.acao_without_origin):
        problems.append(f"expected no ACAO, got {acao!r}")
    if answer.status >= 500:
        problems.append(f"status {answer.status}")
    if cand.iiscors:
        problems += verify_contract(scenario, request, answer, allowed=allowed)
    return problems


def verify_contract(
    scenario: Scenario, request: BenchRequest, answer: Answer, *, allowed: bool
) -> list[str]:
    """The contract-specific checks of an iiscors candidate's answer."""
    problems: list[str] = []
    vary = ",".join(answer.header("vary")).lower()
    if allowed and "origin" not in vary:
        problems.append(f"expected Origin in Vary, got {vary!r}")
    if allowed and request.preflight and (answer.status != 204 or answer.body):
        # contract B8: answered by the middleware, the app (which says "ok") not called
        problems.append(
            f"allowed preflight: expected 204 with no body, got {answer.status} {answer.body!r}"
        )
    if request.origin == "unlisted":
        # Contract B7: 403 from the middleware, or whatever the app answers (a Starlette
        # route without OPTIONS says 405 to the denied preflight, as it would without CORS).
        if scenario.fail_unlisted and answer.status != 403:
            problems.append(f"unlisted origin: expected 403, got {answer.status}")
        if not scenario.fail_unlisted and (answer.status == 403 or answer.body == b""):
            problems.append(f"unlisted origin: expected the app's answer, got "
                            f"{answer.status} {answer.body!r}")
    if request.origin in ("", "allowed") and not request.preflight and answer.body != b"ok":
        problems.append("the app was not called")
    return problems
