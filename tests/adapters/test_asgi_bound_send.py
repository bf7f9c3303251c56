"""The ASGI adapter's hot path, round four (issue 17): the ``send`` wrapper is a method bound
to one list per request (no closure cells), and the lean reading reads ``scope["headers"]``
and the ready headers inside one ``try``.

What each new branch must keep:

- **A start message without headers** (ASGI makes them optional) gets the added headers, by
  the general path (:meth:`CorsMiddleware._started`), on a first sight as on a ready repeat.
- **A scope without headers** reads as a request without Origin (contract B2/B15), once the
  lean policy is known as before it.
- **Nothing to add** (a section that is off, without custom headers): a request without Origin,
  or an OPTIONS request that is not a preflight, reaches the application with the server's own
  ``send``, its messages untouched (not copies).
- **The application's own Vary or Access-Control-*** still goes through contract B11's merge,
  and its other headers beginning with A or V (Allow, Age) are kept as they are.
- **A crash** before the start is answered (500 with the CORS headers), after it only raised,
  on a ready repeat as on a first sight (the flag lives in the request's list).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from iiscors.asgi import CorsMiddleware

from support import Req, asgi_scope, call_asgi, web_config

A = "https://a.example"
CONFIG = web_config(f'<cors enabled="true"><add origin="{A}" /></cors>')
OFF = web_config(f'<cors enabled="false"><add origin="{A}" /></cors>')
FROM_A = Req(headers=(("origin", A),))


async def _no_headers_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200})  # ASGI: headers optional
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize("calls", [1, 3])  # a first sight; a ready repeat
def test_a_start_message_without_headers_gets_the_added_ones(calls: int) -> None:
    middleware = CorsMiddleware(_no_headers_app, CONFIG, reload=False)
    answers = [call_asgi(middleware, asgi_scope(FROM_A)) for _ in range(calls)]
    assert answers[-1].get_all("Access-Control-Allow-Origin") == [A]
    assert answers[-1].get_all("Vary") == ["Origin"]


def test_a_scope_without_headers_reads_as_a_request_without_origin() -> None:
    middleware = CorsMiddleware(_no_headers_app, CONFIG, reload=False)
    for _ in range(2):  # the lean policy known, its ready headers kept
        call_asgi(middleware, asgi_scope(FROM_A))
    empty = call_asgi(middleware, asgi_scope(Req()))
    scope = asgi_scope(Req())
    del scope["headers"]
    assert call_asgi(middleware, scope).headers == empty.headers
    assert empty.get_all("Vary") == ["Origin"] and not empty.get_all("Access-Control-Allow-Origin")


def test_with_nothing_to_add_the_application_s_messages_reach_the_server_as_they_are() -> None:
    start = {"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]}
    body = {"type": "http.response.body", "body": b"ok"}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start)
        await send(body)

    middleware = CorsMiddleware(app, OFF, reload=False)
    actual_options = Req(method="OPTIONS", headers=(("origin", A),))  # no A-C-Request-Method
    for request in (FROM_A, FROM_A, Req(), Req(), actual_options, actual_options):
        received: list[Any] = []

        async def server_send(message: Any, received: list[Any] = received) -> None:
            received.append(message)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        asyncio.run(middleware(asgi_scope(request), receive, server_send))
        assert received[0] is start and received[1] is body  # not copies: nothing added
    assert start["headers"] == [(b"x-a", b"1")]


def _app_with(headers: list[tuple[bytes, bytes]]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": b"ok"})
    return app


def test_the_application_s_vary_is_merged_on_a_ready_repeat() -> None:
    middleware = CorsMiddleware(_app_with([(b"vary", b"Accept-Encoding")]), CONFIG,
                                reload=False)
    answers = [call_asgi(middleware, asgi_scope(FROM_A)) for _ in range(3)]
    for answer in answers:  # contract B11: one Vary, the application's value kept
        assert answer.get_all("Vary") == ["Accept-Encoding, Origin"]
        assert answer.get_all("Access-Control-Allow-Origin") == [A]


def test_other_headers_beginning_with_a_or_v_are_kept_as_they_are() -> None:
    sent = [(b"allow", b"GET, PUT"), (b"age", b"3"), (b"via", b"1.1 proxy")]
    middleware = CorsMiddleware(_app_with(sent), CONFIG, reload=False)
    for _ in range(3):
        answer = call_asgi(middleware, asgi_scope(FROM_A))
        assert answer.headers[:3] == [(n.decode(), v.decode()) for n, v in sent]
        assert answer.get_all("Access-Control-Allow-Origin") == [A]


def _crashing(after_start: bool) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if after_start:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("boom")
    return app


@pytest.mark.parametrize("after_start", [False, True])
def test_a_crash_on_a_ready_repeat_is_answered_only_before_the_start(after_start: bool) -> None:
    middleware = CorsMiddleware(_crashing(after_start), CONFIG, reload=False)
    for _ in range(3):  # a first sight, then the repeats that keep and read the ready headers
        received: list[Any] = []

        async def server_send(message: Any, received: list[Any] = received) -> None:
            received.append(message)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        with pytest.raises(RuntimeError, match="boom"):
            asyncio.run(middleware(asgi_scope(FROM_A), receive, server_send))
        starts = [m for m in received if m["type"] == "http.response.start"]
        assert [m["status"] for m in starts] == [200 if after_start else 500]
        assert (b"Access-Control-Allow-Origin", A.encode()) in starts[0]["headers"]


def test_an_origin_in_a_buffer_that_does_not_hash_after_a_ready_one() -> None:
    """A memoryview of 2-byte items cannot be hashed (ValueError, not TypeError): it is read as
    the latin-1 text of its bytes, as the same bytes would be, never looked up."""
    even = "https://ab.example"  # 18 bytes: nine 2-byte items
    middleware = CorsMiddleware(_no_headers_app, web_config(
        f'<cors enabled="true"><add origin="{even}" /></cors>'), reload=False)
    wide = memoryview(even.encode()).cast("H")
    with pytest.raises(ValueError):
        hash(wide)
    ready = [call_asgi(middleware, asgi_scope(Req(headers=(("origin", even),)))).headers
             for _ in range(3)]  # a first sight, then kept and read ready
    scope = asgi_scope(Req())
    scope["headers"] = [*scope["headers"], (b"origin", wide)]
    assert call_asgi(middleware, scope).headers == ready[-1] == ready[0]
    assert (b"Access-Control-Allow-Origin", even.encode()) in [
        (n.encode(), v.encode()) for n, v in ready[-1]]


@pytest.mark.parametrize("error", [TypeError, KeyError, IndexError])
@pytest.mark.parametrize("calls", [1, 3])  # a first sight; a ready repeat
def test_an_error_of_the_servers_own_send_is_never_taken_for_the_message_s(
        error: type[Exception], calls: int) -> None:
    """A server whose send fails at once (a plain function, not a coroutine) sees its own
    error, and the response start is sent to it once, never again through the general case."""
    middleware = CorsMiddleware(_app_with([(b"content-type", b"text/plain")]), CONFIG,
                                reload=False, answer_crashes=False)
    for _ in range(calls - 1):
        call_asgi(middleware, asgi_scope(FROM_A))
    starts: list[Any] = []

    def server_send(message: Any) -> Any:
        if message["type"] == "http.response.start":
            starts.append(message)
            raise error("the server's own")
        raise AssertionError("no body after a failed start")

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    with pytest.raises(error, match="the server's own"):
        asyncio.run(middleware(asgi_scope(FROM_A), receive, server_send))
    assert len(starts) == 1
    assert (b"access-control-allow-origin", A.encode()) in [
        (name.lower(), value) for name, value in starts[0]["headers"]]


@pytest.mark.parametrize("kind", ["generator", "iterator", "tuple", "list"])
def test_the_application_s_headers_in_any_iterable_are_kept(kind: str) -> None:
    """ASGI's headers are an iterable: one given as a generator or iterator is read once,
    every header kept beside the added ones, on a first sight and on ready repeats."""
    pairs = [(b"content-type", b"text/plain"), (b"x-a", b"1")]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers: Any = {"generator": (pair for pair in pairs), "iterator": iter(pairs),
                        "tuple": tuple(pairs), "list": list(pairs)}[kind]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = CorsMiddleware(app, CONFIG, reload=False)
    for _ in range(3):
        answer = call_asgi(middleware, asgi_scope(FROM_A))
        assert answer.get_all("content-type") == ["text/plain"]
        assert answer.get_all("x-a") == ["1"]
        assert answer.get_all("Access-Control-Allow-Origin") == [A]
