"""Both adapters write the plan where URL Rewrite's OPTIONS recipe applies (contract C2).

A request whose method the recipe's condition matches skips the adapters' fast path and is
planned whole (:func:`iiscors.policy.plan.recipe_plan`): the recipe's answer, or CORS's own 204
or 403.  Every other request takes the usual path.  These tests send every request shape twice
(first sight, then the kept answer), through each adapter and through a reference policy that
sees the same requests, and compare what the adapter wrote with what the plan says.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from werkzeug.test import create_environ, run_wsgi_app

from iiscors import load_config
from iiscors.asgi import CorsMiddleware as AsgiMiddleware
from iiscors.policy.core import Plan, Policy
from iiscors.policy.merge import merge_headers
from iiscors.policy.plan import FORBIDDEN_BODY, own_origin, plan_request
from iiscors.wsgi import CorsMiddleware as WsgiMiddleware

RULE = ('<rewrite><rules><rule name="Preflight"><match url=".*" /><conditions>'
        '<add input="{REQUEST_METHOD}" pattern="OPTIONS" /></conditions>'
        '<action type="CustomResponse" statusCode="200" statusReason="Pre flight" '
        'statusDescription="answered" /></rule></rules></rewrite>')
CONFIG = (
    '<?xml version="1.0"?><configuration><system.webServer>'
    '<cors enabled="true"><add origin="https://app.contoso.com" allowCredentials="true">'
    '<allowMethods><add method="PUT" /></allowMethods></add></cors>'
    '<httpProtocol><customHeaders><add name="X-Site" value="1" /></customHeaders></httpProtocol>'
    f"{RULE}</system.webServer>"
    '<location path="api"><system.webServer><cors failUnlistedOrigins="true" />'
    "</system.webServer></location>"
    '<location path="plain"><system.webServer><rewrite><rules><clear /></rules></rewrite>'
    "</system.webServer></location>"
    '<location path="off"><system.webServer><cors enabled="false" /></system.webServer>'
    "</location></configuration>").encode()
APP_HEADERS = [("Content-Type", "text/plain")]
APP_BODY = b"app body"
HOST, SCHEME = "self.example", "https"

Response = tuple[str, list[tuple[str, str]], bytes]


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", list(APP_HEADERS))
    return [APP_BODY]


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(n.encode(), v.encode()) for n, v in APP_HEADERS]})
    await send({"type": "http.response.body", "body": APP_BODY})


def wsgi_call(app: Any, method: str, path: str, headers: dict[str, str]) -> Response:
    environ = create_environ(path, base_url=f"{SCHEME}://{HOST}", method=method,
                             headers=headers)
    body, status, sent = run_wsgi_app(app, environ, buffered=True)
    return status, [(n.lower(), v) for n, v in sent.to_wsgi_list()], b"".join(body)


def asgi_call(app: Any, method: str, path: str, headers: dict[str, str]) -> Response:
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "scheme": SCHEME,
             "headers": [(b"Host", HOST.encode()),
                         *((n.encode(), v.encode("latin-1")) for n, v in headers.items())]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return (str(sent[0]["status"]), [(bytes(n).decode().lower(), bytes(v).decode("latin-1"))
                                     for n, v in sent[0]["headers"]],
            b"".join(m.get("body", b"") for m in sent[1:]))


def response_of(plan: Plan, adapter: str) -> Response:
    """The response a plan calls for: the status line as WSGI writes it (ASGI: the code)."""
    def status(code: int, reason: str) -> str:
        return f"{code} {reason}" if adapter == "wsgi" else str(code)

    def text(body: bytes) -> list[tuple[str, str]]:
        return [("content-type", "text/plain; charset=utf-8"),
                ("content-length", str(len(body)))]

    lowered = [(n.lower(), v) for n, v in plan.headers]
    if plan.status == 204:
        return status(204, "No Content"), lowered, b""
    if plan.status == 403:
        return status(403, "Forbidden"), text(FORBIDDEN_BODY) + lowered, FORBIDDEN_BODY
    if plan.status is not None:  # the recipe's answer
        return status(plan.status, plan.reason), text(plan.body) + lowered, plan.body
    merged = merge_headers(APP_HEADERS, [*plan.headers, *plan.rule_headers])
    return status(200, "OK"), [(n.lower(), v) for n, v in merged], APP_BODY


ADAPTERS = {
    "wsgi": (lambda exempt: WsgiMiddleware(wsgi_app, CONFIG, reload=False,
                                           exempt_same_origin=exempt), wsgi_call),
    "asgi": (lambda exempt: AsgiMiddleware(asgi_app, CONFIG, reload=False,
                                           exempt_same_origin=exempt), asgi_call),
}


@pytest.mark.parametrize("exempt", [False, True], ids=["plain", "exempt-same-origin"])
@pytest.mark.parametrize("adapter", ["wsgi", "asgi"])
def test_c2_the_adapters_answer_as_the_plan_first_and_repeated(adapter: str,
                                                               exempt: bool) -> None:
    build, call = ADAPTERS[adapter]
    middleware = build(exempt)
    reference = Policy(load_config(CONFIG).scopes, exempt_same_origin=exempt)
    own = own_origin(SCHEME, HOST) if exempt else None
    answered = set()
    for path, origin, method, request_method in itertools.product(
            ["/", "/api/x", "/plain/y", "/off"],
            [None, "https://app.contoso.com", "https://evil.example", f"{SCHEME}://{HOST}"],
            ["GET", "OPTIONS", "options", "XOPTIONS"], [None, "PUT"]):
        headers = {name: value for name, value in (
            ("Origin", origin), ("Access-Control-Request-Method", request_method))
            if value is not None}
        for attempt in ("first", "repeat"):
            plan = plan_request(reference.scope_for(path), method, origin, request_method,
                                None, own)
            got = call(middleware, method, path, headers)
            assert got == response_of(plan, adapter), (attempt, path, method, headers)
            answered.add(plan.status)
    assert answered == {None, 200, 204, 403}  # every kind of answer was compared


def test_c2_plan_request_answers_with_the_recipe_only_where_it_applies() -> None:
    policy = Policy(load_config(CONFIG).scopes)
    recipe = plan_request(policy.scope_for("/"), "OPTIONS", None)
    assert (recipe.status, recipe.reason, recipe.body) == (200, "Pre flight", b"answered")
    assert recipe.headers == (("Vary", "Origin"), ("X-Site", "1"))  # B15 and C1
    assert plan_request(policy.scope_for("/plain/x"), "OPTIONS", None).status is None
    assert plan_request(policy.scope_for("/"), "GET", None).status is None
