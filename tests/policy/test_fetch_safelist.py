"""The Fetch standard's request side, as the verdict (contract F1) uses it: which headers are
CORS-safelisted (the Content-Type values, the 128-byte value limit, the 1024-byte total), which
a page cannot set, how fetch() normalizes a method, and which requests need a preflight."""

from __future__ import annotations

import pytest

from iiscors.policy.fetch import (
    FetchTypeError,
    browser_request,
    cors_unsafe_request_header_names,
    is_chromium_safelisted_request_header,
    is_cors_safelisted_request_header,
    is_forbidden_request_header,
    normalize_method,
)

SAFELISTED = [
    # (id, name, value, safelisted)
    ("content-type/text-plain", "Content-Type", "text/plain", True),
    ("content-type/text-plain-charset", "Content-Type", "text/plain;charset=UTF-8", True),
    ("content-type/upper-case", "content-type", "TEXT/PLAIN", True),
    ("content-type/form-urlencoded", "Content-Type", "application/x-www-form-urlencoded", True),
    ("content-type/multipart", "Content-Type", "multipart/form-data; boundary=x", True),
    ("content-type/json", "Content-Type", "application/json", False),
    ("content-type/text-html", "Content-Type", "text/html", False),
    ("content-type/quoted-parameter-has-unsafe-byte", "Content-Type",
     'text/plain; charset="utf-8"', False),
    ("content-type/not-a-MIME-type", "Content-Type", "text/plain garbage", False),
    ("content-type/empty", "Content-Type", "", False),
    ("content-type/128-bytes", "Content-Type", "text/plain;x=" + "a" * 115, True),
    ("content-type/129-bytes", "Content-Type", "text/plain;x=" + "a" * 116, False),
    ("accept/any", "Accept", "*/*", True),
    ("accept/128-bytes", "Accept", "a" * 128, True),
    ("accept/129-bytes", "Accept", "a" * 129, False),
    ("accept/unsafe-byte", "Accept", "text/(x)", False),
    ("accept-language/list", "Accept-Language", "en-GB,fr;q=0.8", True),
    ("accept-language/parenthesis", "Accept-Language", "en(GB)", False),
    ("content-language/de", "Content-Language", "de", True),
    ("range/closed", "Range", "bytes=0-99", True),
    ("range/open-end", "Range", "bytes=10-", True),
    ("range/suffix-not-safelisted", "Range", "bytes=-500", False),
    ("range/start-after-end", "Range", "bytes=9-1", False),
    ("range/two-ranges", "Range", "bytes=0-1,3-4", False),
    ("range/whitespace", "Range", "bytes = 0-1", False),
    ("custom-header", "X-Requested-With", "XMLHttpRequest", False),
    ("authorization", "Authorization", "Bearer t", False),
    # Chromium 156 also sends these client hints without a preflight; the standard does not
    # safelist them (docs/behaviour.md F1).
    ("client-hint-dpr", "DPR", "2", False),
]


@pytest.mark.parametrize(("name", "value", "safelisted"), [row[1:] for row in SAFELISTED],
                         ids=[row[0] for row in SAFELISTED])
def test_cors_safelisted_request_header(name: str, value: str, safelisted: bool) -> None:
    assert is_cors_safelisted_request_header(name, value) is safelisted


def test_safelisted_values_over_1024_bytes_make_every_header_unsafe() -> None:
    eight = [("Accept", "a" * 128)] * 8  # each within 128 bytes; 1024 in all
    assert cors_unsafe_request_header_names(eight) == ([], False)
    unsafe, too_large = cors_unsafe_request_header_names([*eight, ("Content-Language", "d")])
    assert (unsafe, too_large) == (["accept", "content-language"], True)
    # Names do not count, only values (Fetch, "CORS-unsafe request-header names").
    assert cors_unsafe_request_header_names([("Accept-Language", "a" * 100)] * 10)[1] is False


def test_unsafe_names_are_lower_cased_sorted_and_unique() -> None:
    names, _ = cors_unsafe_request_header_names(
        [("X-Zeta", "1"), ("x-alpha", "2"), ("X-ALPHA", "3"), ("Accept", "*/*")])
    assert names == ["x-alpha", "x-zeta"]


@pytest.mark.parametrize(("name", "value", "forbidden"), [
    ("Cookie", "a=b", True),
    ("origin", "https://evil.example", True),
    ("Sec-Fetch-Mode", "no-cors", True),
    ("Proxy-Authorization", "x", True),
    ("X-HTTP-Method-Override", "TRACE", True),
    ("x-method-override", "get, track", True),
    ("X-HTTP-Method", "PATCH", False),
    ("X-Requested-With", "x", False),
])
def test_forbidden_request_header(name: str, value: str, forbidden: bool) -> None:
    assert is_forbidden_request_header(name, value) is forbidden


@pytest.mark.parametrize(("typed", "sent"), [
    ("get", "GET"), ("Put", "PUT"), ("delete", "DELETE"), ("options", "OPTIONS"),
    ("patch", "patch"), ("PATCH", "PATCH"), ("PROPFIND", "PROPFIND"),
])
def test_normalize_method(typed: str, sent: str) -> None:
    assert normalize_method(typed) == sent


@pytest.mark.parametrize("method", ["TRACE", "connect", "Track", "GET POST", ""])
def test_fetch_refuses_the_method(method: str) -> None:
    with pytest.raises(FetchTypeError):
        normalize_method(method)


def test_browser_request_drops_forbidden_and_normalizes_values() -> None:
    request = browser_request("post", [("Content-Type", " text/plain \t"), ("Cookie", "a=b"),
                                       ("X-HTTP-Method-Override", "TRACE")])
    assert request.method == "POST" and not request.needs_preflight
    assert request.headers == (("Content-Type", "text/plain"),)
    assert request.dropped == ("Cookie", "X-HTTP-Method-Override")


def test_browser_request_says_why_a_preflight_is_needed() -> None:
    request = browser_request("PUT", [("Content-Type", "application/json"), ("X-A", "1"),
                                      ("x-a", "2")])
    assert request.needs_preflight and request.preflight_headers == "content-type,x-a"
    assert request.unsafe == ("content-type", "x-a")
    assert request.headers == (("Content-Type", "application/json"), ("X-A", "1, 2"))
    assert request.why_preflight[0] == "PUT is not a CORS-safelisted method (GET, HEAD, POST)"


@pytest.mark.parametrize(("name", "value", "chromium"), [
    ("DPR", "2", True), ("dpr", "1.5", True), ("DPR", "2x", False), ("DPR", "1" * 129, False),
    ("Device-Memory", "8", True), ("Viewport-Width", "1024", True), ("Width", "100", True),
    ("Width", "1.5", False), ("Save-Data", "on", True), ("Save-Data", "ON", True),
    ("Save-Data", "off", False), ("Intervention", "anything", True),
    ("Content-Type", "text/plain", True), ("X-A", "1", False),
])
def test_what_chromium_also_safelists(name: str, value: str, chromium: bool) -> None:
    # Observed in Chromium 156 (tests/browser F1 cases); the standard safelists none of them.
    assert is_chromium_safelisted_request_header(name, value) is chromium
    if name.lower() != "content-type":
        assert not is_cors_safelisted_request_header(name, value)


def test_browser_request_counts_chromium_unsafe_names_apart() -> None:
    request = browser_request("GET", [("DPR", "2"), ("X-A", "1")])
    assert request.unsafe == ("dpr", "x-a") and request.chromium_unsafe == ("x-a",)
    assert browser_request("GET", [("DPR", "2")]).chromium_needs_preflight is False
    assert browser_request("PUT", [("DPR", "2")]).chromium_needs_preflight is True
