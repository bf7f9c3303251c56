"""The header merge (iiscors.policy.merge, contract B11): one merge for text and raw headers.

The WSGI adapter merges text pairs, the ASGI adapter raw byte pairs, through the same
``merge_into`` spelled with ``STR_WORDS`` or ``BYTES_WORDS``.  The text results themselves are
pinned by the middleware tests (``test_middleware.py``, ``merge_headers``); here both forms must
agree.
"""

from __future__ import annotations

import itertools
import logging

import pytest

from iiscors.policy.merge import (
    BYTES_WORDS,
    MERGE_INITIALS,
    MERGE_INITIALS_BYTES,
    STR_WORDS,
    merge_headers,
    merge_into,
    warn_app_cors,
)

APP_SETS: list[list[tuple[str, str]]] = [
    [],
    [("Content-Type", "text/plain")],
    [("Vary", "Accept")],
    [("vary", "accept, ORIGIN")],
    [("VARY", "")],
    [("Vary", "Accept"), ("Vary", "*")],
    [("Vary", "Accept"), ("vary", "Cookie")],
    [("Access-Control-Allow-Origin", "*")],
    [("access-control-expose-headers", "X-A"), ("Vary", "Accept")],
    [("Accept-Ranges", "bytes"), ("Age", "3")],
]
EXTRAS: list[list[tuple[str, str]]] = [
    [],
    [("Vary", "Origin")],
    [("Access-Control-Allow-Origin", "https://a.example"), ("Vary", "Origin"), ("X-Site", "1")],
]


def raw(pairs: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(n.encode("latin-1"), v.encode("latin-1")) for n, v in pairs]


@pytest.mark.parametrize(("app", "extra"), list(itertools.product(APP_SETS, EXTRAS)))
def test_text_and_raw_headers_merge_alike(app: list[tuple[str, str]],
                                          extra: list[tuple[str, str]]) -> None:
    text = merge_into(app, extra, STR_WORDS)
    as_bytes = merge_into(raw(app), raw(extra), BYTES_WORDS)
    assert as_bytes.headers == raw(text.headers)
    assert as_bytes.app_sets_cors is text.app_sets_cors
    assert text.app_sets_cors is any(n.lower().startswith("access-control-") for n, _ in app)
    assert text.headers == merge_headers(app, extra)


def test_the_application_list_is_not_modified() -> None:
    app = [("Vary", "Accept")]
    merged = merge_into(app, [("Vary", "Origin")], STR_WORDS)
    assert merged.headers == [("Vary", "Accept, Origin")]
    assert app == [("Vary", "Accept")]


def test_the_initials_cover_every_name_that_needs_a_merge() -> None:
    """The adapters skip merge_into when no application header name starts with one of these
    letters: that is only right if every such name then merges by appending alone."""
    for name in ("Vary", "vary", "VARY", "Access-Control-Allow-Origin", "access-control-x"):
        assert name[:1] in MERGE_INITIALS
        assert name.encode()[:1] in MERGE_INITIALS_BYTES
        assert bytearray(name.encode())[:1] in MERGE_INITIALS_BYTES  # unhashable, still found
    for name in ("Content-Type", "X-Vary", "Cache-Control", "ETag"):
        app = [(name, "v")]
        extra = [("Vary", "Origin"), ("X-Site", "1")]
        assert name[:1] not in MERGE_INITIALS
        assert merge_headers(app, extra) == [*app, *extra]


def test_warn_app_cors_logs_the_first_cors_name(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="iiscors"):
        assert warn_app_cors(["Content-Type", "access-control-allow-origin", "Vary"]) is True
        assert warn_app_cors(["Content-Type", "Vary"]) is False
    assert [r.getMessage() for r in caplog.records] == [
        "the application sets access-control-allow-origin itself and iiscors adds its own: "
        "browsers reject duplicated CORS headers"]
