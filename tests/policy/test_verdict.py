"""Contract F1: the browser's verdict, a table of decision + request → verdict.

Each row is the request as the page makes it (method, headers, credentials mode), the headers
and status the preflight and the actual request get (as :class:`Decision` objects, the form
iiscors hands them over in), and the check that must fail, by Chromium's name and with the
value its console names. The Fetch standard's section for each check is cited in
``iiscors/policy/verdict.py``; the rows cover every check F1 lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from iiscors.policy.core import Decision, Outcome, Reason, RequestKind
from iiscors.policy.fetch import browser_request, request_from_preflight
from iiscors.policy.verdict import (
    MESSAGES,
    Check,
    Stage,
    flow,
    is_same_origin,
    judge,
    refused,
)

ORIGIN = "https://app.example"
ACAO = "Access-Control-Allow-Origin"
ACAC = "Access-Control-Allow-Credentials"
ACAM = "Access-Control-Allow-Methods"
ACAH = "Access-Control-Allow-Headers"
Headers = tuple[tuple[str, str], ...]


def middleware(status: int | None, *headers: tuple[str, str],
               kind: RequestKind = RequestKind.PREFLIGHT) -> Decision:
    """A decision whose response the middleware gives (204/403) or the app (None)."""
    outcome = Outcome.ALLOWED if status in (204, None) else Outcome.DENIED
    return Decision(kind, outcome, status, tuple(headers), None, Reason.PREFLIGHT_ALLOWED,
                    ORIGIN)


def preflight(*headers: tuple[str, str]) -> Decision:
    return middleware(204, *headers)


def actual(*headers: tuple[str, str]) -> Decision:
    return middleware(None, *headers, kind=RequestKind.ACTUAL)


OK_ACTUAL = actual((ACAO, ORIGIN))


@dataclass(frozen=True)
class Row:
    id: str
    preflight: Decision | None
    actual: Decision
    check: Check | None
    parameter: str = ""
    method: str = "GET"
    headers: Headers = ()
    credentials: str = "same-origin"
    origin: str = ORIGIN
    app_status: int = 200
    chromium_allows: bool | None = None  # None: Chromium 156 agrees with the standard
    preflight_needed: bool | None = field(default=None)


ROWS = [
    # -- the CORS check on a simple request ------------------------------------------------
    Row("simple-GET/ACAO-is-the-origin/allowed", None, OK_ACTUAL, None),
    Row("simple-GET/no-ACAO/MissingAllowOriginHeader", None, actual(("Vary", "Origin")),
        Check.MISSING_ALLOW_ORIGIN),
    Row("simple-GET/403-from-failUnlistedOrigins/MissingAllowOriginHeader", None,
        middleware(403, ("Vary", "Origin"), kind=RequestKind.ACTUAL),
        Check.MISSING_ALLOW_ORIGIN),
    Row("simple-GET/star/omit/allowed", None, actual((ACAO, "*")), None, credentials="omit"),
    Row("simple-GET/star/same-origin-mode/allowed", None, actual((ACAO, "*")), None),
    Row("simple-GET/star/include/WildcardOriginNotAllowed", None,
        actual((ACAO, "*"), (ACAC, "true")), Check.WILDCARD_ORIGIN, credentials="include"),
    Row("simple-GET/other-origin/AllowOriginMismatch", None,
        actual((ACAO, "https://other.example")), Check.ALLOW_ORIGIN_MISMATCH,
        "https://other.example"),
    Row("simple-GET/ACAO-upper-case/byte-exact-mismatch", None,
        actual((ACAO, "HTTPS://APP.EXAMPLE")), Check.ALLOW_ORIGIN_MISMATCH,
        "HTTPS://APP.EXAMPLE"),
    Row("simple-GET/ACAO-trailing-slash/mismatch", None, actual((ACAO, ORIGIN + "/")),
        Check.ALLOW_ORIGIN_MISMATCH, ORIGIN + "/"),
    Row("simple-GET/ACAO-not-a-URL/InvalidAllowOriginValue", None,
        actual((ACAO, "app.example")), Check.INVALID_ALLOW_ORIGIN, "app.example"),
    Row("simple-GET/ACAO-empty/InvalidAllowOriginValue", None, actual((ACAO, "")),
        Check.INVALID_ALLOW_ORIGIN, ""),
    Row("simple-GET/ACAO-surrounded-by-spaces/normalized-allowed", None,
        actual((ACAO, f" {ORIGIN}\t")), None),
    Row("opaque-origin/ACAO-null/allowed", None, actual((ACAO, "null")), None, origin="null"),
    Row("simple-GET/ACAO-null-for-a-real-origin/mismatch", None, actual((ACAO, "null")),
        Check.ALLOW_ORIGIN_MISMATCH, "null"),
    # -- duplicates: customHeaders beside <cors> (contract C1) -----------------------------
    Row("duplicate-ACAO/cors-and-customHeaders-star/MultipleAllowOriginValues", None,
        actual((ACAO, ORIGIN), ("Vary", "Origin"), (ACAO, "*")),
        Check.MULTIPLE_ALLOW_ORIGIN, f"{ORIGIN}, *"),
    Row("duplicate-ACAO/same-value-twice/still-two-values", None,
        actual((ACAO, ORIGIN), (ACAO, ORIGIN)), Check.MULTIPLE_ALLOW_ORIGIN,
        f"{ORIGIN}, {ORIGIN}"),
    Row("duplicate-ACAO/star-twice/not-a-star", None, actual((ACAO, "*"), (ACAO, "*")),
        Check.MULTIPLE_ALLOW_ORIGIN, "*, *"),
    Row("ACAO-list-in-one-header/MultipleAllowOriginValues", None,
        actual((ACAO, f"{ORIGIN},https://b.example")), Check.MULTIPLE_ALLOW_ORIGIN,
        f"{ORIGIN},https://b.example"),
    Row("duplicate-ACAO/preflight/PreflightMultipleAllowOriginValues",
        preflight((ACAO, ORIGIN), (ACAM, "PUT"), (ACAO, "*")), OK_ACTUAL,
        Check.PREFLIGHT_MULTIPLE_ALLOW_ORIGIN, f"{ORIGIN}, *", method="PUT"),
    # -- credentials ---------------------------------------------------------------------
    Row("include/ACAC-true/allowed", None, actual((ACAO, ORIGIN), (ACAC, "true")), None,
        credentials="include"),
    Row("include/no-ACAC/InvalidAllowCredentials", None, OK_ACTUAL,
        Check.INVALID_ALLOW_CREDENTIALS, "", credentials="include"),
    Row("include/ACAC-True/case-sensitive", None, actual((ACAO, ORIGIN), (ACAC, "True")),
        Check.INVALID_ALLOW_CREDENTIALS, "True", credentials="include"),
    Row("include/ACAC-twice/not-true", None,
        actual((ACAO, ORIGIN), (ACAC, "true"), (ACAC, "true")),
        Check.INVALID_ALLOW_CREDENTIALS, "true, true", credentials="include"),
    Row("omit/no-ACAC/allowed", None, OK_ACTUAL, None, credentials="omit"),
    Row("same-origin-mode/no-ACAC/allowed", None, OK_ACTUAL, None),
    # -- the preflight: its own CORS check and status ------------------------------------
    Row("preflight/403/PreflightMissingAllowOriginHeader",
        middleware(403, ("Vary", "Origin")), OK_ACTUAL,
        Check.PREFLIGHT_MISSING_ALLOW_ORIGIN, method="PUT"),
    Row("preflight/star-with-include/PreflightWildcardOriginNotAllowed",
        preflight((ACAO, "*"), (ACAC, "true"), (ACAM, "PUT")), OK_ACTUAL,
        Check.PREFLIGHT_WILDCARD_ORIGIN, method="PUT", credentials="include"),
    Row("preflight/include-without-ACAC/PreflightInvalidAllowCredentials",
        preflight((ACAO, ORIGIN), (ACAM, "PUT")), OK_ACTUAL,
        Check.PREFLIGHT_INVALID_ALLOW_CREDENTIALS, "", method="PUT", credentials="include"),
    Row("preflight/other-origin/PreflightAllowOriginMismatch",
        preflight((ACAO, "https://x.example"), (ACAM, "PUT")), OK_ACTUAL,
        Check.PREFLIGHT_ALLOW_ORIGIN_MISMATCH, "https://x.example", method="PUT"),
    Row("preflight/app-answers-404/PreflightInvalidStatus",
        middleware(None, (ACAO, "*"), (ACAM, "PUT")), actual((ACAO, "*")),
        Check.PREFLIGHT_INVALID_STATUS, method="PUT", app_status=404),
    Row("preflight/app-answers-200/ok-status-allowed",
        middleware(None, (ACAO, "*"), (ACAM, "PUT")), actual((ACAO, "*")), None,
        method="PUT", app_status=200),
    Row("preflight/app-answers-299/ok-status-allowed",
        middleware(None, (ACAO, "*"), (ACAM, "PUT")), actual((ACAO, "*")), None,
        method="PUT", app_status=299),
    Row("preflight/no-ACAO-and-bad-status/origin-checked-first",
        middleware(None, ("Vary", "Origin")), OK_ACTUAL,
        Check.PREFLIGHT_MISSING_ALLOW_ORIGIN, method="PUT", app_status=401),
    # -- the preflight: the method (B8: IIS answers 204 whatever it is) -------------------
    Row("preflight/PUT-not-listed/MethodDisallowedByPreflightResponse",
        preflight((ACAO, ORIGIN), (ACAM, "GET,HEAD")), OK_ACTUAL,
        Check.METHOD_DISALLOWED, "PUT", method="PUT"),
    Row("preflight/no-Allow-Methods/MethodDisallowed", preflight((ACAO, ORIGIN)), OK_ACTUAL,
        Check.METHOD_DISALLOWED, "DELETE", method="delete"),
    Row("preflight/PUT-listed/allowed", preflight((ACAO, ORIGIN), (ACAM, "GET, PUT")),
        OK_ACTUAL, None, method="PUT"),
    Row("preflight/put-listed-lower-case/byte-exact-blocked",
        preflight((ACAO, ORIGIN), (ACAM, "put")), OK_ACTUAL, Check.METHOD_DISALLOWED, "PUT",
        method="put"),
    Row("preflight/patch-sent-as-typed/PATCH-listed/blocked",
        preflight((ACAO, ORIGIN), (ACAM, "PATCH")), OK_ACTUAL, Check.METHOD_DISALLOWED,
        "patch", method="patch"),
    Row("preflight/patch-listed-as-patch/allowed", preflight((ACAO, ORIGIN), (ACAM, "patch")),
        OK_ACTUAL, None, method="patch"),
    Row("preflight/methods-star/without-credentials/allowed",
        preflight((ACAO, ORIGIN), (ACAM, "*")), OK_ACTUAL, None, method="PUT"),
    Row("preflight/methods-star/include/blocked",
        preflight((ACAO, ORIGIN), (ACAC, "true"), (ACAM, "*")),
        actual((ACAO, ORIGIN), (ACAC, "true")), Check.METHOD_DISALLOWED, "PUT", method="PUT",
        credentials="include"),
    Row("preflight/safelisted-POST-needs-no-listing", preflight((ACAO, ORIGIN), (ACAH, "x-a")),
        OK_ACTUAL, None, method="POST", headers=(("X-A", "1"),), preflight_needed=True),
    Row("preflight/Allow-Methods-not-a-list/InvalidAllowMethodsPreflightResponse",
        preflight((ACAO, ORIGIN), (ACAM, "PUT;x")), OK_ACTUAL, Check.INVALID_ALLOW_METHODS,
        method="PUT"),
    # -- the preflight: the headers ------------------------------------------------------
    Row("preflight/x-foo-not-listed/HeaderDisallowedByPreflightResponse",
        preflight((ACAO, ORIGIN)), OK_ACTUAL, Check.HEADER_DISALLOWED, "x-foo",
        headers=(("X-Foo", "1"),)),
    Row("preflight/listed-other-case/allowed", preflight((ACAO, ORIGIN), (ACAH, "X-FOO")),
        OK_ACTUAL, None, headers=(("x-foo", "1"),)),
    Row("preflight/two-missing/first-in-sorted-order",
        preflight((ACAO, ORIGIN), (ACAH, "x-c")), OK_ACTUAL, Check.HEADER_DISALLOWED, "x-a",
        headers=(("X-B", "1"), ("X-A", "1"), ("X-C", "1"))),
    Row("preflight/first-listed-second-not/the-second-is-named",
        preflight((ACAO, ORIGIN), (ACAH, "x-a")), OK_ACTUAL, Check.HEADER_DISALLOWED, "x-b",
        headers=(("X-A", "1"), ("X-B", "1"))),
    Row("preflight/empty-list-items-skipped/allowed",
        preflight((ACAO, ORIGIN), (ACAH, "x-a,,x-b")), OK_ACTUAL, None,
        headers=(("X-B", "1"), ("X-A", "1"))),
    Row("preflight/headers-star/without-credentials/allowed",
        preflight((ACAO, ORIGIN), (ACAH, "*")), OK_ACTUAL, None, headers=(("X-Foo", "1"),)),
    Row("preflight/headers-star/include/literal/blocked",
        preflight((ACAO, ORIGIN), (ACAC, "true"), (ACAH, "*")),
        actual((ACAO, ORIGIN), (ACAC, "true")), Check.HEADER_DISALLOWED, "x-foo",
        headers=(("X-Foo", "1"),), credentials="include"),
    Row("preflight/headers-star/never-covers-Authorization",
        preflight((ACAO, ORIGIN), (ACAH, "*")), OK_ACTUAL, Check.HEADER_DISALLOWED,
        "authorization", headers=(("Authorization", "Bearer t"),), chromium_allows=True),
    Row("preflight/headers-star-and-Authorization-listed/allowed",
        preflight((ACAO, ORIGIN), (ACAH, "*, Authorization")), OK_ACTUAL, None,
        headers=(("Authorization", "Bearer t"), ("X-Foo", "1"))),
    Row("preflight/Authorization-listed/allowed",
        preflight((ACAO, ORIGIN), (ACAH, "authorization")), OK_ACTUAL, None,
        headers=(("Authorization", "Bearer t"),)),
    Row("preflight/JSON-content-type-not-listed/blocked", preflight((ACAO, ORIGIN)),
        OK_ACTUAL, Check.HEADER_DISALLOWED, "content-type", method="POST",
        headers=(("Content-Type", "application/json"),)),
    Row("preflight/Allow-Headers-not-a-list/InvalidAllowHeadersPreflightResponse",
        preflight((ACAO, ORIGIN), (ACAH, "x a")), OK_ACTUAL, Check.INVALID_ALLOW_HEADERS,
        headers=(("X-A", "1"),)),
    # -- Chromium 156 sends a few client hints without a preflight (not the standard) -----
    Row("client-hint/DPR/standard-preflights/Chromium-does-not",
        preflight((ACAO, ORIGIN)), OK_ACTUAL, Check.HEADER_DISALLOWED, "dpr",
        headers=(("DPR", "2"),), chromium_allows=True),
    Row("client-hint/Save-Data-on-and-x-a/Chromium-still-asks-about-x-a",
        preflight((ACAO, ORIGIN), (ACAH, "x-a")), OK_ACTUAL, Check.HEADER_DISALLOWED,
        "save-data", headers=(("Save-Data", "on"), ("X-A", "1")), chromium_allows=True),
    Row("client-hint/DPR-not-a-number/both-preflight-and-block",
        preflight((ACAO, ORIGIN)), OK_ACTUAL, Check.HEADER_DISALLOWED, "dpr",
        headers=(("DPR", "2x"),)),
    # -- after a good preflight, the actual response is checked too ----------------------
    Row("preflight-ok/actual-without-ACAO/MissingAllowOriginHeader",
        preflight((ACAO, ORIGIN), (ACAM, "PUT")), actual(("Vary", "Origin")),
        Check.MISSING_ALLOW_ORIGIN, method="PUT"),
    Row("preflight-ok/actual-include-without-ACAC/InvalidAllowCredentials",
        preflight((ACAO, ORIGIN), (ACAC, "true"), (ACAM, "PUT")), OK_ACTUAL,
        Check.INVALID_ALLOW_CREDENTIALS, "", method="PUT", credentials="include"),
    # -- safelisted requests need no preflight at all ------------------------------------
    Row("no-preflight/text-plain-POST/allowed", None, OK_ACTUAL, None, method="POST",
        headers=(("Content-Type", "text/plain;charset=UTF-8"),), preflight_needed=False),
    Row("no-preflight/form-POST-upper-case/allowed", None, OK_ACTUAL, None, method="POST",
        headers=(("content-type", "MULTIPART/FORM-DATA; boundary=x"),),
        preflight_needed=False),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_verdict(row: Row) -> None:
    request = browser_request(row.method, row.headers)
    if row.preflight_needed is not None:
        assert request.needs_preflight is row.preflight_needed
    assert request.needs_preflight is (row.preflight is not None), "the row's preflight"
    verdict = judge(request, row.origin, row.credentials, row.preflight, row.actual,
                    app_status=row.app_status)
    if row.check is None:
        assert verdict.allowed and verdict.failure is None and verdict.word == "allowed"
    else:
        assert verdict.failure is not None, "expected the browser to block it"
        assert (verdict.failure.check, verdict.failure.parameter) == (row.check, row.parameter)
        assert verdict.word == "blocked"
        preflight_check = row.check.value.startswith("Preflight") or row.check in (
            Check.METHOD_DISALLOWED, Check.HEADER_DISALLOWED, Check.INVALID_ALLOW_METHODS,
            Check.INVALID_ALLOW_HEADERS)
        assert verdict.failure.stage is (Stage.PREFLIGHT if preflight_check else Stage.ACTUAL)
    if row.chromium_allows is None:
        assert not verdict.chromium_differs and verdict.chromium == verdict.failure
    else:
        assert verdict.chromium_differs and (verdict.chromium is None) is row.chromium_allows


def test_a_needed_preflight_must_be_given() -> None:
    with pytest.raises(ValueError, match="needs a preflight"):
        judge(browser_request("PUT", ()), ORIGIN, "omit", None, OK_ACTUAL)


def test_same_origin_requests_are_not_checked() -> None:
    verdict = judge(browser_request("PUT", ()), ORIGIN, "include", None,
                    middleware(403, kind=RequestKind.ACTUAL), same_origin=True)
    assert verdict.allowed and verdict.same_origin and not verdict.preflight_needed


@pytest.mark.parametrize(("origin", "host", "scheme", "same"), [
    ("https://app.example", "app.example", "https", True),
    ("https://app.example", "app.example:443", "https", True),
    ("http://app.example:8080", "app.example:8080", "http", True),
    ("http://app.example", "app.example", "https", False),
    ("https://app.example", None, "https", False),
    ("https://app.example", "other.example", "https", False),
])
def test_is_same_origin(origin: str, host: str | None, scheme: str, same: bool) -> None:
    assert is_same_origin(origin, host, scheme) is same


# -- the messages: Chromium's console words, verbatim -----------------------------------------

@pytest.mark.parametrize(("check", "parameter", "text"), [
    (Check.MISSING_ALLOW_ORIGIN, "",
     "No 'Access-Control-Allow-Origin' header is present on the requested resource."),
    (Check.PREFLIGHT_MISSING_ALLOW_ORIGIN, "",
     "Response to preflight request doesn't pass access control check: No "
     "'Access-Control-Allow-Origin' header is present on the requested resource."),
    (Check.INVALID_ALLOW_CREDENTIALS, "",
     "The value of the 'Access-Control-Allow-Credentials' header in the response is '' which "
     "must be 'true' when the request's credentials mode is 'include'."),
    (Check.METHOD_DISALLOWED, "PUT",
     "Method PUT is not allowed by Access-Control-Allow-Methods in preflight response."),
    (Check.HEADER_DISALLOWED, "x-foo",
     "Request header field x-foo is not allowed by Access-Control-Allow-Headers in preflight "
     "response."),
    (Check.PREFLIGHT_INVALID_STATUS, "",
     "Response to preflight request doesn't pass access control check: It does not have HTTP "
     "ok status."),
    (Check.MULTIPLE_ALLOW_ORIGIN, "https://a.example, *",
     "The 'Access-Control-Allow-Origin' header contains multiple values 'https://a.example, *',"
     " but only one is allowed."),
    (Check.WILDCARD_ORIGIN, "",
     "The value of the 'Access-Control-Allow-Origin' header in the response must not be the "
     "wildcard '*' when the request's credentials mode is 'include'."),
])
def test_console_messages(check: Check, parameter: str, text: str) -> None:
    assert MESSAGES[check].format(parameter) == text


def test_every_check_has_a_message() -> None:
    assert set(MESSAGES) == set(Check)


def test_refused_fetch_is_blocked_before_anything_is_sent() -> None:
    verdict = refused("fetch() refuses the method TRACE (a forbidden method)")
    assert verdict.word == "blocked" and verdict.failure is not None
    assert verdict.failure.stage is Stage.FETCH
    assert verdict.failure.message == ("fetch() throws a TypeError: fetch() refuses the method "
                                       "TRACE (a forbidden method)")


# -- the requests the browser sends -----------------------------------------------------------

def test_flow_derives_the_preflight_as_the_browser_does() -> None:
    request = browser_request("put", [("X-Zeta", "1"), ("X-Alpha", "2"), ("Accept", "*/*")])
    first, then = flow(request, ORIGIN, "/api", host="api.example", scheme="https")
    assert first is not None
    assert (first.method, first.request_method, first.request_headers) == (
        "OPTIONS", "PUT", "x-alpha,x-zeta")
    assert (then.method, then.request_method, then.request_headers) == ("PUT", None, None)
    assert first.path == then.path == "/api" and then.host == "api.example"


def test_a_simple_request_has_no_preflight() -> None:
    first, then = flow(browser_request("GET", [("Accept-Language", "fr")]), ORIGIN, "/")
    assert first is None and then.method == "GET"


def test_request_read_back_from_a_preflight() -> None:
    request = request_from_preflight("PUT", "X-B, x-a,")
    assert request.method == "PUT" and request.unsafe == ("x-a", "x-b")
    assert request.preflight_headers == "x-a,x-b" and request.needs_preflight
    assert not request_from_preflight("GET", None).needs_preflight
