"""Two iiscors layers on one request path: the first one the request meets handles it, any one
further in steps aside, a warning is logged once, and no header is ever added twice
(issue 15 item 5; the rule and its reason: iiscors.layering, docs/frameworks.md).

The two layers read different web.config files on purpose, so that each answer shows which
layer decided it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import pytest
from werkzeug.test import create_environ, run_wsgi_app

from iiscors.asgi import CorsMiddleware as AsgiMiddleware
from iiscors.layering import HANDLED
from iiscors.wsgi import CorsMiddleware as WsgiMiddleware


def web_config(origin: str) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?>\n<configuration><system.webServer>'
            f'<cors enabled="true" failUnlistedOrigins="false"><add origin="{origin}" '
            'allowCredentials="true"><allowMethods><add method="PUT" /></allowMethods></add>'
            "</cors></system.webServer></configuration>\n").encode()


OUTER, INNER = "https://outer.example", "https://inner.example"


class Calls:
    def __init__(self) -> None:
        self.count = 0

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.count += 1
        start_response("200 OK", [("Content-Type", "text/plain"), ("Vary", "Accept")])
        return [b"ok"]

    async def asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.count += 1
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"vary", b"Accept")]})
        await send({"type": "http.response.body", "body": b"ok"})


def wsgi_call(app: Any, method: str, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]]]:
    environ = create_environ("/", base_url="https://api.example", method=method, headers=headers)
    _body, status, sent = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0]), [(k.lower(), v) for k, v in sent.to_wsgi_list()]


def asgi_call(app: Any, method: str, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]]]:
    scope = {"type": "http", "method": method, "path": "/", "root_path": "", "scheme": "https",
             "headers": [(b"host", b"api.example"),
                         *((n.lower().encode(), v.encode()) for n, v in headers.items())]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], [(bytes(n).decode().lower(), bytes(v).decode())
                               for n, v in sent[0]["headers"]]


def nested(kind: str, calls: Calls) -> tuple[Any, Any]:
    if kind == "wsgi":
        inner = WsgiMiddleware(calls.wsgi, web_config(INNER), reload=False)
        return WsgiMiddleware(inner, web_config(OUTER), reload=False), wsgi_call
    inner_asgi = AsgiMiddleware(calls.asgi, web_config(INNER), reload=False)
    return AsgiMiddleware(inner_asgi, web_config(OUTER), reload=False), asgi_call


def values(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k == name]


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_the_outer_layer_decides_and_headers_never_double(
        kind: str, caplog: pytest.LogCaptureFixture) -> None:
    calls = Calls()
    app, call = nested(kind, calls)
    status, headers = call(app, "GET", {"Origin": OUTER})
    assert status == 200
    assert values(headers, "access-control-allow-origin") == [OUTER]
    assert values(headers, "access-control-allow-credentials") == ["true"]
    assert values(headers, "vary") == ["Accept, Origin"]  # merged once, not "Origin, Origin"
    # the inner layer's origin gets nothing: the inner layer stepped aside
    status, headers = call(app, "GET", {"Origin": INNER})
    assert status == 200 and values(headers, "access-control-allow-origin") == []
    assert calls.count == 2


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_preflight_is_answered_by_the_outer_layer(kind: str) -> None:
    calls = Calls()
    app, call = nested(kind, calls)
    status, headers = call(app, "OPTIONS", {"Origin": OUTER,
                                            "Access-Control-Request-Method": "PUT"})
    assert status == 204 and calls.count == 0  # contract B8: nothing inside ran
    assert values(headers, "access-control-allow-methods") == ["PUT"]


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_the_warning_is_logged_once(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    app, call = nested(kind, Calls())
    for _ in range(3):
        call(app, "GET", {"Origin": OUTER})
        call(app, "GET", {})
    warnings = [r for r in caplog.records
                if r.name == "iiscors" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "steps aside" in message and "<bytes>" in message


def test_the_mark_names_the_layer_that_handles_the_request() -> None:
    seen: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen.append(environ.get(HANDLED))
        start_response("200 OK", [])
        return [b""]

    middleware = WsgiMiddleware(app, web_config(OUTER), reload=False)
    wsgi_call(middleware, "GET", {})
    assert seen == [middleware]


def test_a_single_layer_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    calls = Calls()
    app = WsgiMiddleware(calls.wsgi, web_config(OUTER), reload=False)
    for _ in range(3):
        assert wsgi_call(app, "GET", {"Origin": OUTER})[0] == 200
    assert not [r for r in caplog.records if r.name == "iiscors"]
