"""Shared test helpers: web.config snippets and direct WSGI calls (no test client: the
assertions are about exact headers, and a direct call shows exactly what the middleware did)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_configs"
#: ../shared beside the clone, as on the developers' machines and in CI
CORPUS = ROOT.parent / "shared" / "corpus" / "webconfigs"


def web_config(cors: str = "", *, server: str = "", outside: str = "") -> bytes:
    """A whole web.config around a ``<cors>`` snippet (and other system.webServer content)."""
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n<system.webServer>\n'
            f"{cors}\n{server}\n</system.webServer>\n{outside}\n</configuration>\n").encode()


@dataclass
class Recorder:
    """A WSGI app that records its calls and answers with a fixed status and headers."""

    status: str = "200 OK"
    headers: list[tuple[str, str]] = field(
        default_factory=lambda: [("Content-Type", "text/plain")])
    body: bytes = b"app body"
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.calls.append(environ)
        start_response(self.status, list(self.headers))
        return [self.body]


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def cors(self) -> dict[str, str]:
        """Access-Control-* and Vary headers, one value each (asserted unique)."""
        found: dict[str, str] = {}
        for name, value in self.headers:
            if name.lower().startswith("access-control-") or name.lower() == "vary":
                assert name not in found, f"duplicate header {name}"
                found[name] = value
        return found


def environ_for(method: str = "GET", path: str = "/", headers: dict[str, str] | None = None,
                host: str = "api.contoso.com", scheme: str = "https") -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": host,
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host,
        "wsgi.url_scheme": scheme,
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def call(app: Any, method: str = "GET", path: str = "/",
         headers: dict[str, str] | None = None, **kwargs: Any) -> Response:
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Any:
        captured["status"] = int(status.split()[0])
        captured["headers"] = response_headers
        return lambda data: None

    body = b"".join(app(environ_for(method, path, headers, **kwargs), start_response))
    return Response(captured["status"], captured["headers"], body)
