"""The ASGI adapter's reading of request headers by one ``dict()`` (issue 17), and its send
wrapper: whatever way a server spells the headers, the answer is the one of lower-case names
sent once, and the application's own messages are never modified.

``request_headers`` takes the server's list as it is only when every name is lower-case and sent
once; anything else (capitals, a repeated name, a bytearray name, a generator, a ``str`` name
from a server that breaks the spec) goes through the slow reading, which joins and lowers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from iiscors.asgi import CorsMiddleware, request_fields, request_headers

CONFIG = (b'<configuration><system.webServer><cors enabled="true" failUnlistedOrigins="true">'
          b'<add origin="https://a.example" allowCredentials="true"/></cors>'
          b"</system.webServer></configuration>")
ORIGIN = b"https://a.example"


def generated() -> Iterator[tuple[bytes, bytes]]:
    yield b"accept", b"*/*"
    yield b"origin", ORIGIN


SPELLINGS: dict[str, Any] = {
    "lower-case": [(b"accept", b"*/*"), (b"origin", ORIGIN)],
    "capitals": [(b"Accept", b"*/*"), (b"ORIGIN", ORIGIN)],
    "bytearray-name": [(bytearray(b"origin"), ORIGIN)],
    "memoryview-value": [(b"origin", memoryview(ORIGIN)), (b"accept", b"*/*")],
    "tuple": ((b"origin", ORIGIN),),
    "str-name-ignored": [("x-broken", "1"), (b"origin", ORIGIN)],
}


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await send(START)
    await send({"type": "http.response.body", "body": b"ok"})


START: dict[str, Any] = {"type": "http.response.start", "status": 200,
                         "headers": [(b"content-type", b"text/plain")]}


def call(headers: Any) -> tuple[int, list[tuple[bytes, bytes]]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    middleware = CorsMiddleware(_app, CONFIG)
    asyncio.run(middleware({"type": "http", "method": "GET", "path": "/", "headers": headers},
                           receive, send))
    return sent[0]["status"], [(bytes(n), bytes(v)) for n, v in sent[0]["headers"]]


@pytest.mark.parametrize("name", SPELLINGS)
def test_every_spelling_is_answered_as_lower_case_names(name: str) -> None:
    assert call(SPELLINGS[name]) == call(SPELLINGS["lower-case"])
    assert (b"Access-Control-Allow-Origin", ORIGIN) in call(SPELLINGS[name])[1]


def test_headers_given_by_a_generator_are_read() -> None:
    assert call(generated()) == call(SPELLINGS["lower-case"])
    assert request_fields({"headers": generated()}) == {"origin": ORIGIN.decode()}


def test_the_servers_list_is_taken_as_it_is_when_it_can_be() -> None:
    headers = [(b"origin", ORIGIN), (b"accept", b"*/*")]
    assert request_headers({"headers": headers}) == dict(headers)


@pytest.mark.parametrize("headers", [
    [(b"origin", ORIGIN), (b"Origin", b"https://b.example")],
    [(b"origin", ORIGIN), (b"origin", b"https://b.example")],
], ids=["two-cases", "twice"])
def test_an_origin_sent_twice_is_joined_never_echoed(headers: list[tuple[bytes, bytes]]) -> None:
    """As WSGI servers join a repeated header: "a, b" is no origin the rules allow (B6)."""
    assert request_fields({"headers": headers}) == {
        "origin": "https://a.example, https://b.example"}
    status, sent = call(headers)
    assert status == 403
    assert not any(name.lower() == b"access-control-allow-origin" for name, _ in sent)


def test_the_applications_message_is_not_modified() -> None:
    before = {**START, "headers": list(START["headers"])}
    status, sent = call(SPELLINGS["lower-case"])
    assert status == 200 and len(sent) > 1
    assert before == START
