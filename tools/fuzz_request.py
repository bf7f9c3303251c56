"""Coverage-guided fuzz target (atheris/libFuzzer) for request evaluation through the middleware
(issue 7; contract B2-B15).

Each input picks one of a few configurations (the strict one of the hardening suite with
``failUnlistedOrigins`` on and off, a ``*``-only one, a scheme-wildcard-plus-exact one with a
location) and builds a request from fuzzed bytes: method, path, Origin,
Access-Control-Request-Method and -Headers, read as latin-1 as a WSGI server hands them over
(PEP 3333).  The request goes through :class:`iiscors.CorsMiddleware` in-process.  It fails
(a libFuzzer crash) when the middleware raises, answers 5xx, emits an invalid header name or
value, more than one Access-Control-Allow-Origin value, echoes an Origin that is not a serialized
origin (contract B6) or, for the strict configuration, allows an origin the rules do not allow.

Bounded run (what CI does through ``tests/hardening/test_fuzz_smoke.py``)::

    python tools/fuzz_request.py --runs 5000            # or --max-time 10, or -atheris_runs=N

Long run::

    mkdir -p .fuzz/request
    python tools/fuzz_request.py .fuzz/request -max_total_time=3600 -timeout=5 -rss_limit_mb=512
    python tools/fuzz_request.py ./crash-<sha1>          # replay a crash

The input layout (see :func:`decode`) is stable, so a crash file replays the same request.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import atheris  # type: ignore[import-untyped]  # no stubs published

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz_loader import run

with atheris.instrument_imports(include=["iiscors"]):
    from iiscors import CorsMiddleware

_STRICT_RULES = """
      <add origin="https://*.contoso.com" allowCredentials="true" maxAge="600">
        <allowHeaders allowAllRequestedHeaders="true"><add header="content-type" /></allowHeaders>
        <allowMethods><add method="GET" /><add method="POST" /></allowMethods>
        <exposeHeaders><add header="x-request-id" /></exposeHeaders>
      </add>
      <add origin="https://blocked.contoso.com" allowed="false" />"""

CONFIGS: list[tuple[str, bytes]] = [
    (
        "strict-fail",
        f"""<configuration><system.webServer>
    <cors enabled="true" failUnlistedOrigins="true">{_STRICT_RULES}</cors>
    </system.webServer></configuration>""".encode(),
    ),
    (
        "strict-pass",
        f"""<configuration><system.webServer>
    <cors enabled="true">{_STRICT_RULES}</cors>
    </system.webServer></configuration>""".encode(),
    ),
    (
        "star-only",
        b"""<configuration><system.webServer>
    <cors enabled="true"><add origin="*" allowCredentials="true">
      <allowHeaders allowAllRequestedHeaders="true" /></add></cors>
    </system.webServer></configuration>""",
    ),
    (
        "scheme-and-location",
        b"""<configuration>
    <system.webServer><cors enabled="true" failUnlistedOrigins="true">
      <add origin="http://*" /><add origin="https://a.example:8443" allowCredentials="true" />
      <add origin="null" allowed="false" /><add origin="*" />
    </cors></system.webServer>
    <location path="api"><system.webServer><cors enabled="true">
      <clear /><add origin="https://*.api.example" maxAge="5" />
    </cors></system.webServer></location>
    </configuration>""",
    ),
]

METHODS = ["GET", "POST", "OPTIONS", "PUT", "DELETE", "HEAD", "PATCH", "options", "OPTIONS "]

_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_LABEL = r"[A-Za-z0-9_-]+"
# Contract B6: what may ever be echoed as Access-Control-Allow-Origin.
_SERIALIZED = re.compile(
    r"null|[A-Za-z][A-Za-z0-9+.-]*://"
    rf"(?:{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?"
)
_STRICT_ALLOWED = re.compile(rf"https://{_LABEL}(?:\.{_LABEL})*\.contoso\.com")


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"app"]


APPS = [(name, CorsMiddleware(_app, data)) for name, data in CONFIGS]


def _latin1(fdp: Any, limit: int) -> str | None:
    if fdp.ConsumeBool():
        return None
    return bytes(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, limit))).decode("latin-1")


def decode(data: bytes) -> tuple[int, str, str, dict[str, str]]:
    """Turn fuzzer bytes into (config index, method, path, headers)."""
    fdp = atheris.FuzzedDataProvider(data)
    index = fdp.ConsumeIntInRange(0, len(APPS) - 1)
    method = METHODS[fdp.ConsumeIntInRange(0, len(METHODS) - 1)]
    path = "/" + bytes(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 16))).decode("latin-1")
    headers: dict[str, str] = {}
    for key in ("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "HTTP_ACCESS_CONTROL_REQUEST_HEADERS"):
        value = _latin1(fdp, 64)
        if value is not None:
            headers[key] = value
    origin = bytes(fdp.ConsumeBytes(fdp.remaining_bytes())).decode("latin-1")
    if origin != "\x00":  # a lone NUL means "no Origin header"
        headers["HTTP_ORIGIN"] = origin
    return index, method, path, headers


def test_one_input(data: bytes) -> None:
    index, method, path, headers = decode(data)
    name, app = APPS[index]
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "wsgi.url_scheme": "http",
        "wsgi.input": None,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
        **headers,
    }
    seen: dict[str, Any] = {}

    def start_response(
        status: str, response_headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Any:
        seen["status"], seen["headers"] = status, response_headers
        return lambda _: None

    body = app(environ, start_response)
    b"".join(body)
    getattr(body, "close", lambda: None)()
    status = int(seen["status"].split()[0])
    if status >= 500:
        raise AssertionError(f"{name}: 5xx {seen['status']}")
    acao = []
    for key, value in seen["headers"]:
        if not (isinstance(key, str) and _TOKEN.fullmatch(key)):
            raise AssertionError(f"{name}: invalid header name {key!r}")
        if not (isinstance(value, str) and _FIELD_VALUE.fullmatch(value)):
            raise AssertionError(f"{name}: invalid header value {key}: {value!r}")
        if key.lower() == "access-control-allow-origin":
            acao.append(value)
    if len(acao) > 1:
        raise AssertionError(f"{name}: more than one Access-Control-Allow-Origin: {acao!r}")
    origin = headers.get("HTTP_ORIGIN")
    for value in acao:
        if value == "*":
            continue
        if value != origin or not _SERIALIZED.fullmatch(value) or len(value) > 2048:
            raise AssertionError(f"{name}: echoed {value!r} for Origin {origin!r} (contract B6)")
        if name.startswith("strict") and (
            not _STRICT_ALLOWED.fullmatch(value) or value == "https://blocked.contoso.com"
        ):
            raise AssertionError(f"{name}: false allow of {value!r}")


DICTIONARY = [
    "https://",
    "http://",
    ".contoso.com",
    "https://app.contoso.com",
    "blocked",
    "null",
    "*",
    "@",
    ":8443",
    ":443",
    "/",
    "?",
    "#",
    "\\",
    "%0d%0a",
    "\r\n",
    "\x00",
    "\x0b",
    ",",
    " ",
    "xn--",
    "a.example",
    "[::1]",
    "127.0.0.1",
    "api",
    "content-type",
    "x-a, x-b",
]

if __name__ == "__main__":
    run(test_one_input, [], DICTIONARY, "Fuzz iiscors request evaluation through the middleware.")
