"""customHeaders CORS lint: the Access-Control-* headers a file adds to every response, judged as a
browser reads them (contract C1, C3).

Most real web.config files that do CORS do it this way (contract C2): fixed values sent on every
response.  The checks run on each effective section (customHeaders are scoped like ``<cors>``,
contract A9: a ``<location>`` or a sub-directory may add or remove one), and each problem is placed
at the ``<add>`` that causes it, so that :func:`iiscors.config.lint.lint`, which keeps one
diagnostic per code and place, reports it once however many scopes inherit it.

- W301 ``*`` with credentials (at the Access-Control-Allow-Credentials ``<add>``); W302 several
  origins in one value; W303 an origin with a path or a trailing slash; W304 any other value that
  is neither ``*`` nor a serialized origin; W305 ``null``;
- W306 Access-Control-Allow-Credentials other than ``true`` (N302 for ``false``, which does
  nothing); W307 a ``*`` list beside credentials (literal for credentialed requests);
- W308 an Access-Control-* name that is no CORS response header; W309 a Max-Age that is not a
  number, W215 one above what browsers honour;
- N301 a header only preflights read, sent on every response (harmless: a note).

W220 (the same headers where an enabled ``<cors>`` also sends them) is :mod:`iiscors.config.lint`'s.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from iiscors.config.browsers import (
    MAX_AGE_FIREFOX,
    MAX_AGE_HONOURED,
    is_default_port,
    max_age_ignored_by,
    split_authority,
    split_port,
)
from iiscors.config.diagnostics import Diagnostic, make_at
from iiscors.config.reading import INT32_MAX, parse_int32
from iiscors.policy import headers
from iiscors.policy.model import EffectiveSection, Location
from iiscors.policy.origins import parse_origin

#: Private Network Access (Chromium): a response header read on preflights only.
ALLOW_PRIVATE_NETWORK = "Access-Control-Allow-Private-Network"

#: Every Access-Control-* response header a browser reads (Fetch standard, Private Network
#: Access), by lower-case name.
RESPONSE_HEADERS = {name.lower(): name for name in (
    headers.ALLOW_ORIGIN, headers.ALLOW_CREDENTIALS, headers.ALLOW_METHODS, headers.ALLOW_HEADERS,
    headers.EXPOSE_HEADERS, headers.MAX_AGE, ALLOW_PRIVATE_NETWORK)}

#: Read on preflight responses only (Fetch: CORS-preflight fetch), ignored on the others.
PREFLIGHT_ONLY = frozenset(name.lower() for name in (
    headers.ALLOW_METHODS, headers.ALLOW_HEADERS, headers.MAX_AGE, ALLOW_PRIVATE_NETWORK))

#: Headers browsers send on a preflight; as response headers they do nothing.
REQUEST_HEADERS = frozenset(("access-control-request-method", "access-control-request-headers",
                             "access-control-request-private-network"))

#: The lists in which Fetch reads ``*`` as a wildcard only for requests without credentials.
_WILDCARD_LISTS = (headers.ALLOW_METHODS, headers.ALLOW_HEADERS, headers.EXPOSE_HEADERS)

#: How authors separate several origins in one value (all of them fail in a browser).
_SEPARATORS = re.compile(r"[,;\s]+")
#: Fetch's delta-seconds for Access-Control-Max-Age: digits only.
_DELTA_SECONDS = re.compile(r"[0-9]+")
#: HTTP strips optional white space around a field value (RFC 9110 section 5.5).
_OWS = " \t"
#: The only value that allows credentials (Fetch: a byte-case-sensitive match).
TRUE = "true"
FALSE = "false"


@dataclass(frozen=True, slots=True)
class Header:
    """One effective custom header: its name as written, its value as browsers read it (white
    space around it stripped), and where it was added."""

    name: str
    value: str
    where: Location


def custom_header_checks(section: EffectiveSection) -> Iterator[Diagnostic]:
    """Every customHeaders problem of one effective section (contract C3)."""
    found = effective_headers(section)
    scope = "" if not section.path else f" at /{'/'.join(section.path)}"
    for header in found.values():
        yield from _name_checks(header)
    origin = found.get(headers.ALLOW_ORIGIN.lower())
    credentials = found.get(headers.ALLOW_CREDENTIALS.lower())
    if origin is not None:
        yield from _origin_checks(origin)
    if credentials is not None:
        yield from _credential_checks(credentials, origin, found, scope)
    max_age = found.get(headers.MAX_AGE.lower())
    if max_age is not None:
        yield from _max_age_checks(max_age)


def effective_headers(section: EffectiveSection) -> dict[str, Header]:
    """The Access-Control-* headers of a section by lower-case name (names are unique there,
    contract A6)."""
    found: dict[str, Header] = {}
    for (name, value), where in zip(section.custom_headers, section.custom_header_locations,
                                    strict=True):
        folded = name.lower()
        if folded.startswith(headers.ACCESS_CONTROL_PREFIX):
            found[folded] = Header(name, value.strip(_OWS), where)
    return found


def _name_checks(header: Header) -> Iterator[Diagnostic]:
    folded = header.name.lower()
    if folded in REQUEST_HEADERS:
        yield make_at("W308", f"customHeaders adds '{header.name}', a request header: browsers "
                      "send it on preflights and ignore it in a response", header.where)
    elif folded not in RESPONSE_HEADERS:
        near = difflib.get_close_matches(folded, list(RESPONSE_HEADERS), n=1)
        hint = f" (did you mean {RESPONSE_HEADERS[near[0]]}?)" if near else ""
        yield make_at("W308", f"customHeaders adds '{header.name}', which is no CORS response "
                      f"header{hint}: browsers ignore it", header.where)
    elif folded in PREFLIGHT_ONLY:
        yield make_at("N301", f"'{header.name}' is read only on preflight (OPTIONS) responses; "
                      "customHeaders send it on every response, where browsers ignore it",
                      header.where)


def _origin_checks(origin: Header) -> Iterator[Diagnostic]:
    value = origin.value
    if value == "*":
        return
    if not value:
        yield make_at("W304", "customHeaders sends an empty Access-Control-Allow-Origin: "
                      "browsers refuse every CORS response", origin.where)
        return
    shown = f"Access-Control-Allow-Origin: {value}"
    if value == "null":
        yield make_at("W305", f"customHeaders sends {shown}: sandboxed iframes, file: pages and "
                      "cross-origin redirects send Origin: null, so any site can obtain it and "
                      "read the answers", origin.where)
        return
    parts = [part for part in _SEPARATORS.split(value) if part]
    if len(parts) > 1:
        yield make_at("W302", f"customHeaders sends {shown}: {len(parts)} origins in one value; "
                      "browsers accept exactly one, so every CORS request fails", origin.where)
        return
    yield from _single_origin_checks(origin, shown)


def _single_origin_checks(origin: Header, shown: str) -> Iterator[Diagnostic]:
    """W303 and W304 for a value that is one origin-like token (contract B6, C3)."""
    value = origin.value
    scheme, sep, rest = value.partition("://")
    if not sep:
        yield make_at("W304", f"customHeaders sends {shown}, which has no scheme: browsers "
                      "compare the value with their origin (such as https://host), so it never "
                      "matches", origin.where)
        return
    authority, cut, _ = split_authority(rest)
    head = f"{scheme}://{authority}"
    if cut:
        yield make_at("W303", f"customHeaders sends {shown}, an origin with a path or a "
                      f"trailing slash: browsers send {head.lower()} and compare exactly, so it "
                      "never matches", origin.where)
    reasons = origin_form_problems(head)
    if reasons:
        yield make_at("W304", f"customHeaders sends {shown}: " + "; ".join(reasons) + ", so "
                      "browsers, which compare the value with their origin exactly, never "
                      "accept it", origin.where)


def origin_form_problems(head: str) -> list[str]:
    """Why ``scheme://host[:port]`` is not the serialized origin a browser compares it with
    (empty when it is one)."""
    if "*" in head or "{" in head or "}" in head:
        return ["it is a pattern, sent as written (only a <cors> rule can allow a family of "
                "origins)"]
    if parse_origin(head) is None:
        return ["it is not a serialized origin (contract B6)"]
    reasons = []
    if head != head.lower():
        reasons.append(f"it has upper-case letters (browsers send {head.lower()})")
    scheme, _, authority = head.partition("://")
    host, port = split_port(authority)
    if is_default_port(scheme, port):
        reasons.append(f"it writes out the default port {port} (browsers send "
                       f"{scheme.lower()}://{host.lower()})")
    return reasons


def _credential_checks(credentials: Header, origin: Header | None,
                       found: Mapping[str, Header], scope: str) -> Iterator[Diagnostic]:
    value = credentials.value
    if value == FALSE:
        yield make_at("N302", "Access-Control-Allow-Credentials: false does nothing: browsers "
                      "treat it as if the header were absent", credentials.where)
        return
    if value != TRUE:
        yield make_at("W306", f"Access-Control-Allow-Credentials: {value or '(empty)'}: browsers "
                      "allow credentials only for the exact lower-case value true, so "
                      "credentialed requests fail", credentials.where)
        return
    if origin is not None and origin.value == "*":
        yield make_at("W301", f"Access-Control-Allow-Credentials: true with "
                      f"Access-Control-Allow-Origin: * ({origin.where}){scope}: browsers refuse "
                      "every credentialed response that carries both, so requests with cookies "
                      "or HTTP authentication fail", credentials.where)
    for name in _WILDCARD_LISTS:
        listed = found.get(name.lower())
        if listed is not None and "*" in headers.split_list(listed.value):
            yield make_at("W307", f"'{listed.name}: {listed.value}' beside "
                          f"Access-Control-Allow-Credentials: true ({credentials.where}){scope}: "
                          "for credentialed requests browsers read * as a literal name, not a "
                          "wildcard", listed.where)


def _max_age_checks(max_age: Header) -> Iterator[Diagnostic]:
    value = max_age.value
    if not _DELTA_SECONDS.fullmatch(value):
        yield make_at("W309", f"Access-Control-Max-Age: {value or '(empty)'} is not a whole "
                      "number of seconds: browsers ignore it and cache the preflight for 5 "
                      "seconds", max_age.where)
        return
    # Digits only (checked above): past a 32-bit int (parse_int32 gives None) is past every
    # browser's cap as much as INT32_MAX is; and the number is written without its leading
    # zeros, however many (int() refuses more than 4,300 digits).
    seconds = parse_int32(value)
    ignored = max_age_ignored_by(INT32_MAX if seconds is None else seconds)
    if ignored is not None:
        yield make_at("W215", f"Access-Control-Max-Age: {value.lstrip('0')} is more than {ignored} "
                      f"honour (Chromium caps preflight caching at {MAX_AGE_HONOURED} s, "
                      f"Firefox at {MAX_AGE_FIREFOX} s)", max_age.where)
