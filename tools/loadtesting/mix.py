"""What a request mix is, and the CORS mix of issue 7.

A mix plans the n-th request (:class:`Planned`: the bytes to send and what must come back) and
checks its response.  Every origin of the CORS mix is unique to its request, so an unbounded
per-origin cache in the middleware would show up as memory growth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

#: The CORS mix's web.config: a wildcard with credentials, an exact deny rule, and
#: failUnlistedOrigins (unlisted origins get 403).
WEB_CONFIG = b"""<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <system.webServer>
    <cors enabled="true" failUnlistedOrigins="true">
      <add origin="https://*.contoso.com" allowCredentials="true" maxAge="600">
        <allowHeaders allowAllRequestedHeaders="true"><add header="content-type" /></allowHeaders>
        <allowMethods><add method="GET" /><add method="POST" /></allowMethods>
        <exposeHeaders><add header="x-request-id" /></exposeHeaders>
      </add>
      <add origin="https://blocked.contoso.com" allowed="false" />
    </cors>
  </system.webServer>
</configuration>
"""


@dataclass(frozen=True)
class Planned:
    """One request: its head (ending with the blank line) and ``request_body``, and what must
    come back: a status among ``status`` (empty: the mix checks itself), the
    Access-Control-Allow-Origin ``acao`` (None: no CORS header at all), and the response body
    when ``expect_body`` is given."""

    kind: str
    head: bytes
    status: tuple[int, ...]
    acao: str | None
    expect_body: bytes | None = None
    request_body: bytes = b""


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]]  # names lower-cased
    body: bytes
    keep_alive: bool


class RequestMix(Protocol):
    def plan(self, n: int) -> Planned: ...

    def check(self, n: int, planned: Planned, started: float, response: Response) -> str | None:
        """A problem with the response (None: right)."""

    def finished(self) -> bool:
        """True when the load should stop before its time is up."""


class PlannedMix:
    """A mix whose requests say what must come back (checked by :func:`check_planned`)."""

    def __init__(self, plan: Callable[[int], Planned]) -> None:
        self._plan = plan

    def plan(self, n: int) -> Planned:
        return self._plan(n)

    def check(self, n: int, planned: Planned, started: float, response: Response) -> str | None:
        return check_planned(planned, response)

    def finished(self) -> bool:
        return False


def http_head(method: str, path: str, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """The head of an HTTP/1.1 request to 127.0.0.1."""
    lines = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    lines += "".join(f"{name}: {value}\r\n" for name, value in headers)
    return (lines + "\r\n").encode("latin-1")


def check_planned(planned: Planned, response: Response) -> str | None:
    """A problem with ``response`` given what ``planned`` says must come back (None: right)."""
    if planned.status and response.status not in planned.status:
        return f"{planned.kind}: status {response.status}, expected {planned.status}"
    acao = [v for k, v in response.headers if k == "access-control-allow-origin"]
    if planned.acao is None:
        cors = [k for k, _ in response.headers if k.startswith("access-control-")]
        if cors:
            return f"{planned.kind}: unexpected CORS headers {cors}"
    elif acao != [planned.acao]:
        return f"{planned.kind}: Access-Control-Allow-Origin {acao!r}, expected {planned.acao!r}"
    if planned.expect_body is not None and response.body != planned.expect_body:
        return (f"{planned.kind}: a body of {len(response.body)} bytes, expected "
                f"{len(planned.expect_body)}: {response.body[:80]!r}")
    return None


def cors_plan(n: int) -> Planned:
    """The n-th request of issue 7's mix; every origin is unique to its request."""
    kind = n % 7
    if kind == 0:
        origin = f"https://u{n}.contoso.com"
        return Planned("actual-allowed", _head("GET", origin), (200,), origin)
    if kind == 1:
        origin = f"https://u{n}.api.contoso.com"
        extra = (("Access-Control-Request-Method", "POST"),
                 ("Access-Control-Request-Headers", "x-a, x-b"))
        return Planned("preflight-allowed", _head("OPTIONS", origin, extra), (204,), origin)
    if kind == 2:
        origin = f"https://u{n}.evil.example"
        return Planned("actual-unlisted", _head("GET", origin), (403,), None)
    if kind == 3:
        origin = f"https://u{n}.evil.example"
        head = _head("OPTIONS", origin, (("Access-Control-Request-Method", "PUT"),))
        return Planned("preflight-unlisted", head, (403,), None)
    if kind == 4:
        return Planned("no-origin", _head("GET", None), (200,), None)
    if kind == 5:
        return Planned("denied-exact", _head("GET", "https://blocked.contoso.com"), (403,), None)
    origin = f"https://u{n}.contoso.com.evil.example/p?{n}"  # not a serialized origin (B6)
    return Planned("malformed", _head("POST", origin), (403,), None)


def _head(method: str, origin: str | None, extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    headers = [] if origin is None else [("Origin", origin)]
    if method == "POST":
        headers.append(("Content-Length", "0"))
    return http_head(method, "/", [*headers, *extra])
