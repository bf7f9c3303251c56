"""A small real HTTP/1.1 backend on 127.0.0.1 for the ``iiscors serve --proxy`` load test.

Standard library only, run as its own process (``python tools/loadtesting/backend.py PORT``) so
that its memory and CPU are not the proxy's.  It knows nothing of CORS:

- ``GET`` answers 200 with :func:`answer_body` of the path (query included), 404 under
  ``/api/missing``;
- ``POST`` answers 200 with the request body echoed.
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: The path prefix the backend answers 404 under.
MISSING_PREFIX = "/api/missing"


def answer_body(path: str) -> bytes:
    """What the backend answers to ``GET path``: a few hundred bytes naming the path."""
    return (f"backend answer for {path}\n" * 8).encode("utf-8")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real backend

    def do_GET(self) -> None:
        if self.path.startswith(MISSING_PREFIX):
            self._answer(404, b"not found\n")
        else:
            self._answer(200, answer_body(self.path))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(200, self.rfile.read(length))

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a line per request would cost more than the answer."""


class Backend(ThreadingHTTPServer):
    daemon_threads = True
    # The proxy may open one connection per request: a deep backlog, not socketserver's 5.
    request_queue_size = 1024


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: backend.py PORT", file=sys.stderr)
        return 2
    with Backend(("127.0.0.1", int(argv[0])), Handler) as server:
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
