"""Authentication order (reference §5.1): the CORS middleware runs before an authentication
layer inside it that answers 401 to anything without credentials, as Windows authentication
does on IIS.  Preflights get 204 with CORS headers (the browser never sends credentials on a
preflight), actual requests get the layer's 401 *with* CORS headers (so script can read it),
and the failUnlistedOrigins 403 is decided before the layer runs.  Both adapters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from support import ADAPTERS, Adapter, Req, web_config

CONFIG = web_config(
    '<cors enabled="true" failUnlistedOrigins="true">'
    '<add origin="https://app.example" allowCredentials="true">'
    '<allowMethods><add method="PUT"/></allowMethods>'
    '<allowHeaders><add header="Authorization"/></allowHeaders></add></cors>')
APP = ("Origin", "https://app.example")


class Auth:
    """Records every request it sees; 401 + WWW-Authenticate without Authorization."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.seen.append(environ["REQUEST_METHOD"])
        if "HTTP_AUTHORIZATION" not in environ:
            start_response("401 Unauthorized", [("WWW-Authenticate", "Negotiate"),
                                                ("Content-Length", "0")])
            return [b""]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"secret data"]

    async def asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.seen.append(scope["method"])
        authorized = any(name.lower() == b"authorization" for name, _ in scope["headers"])
        status, headers, body = ((200, [(b"content-type", b"text/plain")], b"secret data")
                                 if authorized else
                                 (401, [(b"www-authenticate", b"Negotiate")], b""))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def build(adapter: Adapter) -> tuple[Any, Auth]:
    auth = Auth()
    return adapter.middleware(auth.wsgi if adapter.name == "wsgi" else auth.asgi, CONFIG), auth


def call(adapter: Adapter, middleware: Any, req: Req) -> tuple[int, dict[str, str], bytes]:
    response = adapter.run(middleware, req)
    return response.status, {n.lower(): v for n, v in response.headers}, response.body


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_preflight_is_answered_before_authentication(adapter: Adapter) -> None:
    middleware, auth = build(adapter)
    status, headers, _ = call(adapter, middleware, Req("OPTIONS", headers=(
        APP, ("Access-Control-Request-Method", "PUT"),
        ("Access-Control-Request-Headers", "authorization"))))
    assert status == 204
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-allow-credentials"] == "true"
    assert headers["access-control-allow-headers"] == "Authorization"
    assert auth.seen == []


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_actual_request_gets_the_401_with_cors_headers(adapter: Adapter) -> None:
    middleware, auth = build(adapter)
    status, headers, _ = call(adapter, middleware, Req("PUT", headers=(APP,)))
    assert status == 401
    assert headers["www-authenticate"] == "Negotiate"
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-allow-credentials"] == "true"
    assert headers["vary"] == "Origin"
    status, headers, body = call(adapter, middleware, Req("PUT", headers=(
        APP, ("Authorization", "Negotiate abc"))))
    assert (status, body) == (200, b"secret data")
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert auth.seen == ["PUT", "PUT"]


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("method", ["GET", "OPTIONS"])
def test_the_403_never_reaches_authentication(adapter: Adapter, method: str) -> None:
    middleware, auth = build(adapter)
    extra = (("Access-Control-Request-Method", "PUT"),) if method == "OPTIONS" else ()
    for credentials in ((), (("Authorization", "Negotiate abc"),)):
        status, headers, body = call(adapter, middleware, Req(method, headers=(
            ("Origin", "https://evil.example"), *extra, *credentials)))
        assert status == 403
        assert "www-authenticate" not in headers
        assert "access-control-allow-origin" not in headers
        assert b"secret" not in body
    assert auth.seen == []

