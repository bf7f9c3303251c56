"""The WSGI adapter's first-letter test of the application's header names (contract B11).

``merging_start_response`` reads each name's first letter (``name[0]``, in a ``try``) to tell
the headers that may need merging (``Vary``, ``Access-Control-*``) from the rest, which are
appended to.  An empty name has no first letter; the server's own ``start_response`` runs
outside that ``try``, so an IndexError of its own is never taken for an empty name.
"""

from __future__ import annotations

from typing import Any

import pytest

from iiscors.wsgi import CorsMiddleware

from support import Recorder, environ_for, web_config

ORIGIN = "https://app.example"
CONFIG = web_config(f'<cors enabled="true"><add origin="{ORIGIN}" /></cors>')
ACAO = ("Access-Control-Allow-Origin", ORIGIN)


def started_with(app_headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers the server's start_response got, the application sending ``app_headers``
    to an allowed origin (the first request and a repeat, which must agree)."""
    middleware = CorsMiddleware(Recorder(headers=app_headers), CONFIG, reload=False)
    seen: list[list[tuple[str, str]]] = []
    for _ in range(2):
        middleware(environ_for("GET", "/", {"Origin": ORIGIN}),
                   lambda status, headers, exc_info=None: seen.append(headers))
    assert seen[0] == seen[1]
    return seen[0]


@pytest.mark.parametrize("app_headers", [
    [("", "odd")],
    [("Content-Type", "text/plain"), ("", "odd")],
    [("", "odd"), ("Content-Type", "text/plain")],
])
def test_an_empty_header_name_is_kept_and_the_cors_headers_added(
        app_headers: list[tuple[str, str]]) -> None:
    headers = started_with(app_headers)
    assert headers[:len(app_headers)] == app_headers
    assert ACAO in headers
    assert ("Vary", "Origin") in headers


@pytest.mark.parametrize("name", ["Vary", "vary", "VARY"])
@pytest.mark.parametrize("empty_first", [False, True])
def test_the_applications_vary_is_merged_beside_an_empty_name(name: str,
                                                             empty_first: bool) -> None:
    # contract B11/B15: one Vary, the application's value and Origin
    vary, empty = (name, "Accept-Encoding"), ("", "odd")
    headers = started_with([empty, vary] if empty_first else [vary, empty, ("X-A", "1")])
    assert [value for key, value in headers if key.lower() == "vary"] == [
        "Accept-Encoding, Origin"]
    assert ("", "odd") in headers and ACAO in headers


def test_plain_names_are_appended_to() -> None:
    app_headers = [("Content-Type", "text/plain"), ("X-Request-Id", "7"), ("a", "1"),
                   ("V", "2")]
    headers = started_with(app_headers)
    assert headers[:4] == app_headers
    assert headers[4:] == [ACAO, ("Vary", "Origin")]


def test_an_index_error_of_the_server_is_not_taken_for_an_empty_name() -> None:
    """The server's start_response is called once; its IndexError reaches the application
    (and then the crash answer), it is never swallowed and retried through the merge."""
    calls: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        calls.append(status)
        if len(calls) == 1:
            raise IndexError("the server's own")

    middleware = CorsMiddleware(Recorder(), CONFIG, reload=False, answer_crashes=False)
    with pytest.raises(IndexError, match="the server's own"):
        middleware(environ_for("GET", "/", {"Origin": ORIGIN}), start_response)
    assert calls == ["200 OK"]
