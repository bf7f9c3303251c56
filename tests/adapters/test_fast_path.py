"""Both adapters write the request plan (iiscors.policy.plan), fast path included.

Each adapter reads the scope's tables itself for a request without Origin and for a repeat of
an allowed origin (the plan's fast path, written out because it runs on nearly every request)
and calls plan_request for everything else.  These tests hold the written-out path to the plan,
request by request, and check that what the adapters write really comes from the plan.
WSGI runs through werkzeug's test driver; ASGI through the few lines of ``asgi_call``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from werkzeug.test import create_environ, run_wsgi_app

import iiscors.asgi
import iiscors.wsgi
from iiscors import load_config
from iiscors.asgi import CorsMiddleware as AsgiMiddleware
from iiscors.policy.core import Plan, Policy
from iiscors.policy.merge import merge_headers
from iiscors.policy.plan import FORBIDDEN_BODY, own_origin, plan_request
from iiscors.wsgi import CorsMiddleware as WsgiMiddleware

from support import web_config

CONFIG = web_config(
    '<cors enabled="true" failUnlistedOrigins="false">'
    '<add origin="https://app.contoso.com" allowCredentials="true" />'
    '<add origin="https://*.contoso.com" maxAge="60">'
    '<allowHeaders allowAllRequestedHeaders="true"><add header="X-A" /></allowHeaders>'
    '<allowMethods><add method="PUT" /></allowMethods></add>'
    '<add origin="https://blocked.contoso.com" allowed="false" />'
    '<add origin="*" /></cors>',
    server='<httpProtocol><customHeaders><add name="X-Site" value="1" /></customHeaders>'
           "</httpProtocol>",
    outside='<location path="api"><system.webServer>'
            '<cors enabled="true" failUnlistedOrigins="true"><clear />'
            '<add origin="https://*.contoso.com" /></cors></system.webServer></location>'
            '<location path="off"><system.webServer><cors enabled="false" />'
            "</system.webServer></location>"
            '<location path="star"><system.webServer><cors enabled="true"><clear />'
            '<add origin="*" /></cors></system.webServer></location>')
APP_HEADERS = [("Content-Type", "text/plain"), ("Vary", "Accept")]
APP_BODY = b"app body"
HOST, SCHEME = "self.example", "https"

Response = tuple[int, list[tuple[str, str]], bytes]


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
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
    return int(status.split()[0]), sent.to_wsgi_list(), b"".join(body)


def asgi_call(app: Any, method: str, path: str, headers: dict[str, str]) -> Response:
    """One request through an ASGI app: the response start's status and headers (names as the
    middleware wrote them, lower-cased for comparison) and the body."""
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "scheme": SCHEME,
             "headers": [(b"Host", HOST.encode()),
                         *((n.encode(), v.encode("latin-1")) for n, v in headers.items())]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return (sent[0]["status"], [(bytes(n).decode("latin-1"), bytes(v).decode("latin-1"))
                                for n, v in sent[0]["headers"]],
            b"".join(m.get("body", b"") for m in sent[1:]))


def response_of(plan: Plan) -> Response:
    """The response the plan calls for, as the WSGI adapter writes it."""
    if plan.status == 204:
        return 204, list(plan.headers), b""
    if plan.status == 403:
        return 403, [("Content-Type", "text/plain; charset=utf-8"),
                     ("Content-Length", str(len(FORBIDDEN_BODY))), *plan.headers], FORBIDDEN_BODY
    return 200, merge_headers(APP_HEADERS, [*plan.headers, *plan.rule_headers]), APP_BODY


def lower_names(response: Response) -> Response:
    status, headers, body = response
    return status, [(n.lower(), v) for n, v in headers], body


ADAPTERS = {
    "wsgi": (lambda config, exempt: WsgiMiddleware(wsgi_app, config, reload=False,
                                                   exempt_same_origin=exempt), wsgi_call),
    "asgi": (lambda config, exempt: AsgiMiddleware(asgi_app, config, reload=False,
                                                   exempt_same_origin=exempt), asgi_call),
}


@pytest.mark.parametrize("exempt", [False, True], ids=["plain", "exempt-same-origin"])
@pytest.mark.parametrize("adapter", ["wsgi", "asgi"])
def test_the_adapters_answer_as_the_plan_first_and_repeated(adapter: str, exempt: bool) -> None:
    """Every request twice, on the adapter and on a reference policy that sees the same
    requests in the same order, so that their tables fill alike: the adapter's repeats take its
    written-out fast path, the reference's take plan_request's table branch."""
    build, call = ADAPTERS[adapter]
    middleware = build(CONFIG, exempt)
    reference = Policy(load_config(CONFIG).scopes, exempt_same_origin=exempt)
    own = own_origin(SCHEME, HOST) if exempt else None
    for path, origin, method, request_method, request_headers in itertools.product(
            ["/", "/api/x", "/off/y", "/star/z"],
            [None, "https://app.contoso.com", "https://www.contoso.com",
             "https://blocked.contoso.com", "https://evil.example", "https://x.contoso.com/p",
             f"{SCHEME}://{HOST}"],
            ["GET", "OPTIONS"], [None, "PUT"], [None, "x-a", "x a"]):
        headers = {name: value for name, value in (
            ("Origin", origin), ("Access-Control-Request-Method", request_method),
            ("Access-Control-Request-Headers", request_headers)) if value is not None}
        for attempt in ("first", "repeat"):
            plan = plan_request(reference.scope_for(path), method, origin, request_method,
                                request_headers, own)
            got = call(middleware, method, path, headers)
            assert lower_names(got) == lower_names(response_of(plan)), (attempt, path, headers)


@pytest.mark.parametrize("adapter", ["wsgi", "asgi"])
def test_the_fast_path_does_not_ask_the_plan(adapter: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """No Origin, and a repeat of an allowed origin (actual or preflight), are read from the
    tables, its first sight from the scope's lookup (``admit``, issue 17); an origin that is
    not allowed asks the plan every time."""
    asked: list[str | None] = []

    def counting(*args: Any, **kwargs: Any) -> Plan:
        asked.append(args[2])
        return plan_request(*args, **kwargs)

    monkeypatch.setattr(iiscors.wsgi if adapter == "wsgi" else iiscors.asgi, "plan_request",
                        counting)
    build, call = ADAPTERS[adapter]
    middleware = build(CONFIG, False)
    preflight = {"Origin": "https://www.contoso.com", "Access-Control-Request-Method": "PUT"}
    for _ in range(3):
        call(middleware, "GET", "/", {})
        call(middleware, "GET", "/", {"Origin": "https://www.contoso.com"})
        call(middleware, "OPTIONS", "/", preflight)
        call(middleware, "GET", "/api/x", {"Origin": "https://evil.example"})
    assert asked == ["https://evil.example"] * 3


@pytest.mark.parametrize("adapter", ["wsgi", "asgi"])
@pytest.mark.parametrize("plan", [
    Plan(403, (("X-Planned", "1"),)),
    Plan(204, [("X-Planned", "1")]),
    Plan(None, (("X-Planned", "1"),), (("X-Rule", "2"),)),
    Plan(None, ()),
], ids=["answer-403", "answer-204", "call-the-app-and-add", "call-the-app"])
def test_the_adapters_write_what_the_plan_says(adapter: str, plan: Plan,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the plan says, the adapter writes it: the adapters hold no plan of their own
    for the requests they ask about (an origin the scope does not allow: since issue 17, the
    first sight of an allowed one is the scope's lookup)."""
    monkeypatch.setattr(iiscors.wsgi if adapter == "wsgi" else iiscors.asgi, "plan_request",
                        lambda *args, **kwargs: plan)
    build, call = ADAPTERS[adapter]
    got = call(build(CONFIG, False), "GET", "/api/x", {"Origin": "https://evil.example"})
    assert lower_names(got) == lower_names(response_of(plan))
