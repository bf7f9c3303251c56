"""Small plain-text answers the serving apps give themselves (404, 502...)."""

from __future__ import annotations

from collections.abc import Iterable

from iiscors.wsgi import StartResponse


def plain(start_response: StartResponse, status: str, body: bytes,
           extra: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body))), *extra])
    return [body]
