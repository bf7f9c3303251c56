"""Hypothesis properties of the loader and the middleware (issue 7; contract A2, A7, A8, B6, B14).

- Loader: arbitrary bytes, XML-ish token soup and mutated real web.config files never raise
  anything but ``ConfigError``; ``check_config`` never raises; the two agree (errors in one iff
  the other raises); every diagnostic is located (file set).
- Middleware: arbitrary header values never produce a 5xx, an invalid header, a false allow,
  an echoed value with a control character, space or comma, or two Allow-Origin values.

Runtime is kept modest (``max_examples`` about 200, no deadline).  For a longer exploration set
``HYPOTHESIS_PROFILE=long`` (2,000 examples each).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from _strict import (
    RecordingApp,
    call_wsgi,
    invariant_violations,
    may_be_allowed,
    strict_config,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iiscors import Config, ConfigError, CorsMiddleware, Diagnostic, check_config, load_config

from support import CORPUS as CORPUS_DIR

# "hardening" (default): derandomized, so a CI run is reproducible and never flaky; "long":
# random and ten times larger, for exploration (HYPOTHESIS_PROFILE=long).
settings.register_profile(
    "hardening",
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long", parent=settings.get_profile("hardening"), max_examples=2000, derandomize=False
)
PROFILE = settings.get_profile(
    "long" if os.environ.get("HYPOTHESIS_PROFILE") == "long" else "hardening"
)

# CI has the shared reference material beside the clone: <clone>/../shared/corpus/webconfigs
CORPUS = sorted(CORPUS_DIR.glob("*.config")) if CORPUS_DIR.is_dir() else []
CORPUS_BYTES = [p.read_bytes() for p in CORPUS]


def _check_loader(data: bytes) -> None:
    diagnostics = check_config(data, name="fuzz/web.config")
    assert isinstance(diagnostics, list)
    for diag in diagnostics:
        assert isinstance(diag, Diagnostic)
        assert diag.file == "fuzz/web.config"
        assert re.fullmatch(r"[EWN]\d{3}", diag.code), diag  # C3: notes too
        assert diag.message
    has_errors = any(d.severity == "error" for d in diagnostics)
    try:
        config = load_config(data, name="fuzz/web.config")
    except ConfigError as exc:
        assert has_errors, f"load_config raised but check_config found no error: {exc}"
        assert exc.diagnostics
        return
    assert not has_errors, f"check_config found errors but load_config succeeded: {diagnostics}"
    assert isinstance(config, Config)


# --- loader over arbitrary input ---------------------------------------------------------------


@PROFILE
@given(st.binary(max_size=4096))
def test_loader_arbitrary_bytes(data: bytes) -> None:
    _check_loader(data)


_XML_TOKENS = [
    '<?xml version="1.0"?>',
    '<?xml version="1.0" encoding="utf-16"?>',
    "<configuration>",
    "</configuration>",
    "<system.webServer>",
    "</system.webServer>",
    '<cors enabled="true">',
    '<cors enabled="TRUE" failUnlistedOrigins="true">',
    "</cors>",
    "<cors/>",
    '<add origin="*"/>',
    '<add origin="https://*.contoso.com" allowCredentials="true">',
    "</add>",
    '<add origin="null"/>',
    '<remove origin="*"/>',
    "<clear/>",
    "<allowHeaders>",
    '<allowHeaders allowAllRequestedHeaders="true">',
    "</allowHeaders>",
    '<add header="x"/>',
    "<allowMethods>",
    "</allowMethods>",
    '<add method="GET"/>',
    "<exposeHeaders>",
    "</exposeHeaders>",
    '<location path="api">',
    '<location path=".">',
    "</location>",
    "<httpProtocol><customHeaders>",
    '<add name="Access-Control-Allow-Origin" value="*"/>',
    "</customHeaders></httpProtocol>",
    '<modules><remove name="CorsModule"/></modules>',
    "<!-- c -->",
    "<![CDATA[x]]>",
    "&amp;",
    "&#10;",
    "&#0;",
    "&xxe;",
    "<!DOCTYPE x>",
    "\ufeff",
    " ",
    "\n",
    "\t",
    "\x00",
    '"',
    "'",
    "<",
    ">",
    "=",
    'maxAge="-1"',
    'maxAge="2147483648"',
    'allowed="false"',
    "\u00e9",
    "\U0001f510",
]


@PROFILE
@given(st.lists(st.sampled_from(_XML_TOKENS), max_size=40), st.sampled_from(["utf-8", "utf-16"]))
def test_loader_token_soup(tokens: list[str], encoding: str) -> None:
    text = "".join(tokens)
    data = text.encode("utf-8", "surrogatepass")
    if encoding == "utf-16":
        data = b"\xff\xfe" + text.encode("utf-16-le", "surrogatepass")
    _check_loader(data)


@st.composite
def _mutated_corpus_file(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(CORPUS_BYTES)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "token", "truncate"]))
        pos = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            pos = min(pos, len(data) - 1)
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "duplicate":
            chunk = data[pos : pos + draw(st.integers(1, 256))]
            data[pos:pos] = chunk
        elif op == "token":
            data[pos:pos] = draw(st.sampled_from(_XML_TOKENS)).encode("utf-8", "surrogatepass")
        elif op == "truncate":
            del data[pos:]
    return bytes(data)


@pytest.mark.skipif(not CORPUS, reason=f"corpus not found at {CORPUS_DIR}")
@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_corpus_file_as_is(path: Path) -> None:
    """The real files themselves, broken ones included (corpus README): never a crash."""
    _check_loader(path.read_bytes())


@pytest.mark.skipif(not CORPUS, reason=f"corpus not found at {CORPUS_DIR}")
@PROFILE
@given(st.data())
def test_loader_mutated_corpus(data: st.DataObject) -> None:
    _check_loader(data.draw(_mutated_corpus_file()))


# --- middleware over arbitrary header values ---------------------------------------------------

_APPS: dict[bool, tuple[Any, RecordingApp]] = {}


def _strict_app(fail_unlisted: bool) -> tuple[Any, RecordingApp]:
    if fail_unlisted not in _APPS:
        recorder = RecordingApp()
        _APPS[fail_unlisted] = (CorsMiddleware(recorder, strict_config(fail_unlisted)), recorder)
    return _APPS[fail_unlisted]


_LATIN1 = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=80)
_LABEL = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)
_ORIGIN_PARTS = st.lists(
    st.sampled_from(
        [
            "https://",
            "http://",
            "HTTPS://",
            "app",
            ".",
            "contoso",
            ".com",
            ".contoso.com",
            "evil",
            ".example",
            "@",
            ":",
            "443",
            "8443",
            "1",
            "65535",
            "123456",
            "/",
            "?",
            "#",
            "\\",
            "%",
            "*",
            ",",
            " ",
            "\t",
            "\r",
            "\n",
            "\x00",
            "\x0b",
            "null",
            "blocked",
            "xn--",
            "-",
            "_",
            "\xe9",
            "[::1]",
            "127.0.0.1",
        ]
    ),
    max_size=12,
).map("".join)


@st.composite
def _near_miss(draw: st.DrawFn) -> str:
    """A valid allowed origin with one character changed, inserted or deleted."""
    labels = draw(st.lists(_LABEL, min_size=1, max_size=3))
    origin = "https://" + ".".join(labels) + ".contoso.com"
    pos = draw(st.integers(0, len(origin)))
    op = draw(st.sampled_from(["insert", "replace", "delete"]))
    char = draw(st.characters(min_codepoint=0, max_codepoint=255))
    if op == "insert":
        return origin[:pos] + char + origin[pos:]
    if op == "replace":
        return origin[:pos] + char + origin[pos + 1 :]
    return origin[:pos] + origin[pos + 1 :]


_SUBDOMAIN = st.lists(_LABEL, min_size=1, max_size=3).map(
    lambda labels: "https://" + ".".join(labels) + ".contoso.com")
#: a port of every length from 1 to 6 digits (the wildcard rule has none, B5; six digits make
#: the value not an origin at all, B6)
_PORT = st.integers(1, 6).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n))


@st.composite
def _long_subdomain(draw: st.DrawFn) -> str:
    """An allowed-looking subdomain of about 2,048 characters, on both sides of B6's bound (most
    within 3 of it)."""
    length = draw(st.one_of(st.integers(2045, 2051), st.integers(2000, 2100)))
    labels = draw(st.lists(_LABEL, min_size=0, max_size=2))
    tail = "".join(label + "." for label in labels) + "contoso.com"
    return "https://" + "a" * max(1, length - len("https://.") - len(tail)) + "." + tail


_ORIGINS = st.one_of(
    _LATIN1,
    _ORIGIN_PARTS,
    _near_miss(),
    _long_subdomain(),
    st.builds(lambda o, p: f"{o}:{p}", _SUBDOMAIN, _PORT),        # never allowed: a port
    st.builds(lambda o, p: o + p, _SUBDOMAIN, st.sampled_from([".", ".:443"])),  # trailing dot
)
_HEADER_VALUES = st.one_of(st.none(), _LATIN1, _ORIGIN_PARTS)


@PROFILE
@given(
    fail_unlisted=st.booleans(),
    method=st.sampled_from(["GET", "POST", "OPTIONS", "PUT", "HEAD", "DELETE"]),
    origin=st.one_of(st.none(), _ORIGINS),
    request_method=_HEADER_VALUES,
    request_headers=_HEADER_VALUES,
)
def test_middleware_arbitrary_headers(
    fail_unlisted: bool,
    method: str,
    origin: str | None,
    request_method: str | None,
    request_headers: str | None,
) -> None:
    app, recorder = _strict_app(fail_unlisted)
    headers = {
        name: value
        for name, value in (
            ("Origin", origin),
            ("Access-Control-Request-Method", request_method),
            ("Access-Control-Request-Headers", request_headers),
        )
        if value is not None
    }
    resp = call_wsgi(app, recorder, method, headers)
    assert invariant_violations(resp, origin) == []
    if origin is None:
        assert resp.cors_headers() == []  # B2


@PROFILE
@given(origin=_long_subdomain(), fail_unlisted=st.booleans())
def test_a_subdomain_is_allowed_up_to_2048_bytes_and_not_past(origin: str,
                                                              fail_unlisted: bool) -> None:
    """B6's bound from both sides: no false denial at 2,048 bytes, no allow past them."""
    app, recorder = _strict_app(fail_unlisted)
    resp = call_wsgi(app, recorder, "GET", {"Origin": origin})
    allowed = resp.get("Access-Control-Allow-Origin") == origin
    assert allowed is (len(origin) <= 2048), len(origin)
    assert resp.status == (403 if fail_unlisted and not allowed else 200)
    assert invariant_violations(resp, origin) == []


@PROFILE
@given(labels=st.lists(_LABEL, min_size=1, max_size=4), fail_unlisted=st.booleans())
def test_every_serialized_subdomain_is_allowed(labels: list[str], fail_unlisted: bool) -> None:
    """The other direction (B5/B6): no false denial of a well-formed subdomain origin."""
    origin = "https://" + ".".join(labels) + ".contoso.com"
    app, recorder = _strict_app(fail_unlisted)
    resp = call_wsgi(app, recorder, "GET", {"Origin": origin})
    if origin == "https://blocked.contoso.com":
        return
    assert may_be_allowed(origin)
    assert resp.get("Access-Control-Allow-Origin") == origin
    assert invariant_violations(resp, origin) == []
