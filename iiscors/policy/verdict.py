"""The browser's verdict (contract F1): may the page read the response iiscors leads to?

IIS answers a preflight with 204 whatever the method (contract B8); the browser then applies the
Fetch standard's checks to that answer and to the actual response, and may still refuse.  This
module applies those checks, exactly as the Fetch standard writes them
(https://fetch.spec.whatwg.org/), to the headers of the :class:`~iiscors.policy.core.Decision`
iiscors makes for each request the browser sends:

- "CORS-preflight fetch": a preflight must pass the CORS check, have an *ok status* (200-299),
  list the method unless it is a *CORS-safelisted method* (``*`` counts only without
  credentials), and list every *CORS-unsafe request-header name* (``*`` counts only without
  credentials, and never for ``Authorization``, the one *CORS non-wildcard request-header
  name*);
- "CORS check": ``Access-Control-Allow-Origin`` must be ``*`` (only when the credentials mode is
  not ``include``) or the request's Origin, byte for byte; with ``include``,
  ``Access-Control-Allow-Credentials`` must be exactly ``true``.

A failed check is named as Chromium names it (its DevTools ``CorsError``) and told in the words
of Chromium's console (``third_party/blink/renderer/platform/loader/cors/cors_error_string.cc``).
Where Chromium 156 departs from the standard in a way this module models (it lets ``*`` cover
``Authorization``: it only warns; it sends a few client hints without a preflight:
:data:`iiscors.policy.fetch.CHROMIUM_SAFELISTED_HEADERS`), :attr:`Verdict.chromium` says what
Chromium does instead.

The decisions are the very ones the middleware acts on (no second evaluator); what the app
answers when the middleware lets a request through is an assumption the caller states (its
status; it is taken to add no Access-Control-* header of its own).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from iiscors.policy import headers
from iiscors.policy.core import CorsRequest, Decision, Headers
from iiscors.policy.fetch import CORS_SAFELISTED_METHODS, INCLUDE, BrowserRequest

#: Fetch, "CORS non-wildcard request-header name": a ``*`` in Allow-Headers never covers it.
NON_WILDCARD_HEADER = "authorization"
#: The status assumed for a response the app gives (the middleware lets the request through).
DEFAULT_APP_STATUS = 200
_WILDCARD = "*"
_TRUE = "true"
#: Chromium's test of an Allow-Origin value that is not the Origin (``GURL::is_valid``), for the
#: name of the failure only: a scheme, and for the special schemes a host.
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(.*)", re.ASCII | re.DOTALL)
_SPECIAL_SCHEMES = frozenset(("http", "https", "ws", "wss", "ftp", "file"))
_TOKEN = headers.TOKEN
_PREFLIGHT_PREFIX = "Response to preflight request doesn't pass access control check: "


class Stage(enum.StrEnum):
    """Where the browser stopped: the preflight, the actual request, or fetch() itself."""

    FETCH = "fetch"
    PREFLIGHT = "preflight"
    ACTUAL = "actual"

    def __str__(self) -> str:
        return self.value


class Check(enum.StrEnum):
    """A failed check, by Chromium's DevTools ``CorsError`` name; the message templates are
    Chromium's console text (``{}`` is the failed parameter)."""

    FETCH_REFUSED = "FetchRefused"
    MISSING_ALLOW_ORIGIN = "MissingAllowOriginHeader"
    MULTIPLE_ALLOW_ORIGIN = "MultipleAllowOriginValues"
    INVALID_ALLOW_ORIGIN = "InvalidAllowOriginValue"
    ALLOW_ORIGIN_MISMATCH = "AllowOriginMismatch"
    WILDCARD_ORIGIN = "WildcardOriginNotAllowed"
    INVALID_ALLOW_CREDENTIALS = "InvalidAllowCredentials"
    PREFLIGHT_MISSING_ALLOW_ORIGIN = "PreflightMissingAllowOriginHeader"
    PREFLIGHT_MULTIPLE_ALLOW_ORIGIN = "PreflightMultipleAllowOriginValues"
    PREFLIGHT_INVALID_ALLOW_ORIGIN = "PreflightInvalidAllowOriginValue"
    PREFLIGHT_ALLOW_ORIGIN_MISMATCH = "PreflightAllowOriginMismatch"
    PREFLIGHT_WILDCARD_ORIGIN = "PreflightWildcardOriginNotAllowed"
    PREFLIGHT_INVALID_ALLOW_CREDENTIALS = "PreflightInvalidAllowCredentials"
    PREFLIGHT_INVALID_STATUS = "PreflightInvalidStatus"
    INVALID_ALLOW_METHODS = "InvalidAllowMethodsPreflightResponse"
    INVALID_ALLOW_HEADERS = "InvalidAllowHeadersPreflightResponse"
    METHOD_DISALLOWED = "MethodDisallowedByPreflightResponse"
    HEADER_DISALLOWED = "HeaderDisallowedByPreflightResponse"

    def __str__(self) -> str:
        return self.value


_ORIGIN_MESSAGES = {
    "MissingAllowOriginHeader":
        "No 'Access-Control-Allow-Origin' header is present on the requested resource.",
    "MultipleAllowOriginValues":
        "The 'Access-Control-Allow-Origin' header contains multiple values '{}', but only one "
        "is allowed.",
    "InvalidAllowOriginValue":
        "The 'Access-Control-Allow-Origin' header contains the invalid value '{}'.",
    "AllowOriginMismatch":
        "The 'Access-Control-Allow-Origin' header has a value '{}' that is not equal to the "
        "supplied origin.",
    "WildcardOriginNotAllowed":
        "The value of the 'Access-Control-Allow-Origin' header in the response must not be the "
        "wildcard '*' when the request's credentials mode is 'include'.",
    "InvalidAllowCredentials":
        "The value of the 'Access-Control-Allow-Credentials' header in the response is '{}' "
        "which must be 'true' when the request's credentials mode is 'include'.",
}
#: Chromium's console text for each check (cors_error_string.cc), verbatim.
MESSAGES: dict[Check, str] = {
    Check.FETCH_REFUSED: "fetch() throws a TypeError: {}",
    **{Check(name): text for name, text in _ORIGIN_MESSAGES.items()},
    **{Check("Preflight" + name): _PREFLIGHT_PREFIX + text
       for name, text in _ORIGIN_MESSAGES.items()},
    Check.PREFLIGHT_INVALID_STATUS: _PREFLIGHT_PREFIX + "It does not have HTTP ok status.",
    Check.INVALID_ALLOW_METHODS: "Cannot parse Access-Control-Allow-Methods response header "
                                 "field in preflight response.",
    Check.INVALID_ALLOW_HEADERS: "Cannot parse Access-Control-Allow-Headers response header "
                                 "field in preflight response.",
    Check.METHOD_DISALLOWED: "Method {} is not allowed by Access-Control-Allow-Methods in "
                             "preflight response.",
    Check.HEADER_DISALLOWED: "Request header field {} is not allowed by "
                             "Access-Control-Allow-Headers in preflight response.",
}
#: The Fetch standard's section each check belongs to.
SECTIONS: dict[Stage, str] = {
    Stage.FETCH: "Headers class / Request class (fetch() throws)",
    Stage.PREFLIGHT: "CORS-preflight fetch",
    Stage.ACTUAL: "CORS check",
}


@dataclass(frozen=True)
class Failure:
    """The check the browser stops at, and the value it names (a method, a header name, the
    Allow-Origin or Allow-Credentials value)."""

    check: Check
    stage: Stage
    parameter: str = ""

    @property
    def message(self) -> str:
        """Chromium's console text for it."""
        return MESSAGES[self.check].format(self.parameter)

    @property
    def section(self) -> str:
        """The Fetch standard's section that makes the check."""
        return SECTIONS[self.stage]


@dataclass(frozen=True)
class Verdict:
    """Whether the page may read the response, and if not, why.

    ``chromium`` is what Chromium 156 concludes when it departs from the standard here (its
    :class:`Failure`, or None when Chromium lets the page read the response), else the same
    object as ``failure``; ``chromium_differs`` says which.
    """

    failure: Failure | None
    preflight_needed: bool
    why_preflight: tuple[str, ...]
    same_origin: bool = False
    chromium: Failure | None = None
    chromium_differs: bool = False
    assumptions: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.failure is None

    @property
    def word(self) -> str:
        """``allowed`` or ``blocked``: what ``iiscors explain --expect`` compares."""
        return "allowed" if self.failure is None else "blocked"


@dataclass(frozen=True)
class Response:
    """What the browser receives: a status and the header list."""

    status: int
    headers: Headers


@dataclass(frozen=True)
class _Rules:
    """Where Chromium 156 departs from the standard (see module docstring): it lets ``*``
    cover Authorization, and it safelists a few more request headers (so it may send no
    preflight, or ask about fewer names: :attr:`BrowserRequest.chromium_unsafe`)."""

    wildcard_covers_authorization: bool
    chromium_safelist: bool


FETCH_STANDARD = _Rules(wildcard_covers_authorization=False, chromium_safelist=False)
CHROMIUM = _Rules(wildcard_covers_authorization=True, chromium_safelist=True)


def response_of(decision: Decision, app_status: int = DEFAULT_APP_STATUS) -> Response:
    """The response a decision leads to: the middleware's own status (204, 403) or the app's,
    with the headers the middleware adds (customHeaders included, repeats kept: contract C1)."""
    return Response(decision.status if decision.status is not None else app_status,
                    decision.headers)


def get_header(received: Headers, name: str) -> str | None:
    """Fetch's *get* a header: every value of ``name`` (normalized), joined with ``, ``; None
    when absent.  Two Access-Control-Allow-Origin headers thus read as one value with a comma."""
    values = [value.strip("\t\n\r ") for key, value in received if key.lower() == name.lower()]
    return ", ".join(values) if values else None


def extract_list(received: Headers, name: str) -> list[str] | None:
    """Fetch's *extracting header list values* for a ``#token`` header: its items (empty items
    skipped), None when absent; raises ValueError when an item is not a token."""
    value = get_header(received, name)
    if value is None:
        return None
    items = [item.strip(" \t") for item in value.split(",")]
    items = [item for item in items if item]
    if any(_TOKEN.fullmatch(item) is None for item in items):
        raise ValueError(name)
    return items


def _origin_failure(allow_origin: str) -> Check:
    """Chromium's name for an Allow-Origin value that is not the request's Origin (cors.cc)."""
    if " " in allow_origin or "," in allow_origin:
        return Check.MULTIPLE_ALLOW_ORIGIN
    if allow_origin == "null":
        return Check.ALLOW_ORIGIN_MISMATCH
    return Check.ALLOW_ORIGIN_MISMATCH if _looks_like_url(allow_origin) \
        else Check.INVALID_ALLOW_ORIGIN


def _looks_like_url(value: str) -> bool:
    match = _SCHEME.fullmatch(value)
    if match is None:
        return False
    if match.group(1).lower() not in _SPECIAL_SCHEMES or match.group(1).lower() == "file":
        return True
    authority = re.split(r"[/?#\\]", match.group(2).lstrip("/\\"), maxsplit=1)[0]
    host = authority.rpartition("@")[2].partition(":")[0]
    return host != ""


def cors_check(response: Response, origin: str, credentials: str) -> Failure | None:
    """Fetch, "CORS check", for the actual request's response (Chromium's order and names)."""
    allow_origin = get_header(response.headers, headers.ALLOW_ORIGIN)
    if allow_origin is None:
        return Failure(Check.MISSING_ALLOW_ORIGIN, Stage.ACTUAL)
    if allow_origin == _WILDCARD:
        if credentials != INCLUDE:
            return None
        return Failure(Check.WILDCARD_ORIGIN, Stage.ACTUAL)
    if allow_origin != origin:  # byte-serializing the request origin: compared byte for byte
        return Failure(_origin_failure(allow_origin), Stage.ACTUAL, allow_origin)
    if credentials != INCLUDE:
        return None
    allow_credentials = get_header(response.headers, headers.ALLOW_CREDENTIALS)
    if allow_credentials != _TRUE:  # exactly `true`: case-sensitive
        return Failure(Check.INVALID_ALLOW_CREDENTIALS, Stage.ACTUAL, allow_credentials or "")
    return None


def _as_preflight(failure: Failure) -> Failure:
    return Failure(Check("Preflight" + failure.check.value), Stage.PREFLIGHT, failure.parameter)


def _method_failure(method: str, allowed: list[str], credentials: str) -> Failure | None:
    """Fetch, "CORS-preflight fetch": the method must be listed unless CORS-safelisted; a
    ``*`` counts only when the credentials mode is not ``include``.  Compared byte for byte
    (``patch`` is not ``PATCH``)."""
    if method in allowed or method in CORS_SAFELISTED_METHODS:
        return None
    if credentials != INCLUDE and _WILDCARD in allowed:
        return None
    return Failure(Check.METHOD_DISALLOWED, Stage.PREFLIGHT, method)


def _header_failure(unsafe: Iterable[str], allowed: list[str], credentials: str,
                    rules: _Rules) -> Failure | None:
    """Fetch, "CORS-preflight fetch": every CORS-unsafe request-header name must be listed
    (compared case-insensitively); a ``*`` counts only without credentials, and never for
    Authorization.  The first missing name in sorted order is the one reported, as Chromium
    reports it."""
    listed = {name.lower() for name in allowed}
    unsafe = list(unsafe)
    if credentials != INCLUDE and _WILDCARD in listed:
        if (not rules.wildcard_covers_authorization and NON_WILDCARD_HEADER in unsafe
                and NON_WILDCARD_HEADER not in listed):
            return Failure(Check.HEADER_DISALLOWED, Stage.PREFLIGHT, NON_WILDCARD_HEADER)
        return None
    for name in unsafe:
        if name not in listed:
            return Failure(Check.HEADER_DISALLOWED, Stage.PREFLIGHT, name)
    return None


def preflight_check(response: Response, request: BrowserRequest, origin: str,
                    credentials: str, rules: _Rules = FETCH_STANDARD) -> Failure | None:
    """Fetch, "CORS-preflight fetch", steps 7.x, in Chromium's order: the CORS check (with the
    actual request's credentials mode), the ok status, the two lists' syntax, the method, the
    headers."""
    failure = cors_check(response, origin, credentials)
    if failure is not None:
        return _as_preflight(failure)
    if not 200 <= response.status <= 299:  # Fetch, "ok status"
        return Failure(Check.PREFLIGHT_INVALID_STATUS, Stage.PREFLIGHT)
    try:
        methods = extract_list(response.headers, headers.ALLOW_METHODS) or []
    except ValueError:
        return Failure(Check.INVALID_ALLOW_METHODS, Stage.PREFLIGHT)
    try:
        names = extract_list(response.headers, headers.ALLOW_HEADERS) or []
    except ValueError:
        return Failure(Check.INVALID_ALLOW_HEADERS, Stage.PREFLIGHT)
    return (_method_failure(request.method, methods, credentials)
            or _header_failure(request.unsafe, names, credentials, rules))


def _judge(request: BrowserRequest, origin: str, credentials: str,
           preflight: Response | None, actual: Response, rules: _Rules) -> Failure | None:
    if rules.chromium_safelist and (preflight is not None
                                    or not request.chromium_needs_preflight):
        # Chromium asks about fewer names, or sends no preflight at all; IIS's answer to the
        # standard's preflight stands for its own (they differ at most in names Chromium
        # does not check).  (Only a header repeated with safelisted values can make Chromium
        # preflight where the standard does not; then the standard's view is kept.)
        request = replace(request, unsafe=request.chromium_unsafe,
                          needs_preflight=request.chromium_needs_preflight)
    if request.needs_preflight:
        if preflight is None:
            raise ValueError("this request needs a preflight: pass the preflight's decision")
        failure = preflight_check(preflight, request, origin, credentials, rules)
        if failure is not None:
            return failure  # the browser never sends the actual request
    return cors_check(actual, origin, credentials)


def judge(request: BrowserRequest, origin: str, credentials: str,
          preflight: Decision | None, actual: Decision, *,
          app_status: int = DEFAULT_APP_STATUS, same_origin: bool = False) -> Verdict:
    """The browser's verdict on one ``fetch()``: ``request`` as the page makes it (see
    :func:`iiscors.policy.fetch.browser_request`), the decision for the preflight when one is
    needed, and the decision for the actual request.

    ``app_status`` is the status assumed when a decision lets the app answer;
    ``same_origin`` means the page and the URL share an origin: then no CORS check applies.
    """
    why = request.why_preflight if request.needs_preflight else ()
    if same_origin:  # Fetch, "main fetch": same-origin requests get a basic response
        return Verdict(None, False, (), same_origin=True)
    preflight_response = response_of(preflight, app_status) if preflight is not None else None
    actual_response = response_of(actual, app_status)
    failure = _judge(request, origin, credentials, preflight_response, actual_response,
                     FETCH_STANDARD)
    chromium = _judge(request, origin, credentials, preflight_response, actual_response,
                      CHROMIUM)
    assumptions = _assumptions(request, preflight, actual, failure, app_status)
    return Verdict(failure, request.needs_preflight, why, chromium=chromium,
                   chromium_differs=chromium != failure, assumptions=assumptions)


def _assumptions(request: BrowserRequest, preflight: Decision | None, actual: Decision,
                 failure: Failure | None, app_status: int) -> tuple[str, ...]:
    """What the verdict takes for granted about the app, for the responses the browser checked
    that the app gave (the middleware let the request through)."""
    said: list[str] = []
    if request.needs_preflight and preflight is not None and preflight.status is None:
        said.append(f"the app answers the preflight with {app_status} and adds no "
                    "Access-Control-* header")
    reached = failure is None or failure.stage is Stage.ACTUAL
    if reached and actual.status is None:
        said.append("the app adds no Access-Control-* header to its response")
    return tuple(said)


def refused(reason: str, request_needs_preflight: bool = False) -> Verdict:
    """The verdict when ``fetch()`` itself throws (a forbidden method, say): nothing is sent."""
    failure = Failure(Check.FETCH_REFUSED, Stage.FETCH, reason)
    return Verdict(failure, request_needs_preflight, (), chromium=failure)


def flow(request: BrowserRequest, origin: str, path: str, *, host: str | None = None,
         scheme: str = "http") -> tuple[CorsRequest | None, CorsRequest]:
    """The requests the browser sends for ``request``: the preflight (None when not needed:
    OPTIONS with Access-Control-Request-Method and -Headers) and the actual request."""
    preflight = None
    if request.needs_preflight:
        preflight = CorsRequest(method="OPTIONS", origin=origin, request_method=request.method,
                                request_headers=request.preflight_headers, path=path,
                                host=host, scheme=scheme)
    actual = CorsRequest(method=request.method, origin=origin, path=path, host=host,
                         scheme=scheme)
    return preflight, actual


def is_same_origin(origin: str, host: str | None, scheme: str) -> bool:
    """Whether a page of ``origin`` fetching ``scheme://host`` makes a same-origin request
    (a default port in ``host`` is the origin without one)."""
    if host is None:
        return False
    default = {"http": ":80", "https": ":443"}.get(scheme.lower(), "")
    host = host.lower()
    if default and host.endswith(default):
        host = host[: -len(default)]
    return origin == f"{scheme.lower()}://{host}"
