"""What a browser sends for one ``fetch()``, and what it checks in the answer (the Fetch standard).

The middleware decides what the *server* answers; the browser then decides what the page may
read.  This module models the browser's side, in the Fetch standard's words, as Chromium does it:

- :func:`normalize_method` and the *forbidden methods*: what ``fetch()`` sends or refuses;
- :func:`is_forbidden_request_header`: names a page script cannot set (``fetch()`` drops them);
- :func:`is_cors_safelisted_request_header` and :func:`cors_unsafe_request_header_names`: which
  headers need the server's permission, so a *CORS-preflight fetch* comes first;
- :func:`browser_request`: the request (or preflight and request) one ``fetch()`` makes;
- :func:`browser_notes`: the *CORS check* the browser makes on top of a :class:`Decision` (hints
  for the playground, not a verdict).

Pure, like the rest of :mod:`iiscors.policy`: no I/O, no framework.  Used by the playground's
explain endpoint (:mod:`iiscors.serving.playground_explain`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from iiscors.policy import headers
from iiscors.policy.core import Decision, Outcome

#: Fetch's *header name*: an RFC 9110 token (the one pattern of :mod:`iiscors.policy.headers`).
_HEADER_NAME = headers.TOKEN
#: Fetch's *normalize* a method: these six are upper-cased whatever case they are typed in;
#: any other method is sent as typed.
NORMALIZED_METHODS = frozenset(("DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"))
#: Fetch's *forbidden methods*: ``fetch()`` throws a TypeError.
FORBIDDEN_METHODS = frozenset(("CONNECT", "TRACE", "TRACK"))
#: Fetch's *CORS-safelisted methods*.
CORS_SAFELISTED_METHODS = frozenset(("GET", "HEAD", "POST"))
#: Fetch's *forbidden request-header* names: a page script cannot set them; fetch() drops them.
FORBIDDEN_REQUEST_HEADERS = frozenset((
    "accept-charset", "accept-encoding", "access-control-request-headers",
    "access-control-request-method", "connection", "content-length", "cookie", "cookie2",
    "date", "dnt", "expect", "host", "keep-alive", "origin", "referer", "set-cookie", "te",
    "trailer", "transfer-encoding", "upgrade", "via"))
#: ... and every name starting with one of these.
FORBIDDEN_REQUEST_HEADER_PREFIXES = ("proxy-", "sec-")
#: The Content-Type essences a CORS-safelisted Content-Type may have.
SAFELISTED_CONTENT_TYPES = frozenset((
    "application/x-www-form-urlencoded", "multipart/form-data", "text/plain"))
#: Fetch's *CORS-unsafe request-header bytes*.
CORS_UNSAFE_REQUEST_HEADER_BYTES = (frozenset('"():<>?@[\\]{}\x7f')
                                    | {chr(c) for c in range(0x20) if c != 0x09})
_LANGUAGE_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                            " *,-.;=")
#: A *simple range header value*: one range, start given.
_SIMPLE_RANGE = re.compile(r"bytes=(?:[0-9]+-[0-9]*)")
#: A safelisted header's value may be at most this long ...
MAX_SAFELISTED_VALUE_BYTES = 128
#: ... and the safelisted headers together at most this long, else all of them are unsafe.
MAX_SAFELISTED_TOTAL_BYTES = 1024
#: A request's *credentials mode*.
CREDENTIALS_MODES = ("omit", "same-origin", "include")


class FetchTypeError(ValueError):
    """``fetch()`` would throw a TypeError: the page cannot send this request at all."""


@dataclass(frozen=True)
class BrowserRequest:
    """What Chromium sends for one ``fetch()`` (Fetch standard, CORS protocol).

    ``preflight_headers`` is the Access-Control-Request-Headers value (lower-cased, sorted,
    comma-joined as Chromium sends it) or None when no header needs permission.
    """

    method: str
    headers: tuple[tuple[str, str], ...]
    dropped: tuple[str, ...]
    needs_preflight: bool
    preflight_headers: str | None
    why_preflight: tuple[str, ...] = field(default=())


def is_header_name(name: str) -> bool:
    """Fetch's *header name*: ``new Headers()`` throws a TypeError for anything else."""
    return _HEADER_NAME.fullmatch(name) is not None


def is_sendable_header_value(value: str) -> bool:
    """A value ``fetch()`` can send: a ByteString (ISO-8859-1) without NUL, CR or LF."""
    return not any(ord(c) > 0xFF or c in "\0\r\n" for c in value)


def normalize_method(method: str) -> str:
    """The method as fetch() sends it (Fetch's *normalize*).

    :raises FetchTypeError: not a token, or a forbidden method.
    """
    if not is_header_name(method):  # a method is a token too
        raise FetchTypeError(f"{method!r} is not a valid method (fetch() throws a TypeError)")
    upper = method.upper()
    if upper in FORBIDDEN_METHODS:
        raise FetchTypeError(f"fetch() refuses the method {upper} (a forbidden method)")
    return upper if upper in NORMALIZED_METHODS else method


def is_forbidden_request_header(name: str) -> bool:
    """Fetch's *forbidden request-header* (by name, as Chromium checks it)."""
    lower = name.lower()
    return lower in FORBIDDEN_REQUEST_HEADERS or lower.startswith(
        FORBIDDEN_REQUEST_HEADER_PREFIXES)


def is_cors_safelisted_request_header(name: str, value: str) -> bool:
    """Fetch's *CORS-safelisted request-header* (name, value)."""
    if len(value.encode("latin-1")) > MAX_SAFELISTED_VALUE_BYTES:
        return False
    lower = name.lower()
    if lower == "accept":
        return not any(c in CORS_UNSAFE_REQUEST_HEADER_BYTES for c in value)
    if lower in ("accept-language", "content-language"):
        return all(c in _LANGUAGE_CHARS for c in value)
    if lower == "content-type":
        if any(c in CORS_UNSAFE_REQUEST_HEADER_BYTES for c in value):
            return False
        essence = value.split(";", 1)[0].strip(" \t").lower()
        return essence in SAFELISTED_CONTENT_TYPES
    if lower == "range":
        return _SIMPLE_RANGE.fullmatch(value) is not None
    return False


def cors_unsafe_request_header_names(
        sent: Iterable[tuple[str, str]]) -> tuple[list[str], bool]:
    """Fetch's *CORS-unsafe request-header names* (lower-cased, sorted), and whether the
    safelisted headers' total size made every header unsafe."""
    sent = list(sent)
    unsafe = {name.lower() for name, value in sent
              if not is_cors_safelisted_request_header(name, value)}
    safelisted_size = sum(len(name) + len(value) for name, value in sent
                          if name.lower() not in unsafe)
    too_large = safelisted_size > MAX_SAFELISTED_TOTAL_BYTES
    if too_large:
        unsafe = {name.lower() for name, _ in sent}
    return sorted(unsafe), too_large


def _header_list(given: Iterable[tuple[str, str]]) -> tuple[tuple[tuple[str, str], ...],
                                                             tuple[str, ...]]:
    """The header list ``fetch()`` sends (repeats joined), and the forbidden names it dropped."""
    combined: dict[str, tuple[str, str]] = {}
    dropped: list[str] = []
    for name, value in given:
        if is_forbidden_request_header(name):
            dropped.append(name)
            continue
        key = name.lower()
        if key in combined:  # Headers.append() joins repeated names with ", "
            first, previous = combined[key]
            combined[key] = (first, f"{previous}, {value}")
        else:
            combined[key] = (name, value)
    return tuple(combined.values()), tuple(dropped)


def browser_request(method: str, given: Iterable[tuple[str, str]]) -> BrowserRequest:
    """What Chromium sends for ``fetch(url, {method, headers})`` in ``cors`` mode.

    :raises FetchTypeError: the method is one fetch() refuses.
    """
    sent_method = normalize_method(method)
    sent, dropped = _header_list(given)
    why: list[str] = []
    if sent_method not in CORS_SAFELISTED_METHODS:
        why.append(f"{sent_method} is not a CORS-safelisted method (GET, HEAD, POST)")
    unsafe, too_large = cors_unsafe_request_header_names(sent)
    if too_large:
        why.append("the safelisted headers' values add up to more than "
                   f"{MAX_SAFELISTED_TOTAL_BYTES} bytes")
    for name in unsafe:
        why.append(f"{name} is not a CORS-safelisted request header (with this value)")
    return BrowserRequest(
        method=sent_method, headers=sent, dropped=dropped,
        needs_preflight=bool(why),
        preflight_headers=",".join(unsafe) or None,
        why_preflight=tuple(why))


def _header(decision: Decision, name: str) -> str | None:
    for key, value in decision.headers:
        if key.lower() == name.lower():
            return value
    return None


def _credentials_notes(decision: Decision) -> list[str]:
    """Fetch's *CORS check* for a request whose credentials mode is ``include``."""
    notes: list[str] = []
    if _header(decision, headers.ALLOW_ORIGIN) == "*":
        notes.append("credentials: include — the browser refuses "
                     "Access-Control-Allow-Origin: * for a credentialed request")
    if _header(decision, headers.ALLOW_CREDENTIALS) != "true":
        notes.append("credentials: include — the browser requires "
                     "Access-Control-Allow-Credentials: true, which is not sent")
    return notes


def _preflight_notes(decision: Decision, plan: BrowserRequest, credentials: str) -> list[str]:
    """The checks of a *CORS-preflight fetch*'s answer: the method and the unsafe headers must
    be listed (``*`` counts only without credentials, and never for Authorization)."""
    notes: list[str] = []
    listed = headers.split_list(_header(decision, headers.ALLOW_METHODS) or "")
    wildcard = "*" in listed and credentials != "include"
    if (plan.method not in CORS_SAFELISTED_METHODS and plan.method not in listed
            and not wildcard):
        notes.append(f"the browser requires {plan.method} in "
                     "Access-Control-Allow-Methods, which does not list it")
    allowed = {name.strip().lower() for name in
               (_header(decision, headers.ALLOW_HEADERS) or "").split(",")}
    star = "*" in allowed and credentials != "include"
    for name in (plan.preflight_headers or "").split(","):
        if name and name not in allowed and not (star and name != "authorization"):
            notes.append(f"the browser requires {name} in Access-Control-Allow-Headers, "
                         "which does not list it")
    return notes


def browser_notes(decision: Decision, plan: BrowserRequest, credentials: str,
                  preflight: bool) -> list[str]:
    """Checks the browser makes on top of what the middleware decides (hints, not a verdict)."""
    if decision.outcome is not Outcome.ALLOWED:
        return []
    notes = _credentials_notes(decision) if credentials == "include" else []
    if preflight:
        notes.extend(_preflight_notes(decision, plan, credentials))
    return notes
