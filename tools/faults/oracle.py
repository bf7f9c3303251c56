"""The fault mix's requests, and each good version's answer to them, computed in-process.

Every version answers each request of the mix differently, so a response can be attributed to
exactly one version, or shown to be wrong (a mix of two versions, a 5xx, ...).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from _benchlib import raw_wsgi_app

from faults.versions import FAULT_VERSIONS


@dataclass(frozen=True)
class FaultRequest:
    kind: str
    method: str
    headers: tuple[tuple[str, str], ...]

    def head(self) -> bytes:
        lines = f"{self.method} / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        lines += "".join(f"{name}: {value}\r\n" for name, value in self.headers)
        return (lines + "\r\n").encode("latin-1")

    def environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.method,
            "PATH_INFO": "/",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(),
        }
        for name, value in self.headers:
            key = name.upper().replace("-", "_")
            environ[key if key == "CONTENT_LENGTH" else f"HTTP_{key}"] = value
        return environ


def fault_request(n: int) -> FaultRequest:
    """The n-th request of the fault mix: every version answers each one differently."""
    kind = n % 7
    contoso = ("Origin", f"https://u{n}.contoso.com")
    if kind == 0:
        return FaultRequest("actual-contoso", "GET", (contoso,))
    if kind == 1:
        return FaultRequest("preflight-put", "OPTIONS", (
            contoso, ("Access-Control-Request-Method", "PUT"),
            ("Access-Control-Request-Headers", "x-a")))
    if kind == 2:
        return FaultRequest("preflight-delete", "OPTIONS", (
            contoso, ("Access-Control-Request-Method", "DELETE"),
            ("Access-Control-Request-Headers", "x-b")))
    if kind == 3:
        return FaultRequest("actual-fabrikam", "GET", (("Origin", f"https://u{n}.fabrikam.com"),))
    if kind == 4:
        return FaultRequest("no-origin", "GET", ())
    if kind == 5:
        return FaultRequest("actual-unlisted", "GET", (("Origin", f"https://u{n}.evil.example"),))
    return FaultRequest("post-contoso", "POST", (contoso, ("Content-Length", "0")))


Signature = tuple[int, tuple[tuple[str, str], ...]]


def signature(status: int, headers: Iterable[tuple[str, str]]) -> Signature:
    """What a version decides about a response: its status, its Access-Control-* and Vary
    headers and its X-Version, in order-independent form."""
    kept = sorted(
        (name.lower(), value.strip())
        for name, value in headers
        if name.lower().startswith("access-control-") or name.lower() in ("vary", "x-version")
    )
    return status, tuple(kept)


class Oracle:
    """Each good version's answer, computed by an in-process middleware that never reloads,
    around the same app the load test serves (:func:`_benchlib.raw_wsgi_app`)."""

    def __init__(self) -> None:
        from iiscors import CorsMiddleware

        self._middlewares = {
            tag: CorsMiddleware(raw_wsgi_app, data, reload=False)
            for tag, data in FAULT_VERSIONS.items()
        }

    def expected(self, request: FaultRequest, tag: str) -> Signature:
        answer: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            answer[:] = [int(status.split()[0]), headers]
            return lambda _: None

        body = self._middlewares[tag](request.environ(), start_response)
        for _ in body:
            pass
        return signature(answer[0], answer[1])

    def versions(self, request: FaultRequest, status: int,
                 headers: Iterable[tuple[str, str]]) -> list[str]:
        """The good versions whose whole answer this response is (one, or none if it is wrong)."""
        got = signature(status, headers)
        return [tag for tag in self._middlewares if self.expected(request, tag) == got]
