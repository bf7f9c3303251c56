"""The ASGI adapter's header reading and writing (issue 17 made both cheaper; nothing changes).

Request headers: one lookup per lower-case name (what ASGI servers send), names in capitals
still found, a name or value that is not ``bytes`` (a bytearray, a memoryview) still read, a
repeated header joined as WSGI servers join it.  Response headers: the prepared latin-1 forms
are exactly the encoded text headers, so the ASGI answer equals the WSGI one.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from iiscors import load_config
from iiscors.asgi import CorsMiddleware, request_fields
from iiscors.policy.compiled import raw

CONFIG = (b'<configuration><system.webServer><cors enabled="true">'
          b'<add origin="https://a.example" allowCredentials="true">'
          b'<exposeHeaders><add header="X-Total"/></exposeHeaders></add><add origin="*"/></cors>'
          b'<httpProtocol><customHeaders><add name="X-Site" value="caf\xc3\xa9"/>'
          b"</customHeaders></httpProtocol></system.webServer></configuration>")


@pytest.mark.parametrize("headers", [
    [(b"origin", b"https://a.example"), (b"host", b"h"), (b"accept", b"*/*")],
    [(b"Origin", b"https://a.example"), (b"HOST", b"h"), (b"Accept", b"*/*")],
    [(bytearray(b"origin"), bytearray(b"https://a.example")), (memoryview(b"host"), b"h")],
])
def test_the_request_fields_are_found_however_the_server_spells_them(
        headers: list[tuple[Any, Any]]) -> None:
    assert request_fields({"headers": headers}) == {"origin": "https://a.example", "host": "h"}


def test_a_repeated_header_is_joined_and_values_are_latin_1() -> None:
    fields = request_fields({"headers": [
        (b"access-control-request-headers", b"x-a"), (b"access-control-request-headers", b"x-b"),
        (b"origin", "https://caf\u00e9.example".encode("latin-1"))]})
    assert fields == {"request_headers": "x-a, x-b", "origin": "https://caf\u00e9.example"}


def test_the_prepared_bytes_are_the_encoded_headers() -> None:
    scope = load_config(CONFIG).policy.root
    assert scope.passive_raw == raw(scope.passive)
    assert (b"X-Site", "café".encode("latin-1")) in scope.passive_raw
    assert scope._compiled
    for compiled in scope._compiled:
        assert compiled.actual_tail_raw == raw(compiled.actual_tail)


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _call(middleware: CorsMiddleware, origin: bytes | None) -> list[tuple[bytes, bytes]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    headers = [] if origin is None else [(b"origin", origin)]
    asyncio.run(middleware({"type": "http", "method": "GET", "path": "/", "headers": headers},
                           receive, send))
    result: list[tuple[bytes, bytes]] = sent[0]["headers"]
    return result


@pytest.mark.parametrize("origin", [b"https://a.example", b"https://other.example", None])
def test_first_sight_and_repeat_send_the_same_bytes(origin: bytes | None) -> None:
    middleware = CorsMiddleware(_app, CONFIG)
    first, repeat = _call(middleware, origin), _call(middleware, origin)
    assert first == repeat
    assert (b"X-Site", "café".encode("latin-1")) in first
    if origin == b"https://a.example":
        assert first[1:4] == [(b"Access-Control-Allow-Origin", origin),
                              (b"Access-Control-Allow-Credentials", b"true"),
                              (b"Access-Control-Expose-Headers", b"X-Total")]
    elif origin is not None:
        assert (b"Access-Control-Allow-Origin", origin) in first  # "*" echoes (B10)


def test_the_static_star_is_sent_as_star_first_and_repeated() -> None:
    star = CONFIG.replace(b'<add origin="https://a.example" allowCredentials="true">'
                          b'<exposeHeaders><add header="X-Total"/></exposeHeaders></add>', b"")
    middleware = CorsMiddleware(_app, star)
    for origin in (b"https://a.example", b"https://a.example", b"https://b.example"):
        sent = _call(middleware, origin)
        assert sent[1] == (b"Access-Control-Allow-Origin", b"*")  # contract B10
        assert not any(name == b"Vary" for name, _ in sent)  # nothing varies on Origin
