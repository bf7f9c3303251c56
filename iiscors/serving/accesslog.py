"""The access log of ``iiscors serve``: one line per request saying what CORS did with it.

Each line has the request, the status and size of the response, and the CORS outcome with the
rule that decided it, as ``file:line`` — so that a refused request says *why* (which rule, or
none) instead of a bare 403.  Two formats:

- ``text``: the start of the Common Log Format, then ``key=value`` pairs::

    127.0.0.1 - - [05/May/2025:10:00:00 +0000] "GET /api/items HTTP/1.1" 403 59 cors=denied \
kind=actual origin="https://evil.example" rule=- 0.21ms

- ``json``: one JSON object per line (JSON Lines), the same fields and the decision's reason.

The outcome words: ``allowed`` (an allowed actual request: the app answered and the CORS
headers were added), ``preflight`` (an allowed preflight, answered 204 by the middleware),
``denied`` (refused with 403 by the middleware: failUnlistedOrigins is true), ``passthrough``
(no CORS answer: no Origin, CORS disabled, or an unlisted or refused origin left to the app where
failUnlistedOrigins is false) and ``unusable`` (strict mode's 500 while the web.config is
broken).  ``kind`` says what the request was (``preflight``, ``actual`` or ``not-cors``).

Everything a client controls (method, path, query, Origin) is escaped: control characters,
Unicode line separators, backslashes and double quotes can neither start a line nor forge a
field (log injection).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TextIO
from urllib.parse import quote

from iiscors.policy.core import Decision, Outcome, RequestKind


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


#: The outcome words of the log (see the module docstring).
ALLOWED, PREFLIGHT, DENIED, PASSTHROUGH, UNUSABLE, REFUSED = (
    "allowed", "preflight", "denied", "passthrough", "unusable", "refused")

#: What :func:`escape` rewrites: C0 controls, DEL, C1 controls, the Unicode line and paragraph
#: separators (some log viewers break lines there), the backslash (so that escapes are
#: unambiguous) and the double quote (so that a quoted field cannot be closed early).
_ESCAPES: dict[int, str] = {
    **{c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))},
    ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t",
    0x2028: "\\u2028", 0x2029: "\\u2029",
    ord("\\"): "\\\\", ord('"'): '\\"',
}
#: Characters left as they are in the path of the request line (RFC 3986 pchar and "/"); the
#: rest is percent-encoded, so the path there is plain ASCII whatever the client sent.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?%"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def escape(text: str) -> str:
    """``text`` with control characters, line separators, ``\\`` and ``"`` escaped."""
    if text.isprintable() and "\\" not in text and '"' not in text:
        return text  # the common case: nothing to do
    return text.translate(_ESCAPES)


def outcome_word(decision: Decision) -> str:
    """The log's word for what the middleware did with a request."""
    if decision.outcome is Outcome.ALLOWED:
        return PREFLIGHT if decision.kind is RequestKind.PREFLIGHT else ALLOWED
    if decision.outcome is Outcome.UNUSABLE:
        return UNUSABLE  # contract E6: the path's configuration is unusable, answered 500
    return DENIED if decision.outcome is Outcome.DENIED else PASSTHROUGH


@dataclass(frozen=True, slots=True)
class CorsPart:
    """What CORS did with one request, as the log records it."""

    outcome: str  # one of the outcome words
    kind: str | None
    origin: str | None
    rule: str | None  # "file:line" of the rule that decided, None for no rule
    decision: Decision | None  # for the reason, worded only when a JSON line needs it

    @property
    def reason(self) -> str:
        if self.outcome == REFUSED:
            return ("the path is refused (400) before CORS is decided, as IIS's request "
                    "filtering refuses it")
        if self.decision is None:
            return "the web.config is unusable (strict mode): every request is answered 500"
        return self.decision.reason


def cors_part(decision: Decision) -> CorsPart:
    rule = str(decision.rule.location) if decision.rule is not None else None
    return CorsPart(outcome_word(decision), decision.kind.value, decision.origin, rule, decision)


def refused_part(origin: str | None) -> CorsPart:
    """A path the proxy's guard refused before the middleware decided anything."""
    return CorsPart(REFUSED, None, origin, None, None)


def unusable_part(origin: str | None) -> CorsPart:
    """Strict mode while the web.config is unusable: every request answered 500 (contract A8)."""
    return CorsPart(UNUSABLE, None, origin, None, None)


@dataclass(frozen=True, slots=True)
class Entry:
    """One request as the log records it.  ``path`` is text (undecodable bytes kept as
    surrogate escapes), ``query`` the raw query string; nothing is escaped yet."""

    started: float  # time.time() when the request arrived
    remote: str
    method: str
    path: str
    query: str
    protocol: str
    status: int
    size: int
    duration: float  # seconds
    cors: CorsPart


def _uri(entry: Entry) -> str:
    raw = entry.path.encode("utf-8", "surrogateescape")
    uri = quote(raw, safe=_PATH_SAFE)
    if entry.query:
        uri += "?" + quote(entry.query.encode("utf-8", "surrogateescape"), safe=_QUERY_SAFE)
    return uri


def _field(value: str | None) -> str:
    """A ``key=value`` value: ``-`` for none, bare when plainly safe, else quoted."""
    if value is None:
        return "-"
    escaped = escape(value)
    if escaped and escaped == value and " " not in value and "=" not in value:
        return value
    return f'"{escaped}"'


_stamps: tuple[int, str] = (-1, "")


def _clf_time(started: float) -> str:
    """``05/May/2025:10:00:00 +0000``, made once per second (requests come many a second)."""
    global _stamps
    second = int(started)
    cached_second, text = _stamps
    if second != cached_second:
        moment = time.gmtime(second)
        text = (f"{moment.tm_mday:02d}/{_MONTHS[moment.tm_mon - 1]}/{moment.tm_year}:"
                f"{moment.tm_hour:02d}:{moment.tm_min:02d}:{moment.tm_sec:02d} +0000")
        _stamps = (second, text)  # one tuple: a thread never reads a second with another's text
    return text


def format_text(entry: Entry) -> str:
    stamp = _clf_time(entry.started)
    cors = entry.cors
    # the Origin is always quoted when present, so that an Origin "-" is not "no Origin"
    origin = "-" if cors.origin is None else f'"{escape(cors.origin)}"'
    return (f'{escape(entry.remote)} - - [{stamp}] '
            f'"{escape(entry.method)} {_uri(entry)} {escape(entry.protocol)}" '
            f"{entry.status} {entry.size} cors={cors.outcome} kind={cors.kind or '-'} "
            f"origin={origin} rule={_field(cors.rule)} {entry.duration * 1000:.2f}ms")


def format_json(entry: Entry) -> str:
    moment = time.gmtime(entry.started)
    millis = int(entry.started * 1000) % 1000
    # ensure_ascii escapes every control and non-ASCII character (and lone surrogates), so a
    # JSON line is always one line of printable ASCII.
    return json.dumps({
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", moment) + f".{millis:03d}Z",
        "remote": entry.remote, "method": entry.method, "path": entry.path,
        "query": entry.query, "protocol": entry.protocol, "status": entry.status,
        "bytes": entry.size, "duration_ms": round(entry.duration * 1000, 3),
        "cors": entry.cors.outcome, "kind": entry.cors.kind, "origin": entry.cors.origin,
        "rule": entry.cors.rule, "reason": entry.cors.reason,
    }, ensure_ascii=True)


class AccessLog:
    """Where the lines go: a text stream, written one whole line at a time (threads share
    it) and flushed after each line, so that ``tail -f`` and a pipe see every request.

    :param stream: the stream to write to.
    :param fmt: ``text`` or ``json``.
    :param owned: close the stream in :meth:`close` (a file opened for the log).
    """

    def __init__(self, stream: TextIO, fmt: LogFormat | str = LogFormat.TEXT, *,
                 owned: bool = False) -> None:
        self.stream = stream
        self.format = LogFormat(fmt)
        self._render = format_json if self.format is LogFormat.JSON else format_text
        self._owned = owned
        self._lock = threading.Lock()

    def write(self, entry: Entry) -> None:
        line = self._render(entry) + "\n"
        with self._lock:
            self.stream.write(line)
            self.stream.flush()

    def close(self) -> None:
        if self._owned:
            self.stream.close()


def open_access_log(target: str | None, fmt: LogFormat | str = LogFormat.TEXT) -> AccessLog:
    """None for standard error (where Werkzeug's server logged requests), ``-`` for standard
    output, else a file opened for appending (UTF-8).

    :raises OSError: the file cannot be opened.
    """
    if target is None:
        return AccessLog(sys.stderr, fmt)
    if target == "-":
        return AccessLog(sys.stdout, fmt)
    return AccessLog(open(target, "a", encoding="utf-8"), fmt, owned=True)
