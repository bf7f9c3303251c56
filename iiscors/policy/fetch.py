"""What a browser sends for one ``fetch()`` (the Fetch standard, https://fetch.spec.whatwg.org/).

The middleware decides what the *server* answers; the browser then decides what the page may
read.  This module models what the page's script makes the browser send, in the Fetch
standard's words (section names quoted in the comments):

- :func:`normalize_method` and the *forbidden methods*: what ``fetch()`` sends or refuses;
- :func:`is_forbidden_request_header`: names a page script cannot set (``fetch()`` drops them);
- :func:`is_cors_safelisted_request_header` and :func:`cors_unsafe_request_header_names`: which
  headers need the server's permission, so that a *CORS-preflight fetch* comes first;
- :func:`browser_request`: the request (or preflight and request) one ``fetch()`` makes, and
  :func:`request_from_preflight`, the same read back from a preflight's two headers.

What the browser then checks in the answers (the *CORS check* and the *CORS-preflight fetch*)
is :mod:`iiscors.policy.verdict`.  Pure, like the rest of :mod:`iiscors.policy`: no I/O, no
framework.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from iiscors.policy import headers

Header = tuple[str, str]

#: Fetch's *header name*: an RFC 9110 token (the one pattern of :mod:`iiscors.policy.headers`).
_HEADER_NAME = headers.TOKEN
#: Fetch, "Methods": *normalize* upper-cases these six whatever case they are typed in; any
#: other method is sent as typed (``patch`` stays ``patch``).
NORMALIZED_METHODS = frozenset(("DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"))
#: Fetch, "Methods": the *forbidden methods*; ``fetch()`` throws a TypeError.
FORBIDDEN_METHODS = frozenset(("CONNECT", "TRACE", "TRACK"))
#: Fetch, "Methods": the *CORS-safelisted methods* (compared byte for byte).
CORS_SAFELISTED_METHODS = frozenset(("GET", "HEAD", "POST"))
#: Fetch, "Headers": the *forbidden request-header* names; a page script cannot set them and
#: ``fetch()`` silently drops them.
FORBIDDEN_REQUEST_HEADERS = frozenset((
    "accept-charset", "accept-encoding", "access-control-request-headers",
    "access-control-request-method", "connection", "content-length", "cookie", "cookie2",
    "date", "dnt", "expect", "host", "keep-alive", "origin", "referer", "set-cookie", "te",
    "trailer", "transfer-encoding", "upgrade", "via"))
#: ... every name starting with one of these ...
FORBIDDEN_REQUEST_HEADER_PREFIXES = ("proxy-", "sec-")
#: ... and these when a value of theirs names a forbidden method.
METHOD_OVERRIDE_HEADERS = frozenset(("x-http-method", "x-http-method-override",
                                     "x-method-override"))
#: Fetch, "CORS-safelisted request-header": the Content-Type essences it accepts.
SAFELISTED_CONTENT_TYPES = frozenset((
    "application/x-www-form-urlencoded", "multipart/form-data", "text/plain"))
#: Fetch, "CORS-unsafe request-header byte".
CORS_UNSAFE_REQUEST_HEADER_BYTES = (frozenset('"():<>?@[\\]{}\x7f')
                                    | {chr(c) for c in range(0x20) if c != 0x09})
_LANGUAGE_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                            " *,-.;=")
#: Fetch, "parse a single range header value" (whitespace not allowed): ``bytes=start-[end]``.
_SINGLE_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.ASCII)
#: Fetch, "CORS-safelisted request-header": a value longer than this is never safelisted ...
MAX_SAFELISTED_VALUE_BYTES = 128
#: ... and "CORS-unsafe request-header names": when the safelisted headers' values add up to
#: more than this, every one of them is unsafe too.
MAX_SAFELISTED_TOTAL_BYTES = 1024
#: Chromium 156 sends these too without a preflight (its cors.cc ``IsCorsSafelistedHeader``:
#: client hints and ``Intervention``, each when its value has this form, within 128 bytes);
#: the Fetch standard does not safelist them.  Checked in Chromium by the browser suite.
_DOUBLE = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
_INTEGER = re.compile(r"[0-9]+", re.ASCII)
CHROMIUM_SAFELISTED_HEADERS: dict[str, re.Pattern[str]] = {
    "dpr": _DOUBLE, "device-memory": _DOUBLE, "width": _INTEGER, "viewport-width": _INTEGER,
    "save-data": re.compile("on", re.IGNORECASE), "intervention": re.compile(".*", re.DOTALL),
}
#: Fetch, "Requests": a request's *credentials mode* (``same-origin`` is fetch()'s default).
CREDENTIALS_MODES = ("omit", "same-origin", "include")
DEFAULT_CREDENTIALS = "same-origin"
#: The one mode that sends credentials cross-origin, and that the CORS checks tighten for.
INCLUDE = "include"
#: Fetch, "HTTP whitespace bytes", stripped by *normalize* a header value.
_HTTP_WHITESPACE = "\t\n\r "


class FetchTypeError(ValueError):
    """``fetch()`` would throw a TypeError: the page cannot send this request at all."""


@dataclass(frozen=True)
class BrowserRequest:
    """What the browser sends for one ``fetch()`` in ``cors`` mode (Fetch, "CORS protocol").

    ``headers`` is the header list as sent (a repeated name joined with ``, ``, as Chromium
    sends it); ``unsafe`` the *CORS-unsafe request-header names* (lower-cased, sorted), and
    ``preflight_headers`` those joined by ``,`` as the preflight's
    Access-Control-Request-Headers, or None when there are none.  ``chromium_unsafe`` is the
    unsafe names as Chromium 156 counts them (:data:`CHROMIUM_SAFELISTED_HEADERS`).
    """

    method: str
    headers: tuple[Header, ...]
    dropped: tuple[str, ...]
    needs_preflight: bool
    preflight_headers: str | None
    why_preflight: tuple[str, ...] = ()
    unsafe: tuple[str, ...] = ()
    chromium_unsafe: tuple[str, ...] = ()

    @property
    def chromium_needs_preflight(self) -> bool:
        """Whether Chromium 156 sends a preflight first (it safelists a few more headers)."""
        return self.method not in CORS_SAFELISTED_METHODS or bool(self.chromium_unsafe)


def is_header_name(name: str) -> bool:
    """Fetch's *header name*: ``new Headers()`` throws a TypeError for anything else."""
    return _HEADER_NAME.fullmatch(name) is not None


def normalize_header_value(value: str) -> str:
    """Fetch's *normalize* a header value: leading and trailing HTTP whitespace removed."""
    return value.strip(_HTTP_WHITESPACE)


def is_sendable_header_value(value: str) -> bool:
    """A value ``fetch()`` can send: a ByteString (ISO-8859-1) without NUL, CR or LF."""
    return not any(ord(c) > 0xFF or c in "\0\r\n" for c in value)


def normalize_method(method: str) -> str:
    """The method as fetch() sends it (Fetch, "Methods": *normalize*).

    :raises FetchTypeError: not a token, or a forbidden method.
    """
    if not is_header_name(method):  # a method is a token too
        raise FetchTypeError(f"{method!r} is not a valid method (fetch() throws a TypeError)")
    upper = method.upper()
    if upper in FORBIDDEN_METHODS:
        raise FetchTypeError(f"fetch() refuses the method {upper} (a forbidden method)")
    return upper if upper in NORMALIZED_METHODS else method


def is_forbidden_request_header(name: str, value: str = "") -> bool:
    """Fetch's *forbidden request-header* (name, value)."""
    lower = name.lower()
    if lower in FORBIDDEN_REQUEST_HEADERS or lower.startswith(FORBIDDEN_REQUEST_HEADER_PREFIXES):
        return True
    if lower in METHOD_OVERRIDE_HEADERS:
        return any(item.strip(_HTTP_WHITESPACE).upper() in FORBIDDEN_METHODS
                   for item in value.split(","))
    return False


def _byte_length(value: str) -> int:
    return len(value.encode("latin-1", "replace"))


def _is_single_range(value: str) -> bool:
    """Fetch's "parse a single range header value" succeeds with a start (``bytes=-500`` is
    not safelisted: browsers never sent one)."""
    match = _SINGLE_RANGE.fullmatch(value)
    if match is None or not match.group(1):
        return False
    end = match.group(2)
    return not end or int(match.group(1)) <= int(end)


def _is_safelisted_content_type(value: str) -> bool:
    """Content-Type: no CORS-unsafe byte, and a MIME type whose essence is one of three."""
    if any(c in CORS_UNSAFE_REQUEST_HEADER_BYTES for c in value):
        return False
    # "parse a MIME type": the essence is what precedes ";", HTTP whitespace trimmed; a type or
    # subtype that is not a token makes it fail, and then it is none of the three either.
    essence = value.split(";", 1)[0].strip(_HTTP_WHITESPACE).lower()
    return essence in SAFELISTED_CONTENT_TYPES


def is_cors_safelisted_request_header(name: str, value: str) -> bool:
    """Fetch's *CORS-safelisted request-header* (name, value)."""
    if _byte_length(value) > MAX_SAFELISTED_VALUE_BYTES:
        return False
    lower = name.lower()
    if lower == "accept":
        return not any(c in CORS_UNSAFE_REQUEST_HEADER_BYTES for c in value)
    if lower in ("accept-language", "content-language"):
        return all(c in _LANGUAGE_CHARS for c in value)
    if lower == "content-type":
        return _is_safelisted_content_type(value)
    if lower == "range":
        return _is_single_range(value)
    return False


def is_chromium_safelisted_request_header(name: str, value: str) -> bool:
    """What Chromium 156 sends without a preflight: the standard's safelist and
    :data:`CHROMIUM_SAFELISTED_HEADERS`."""
    if is_cors_safelisted_request_header(name, value):
        return True
    form = CHROMIUM_SAFELISTED_HEADERS.get(name.lower())
    return (form is not None and _byte_length(value) <= MAX_SAFELISTED_VALUE_BYTES
            and form.fullmatch(value) is not None)


def cors_unsafe_request_header_names(
        sent: Iterable[Header],
        safelisted: Callable[[str, str], bool] = is_cors_safelisted_request_header,
) -> tuple[list[str], bool]:
    """Fetch's *CORS-unsafe request-header names* (lower-cased, sorted, no repeats), and
    whether the safelisted headers' values adding up to more than 1024 bytes made every
    header unsafe.  Each entry of the header list counts on its own (a name the page set
    twice is two entries)."""
    unsafe: set[str] = set()
    potentially_unsafe: set[str] = set()
    safelisted_size = 0
    for name, value in sent:
        if safelisted(name, value):
            potentially_unsafe.add(name.lower())
            safelisted_size += _byte_length(value)
        else:
            unsafe.add(name.lower())
    too_large = safelisted_size > MAX_SAFELISTED_TOTAL_BYTES
    if too_large:
        unsafe |= potentially_unsafe
    return sorted(unsafe), too_large


def header_list(given: Iterable[Header]) -> tuple[list[Header], tuple[str, ...]]:
    """The header list ``new Headers(given)`` holds (values normalized, forbidden request-headers
    dropped, as ``fetch()`` drops them), and the names it dropped."""
    kept: list[Header] = []
    dropped: list[str] = []
    for name, value in given:
        value = normalize_header_value(value)
        if is_forbidden_request_header(name, value):
            dropped.append(name)
        else:
            kept.append((name, value))
    return kept, tuple(dropped)


def _combined(entries: Iterable[Header]) -> tuple[Header, ...]:
    """The header list as sent: a repeated name once, its values joined with ``, ``."""
    combined: dict[str, Header] = {}
    for name, value in entries:
        key = name.lower()
        if key in combined:
            first, previous = combined[key]
            combined[key] = (first, f"{previous}, {value}")
        else:
            combined[key] = (name, value)
    return tuple(combined.values())


def browser_request(method: str, given: Iterable[Header]) -> BrowserRequest:
    """What the browser sends for ``fetch(url, {method, headers})`` in ``cors`` mode.

    :raises FetchTypeError: the method is one fetch() refuses.
    """
    sent_method = normalize_method(method)
    entries, dropped = header_list(given)
    why: list[str] = []
    if sent_method not in CORS_SAFELISTED_METHODS:
        why.append(f"{sent_method} is not a CORS-safelisted method (GET, HEAD, POST)")
    unsafe, too_large = cors_unsafe_request_header_names(entries)
    if too_large:
        why.append("the safelisted headers' values add up to more than "
                   f"{MAX_SAFELISTED_TOTAL_BYTES} bytes")
    for name in unsafe:
        why.append(f"{name} is not a CORS-safelisted request header (with this value)")
    sent = _combined(entries)
    # Chromium judges the header list as it sends it, repeats joined.
    chromium_unsafe, _ = cors_unsafe_request_header_names(
        sent, is_chromium_safelisted_request_header)
    return BrowserRequest(
        method=sent_method, headers=sent, dropped=dropped,
        needs_preflight=bool(why),
        preflight_headers=",".join(unsafe) or None,
        why_preflight=tuple(why), unsafe=tuple(unsafe),
        chromium_unsafe=tuple(chromium_unsafe))


def request_from_preflight(request_method: str, request_headers: str | None) -> BrowserRequest:
    """The ``fetch()`` a preflight stands for, read back from its Access-Control-Request-Method
    and Access-Control-Request-Headers: the names listed there are the unsafe ones (their
    values are not known, and need not be: a browser lists only names it must ask about).

    :raises FetchTypeError: the method is one fetch() refuses.
    """
    sent_method = normalize_method(request_method)
    unsafe = sorted({name.strip(_HTTP_WHITESPACE).lower()
                     for name in (request_headers or "").split(",")} - {""})
    why = [f"{name} is listed in Access-Control-Request-Headers" for name in unsafe]
    if sent_method not in CORS_SAFELISTED_METHODS:
        why.insert(0, f"{sent_method} is not a CORS-safelisted method (GET, HEAD, POST)")
    return BrowserRequest(
        method=sent_method, headers=(), dropped=(), needs_preflight=bool(why),
        preflight_headers=",".join(unsafe) or None, why_preflight=tuple(why),
        unsafe=tuple(unsafe), chromium_unsafe=tuple(unsafe))
