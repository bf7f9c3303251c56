"""The access log of ``iiscors serve`` (issue 12, item 15): one line per request with the CORS
outcome (allowed, denied, preflight, passthrough) and the rule's file:line, as text or JSON
lines, with every client-controlled value escaped (no log injection).

Most tests run the logging wrapper in process around the real middleware; the last ones run
the real command on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from iiscors import CorsMiddleware
from iiscors.serving.accesslog import AccessLog, escape
from iiscors.serving.logged import LoggedWSGI

from support import request, running, serve_command

CONFIG = """\
<?xml version="1.0" encoding="utf-8"?>
<configuration>
<system.webServer>
<cors enabled="true" failUnlistedOrigins="true">
  <add origin="https://a.example" allowCredentials="true">
    <allowMethods><add method="PUT"/></allowMethods>
  </add>
  <add origin="https://no.example" allowed="false"/>
</cors>
</system.webServer>
<location path="open">
<system.webServer>
<cors enabled="true" failUnlistedOrigins="false"><add origin="https://b.example"/></cors>
</system.webServer>
</location>
</configuration>
"""
RULE_A = 5  # the line of <add origin="https://a.example">
RULE_NO = 8
RULE_B = 13  # <location path="open">'s <add origin="https://b.example">


class Body:
    """An app's response body that records whether the server closed it (PEP 3333)."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        self.closed = True


class App:
    def __init__(self, chunks: list[bytes] | None = None, status: str = "200 OK") -> None:
        self.body = Body(chunks if chunks is not None else [b"hello ", b"world"])
        self.status = status

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response(self.status, [("Content-Type", "text/plain")])
        return self.body


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "web.config"
    path.write_text(CONFIG)
    return path


def environ(method: str = "GET", path: str = "/api", headers: dict[str, str] | None = None,
            query: str = "") -> dict[str, Any]:
    env: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
                           "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
                           "wsgi.url_scheme": "http", "SCRIPT_NAME": ""}
    for name, value in (headers or {}).items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def served(app: Any, env: dict[str, Any], *, consume: bool = True) -> tuple[str, Body | None]:
    """Call ``app`` as a server would: start_response, iterate, close."""
    seen: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: object = None) -> Any:
        seen.append(status)
        return lambda data: None

    body = app(env, start_response)
    if consume:
        for _ in body:
            pass
    body.close()
    return seen[0], None


def logged(config: Path, fmt: str = "text", app: Any = None,
           **options: Any) -> tuple[LoggedWSGI, io.StringIO]:
    stream = io.StringIO()
    middleware = CorsMiddleware(app or App(), str(config), **options)
    return LoggedWSGI(middleware, AccessLog(stream, fmt)), stream


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_each_outcome_and_its_rule_in_text(config: Path) -> None:
    wrapper, stream = logged(config)
    served(wrapper, environ("GET", "/api", {"Origin": "https://a.example"}))
    served(wrapper, environ("GET", "/api", {"Origin": "https://evil.example"}))
    served(wrapper, environ("GET", "/api", {"Origin": "https://no.example"}))
    served(wrapper, environ("OPTIONS", "/api", {"Origin": "https://a.example",
                                                "Access-Control-Request-Method": "PUT"}))
    served(wrapper, environ("GET", "/api"))
    served(wrapper, environ("GET", "/open/x", {"Origin": "https://evil.example"}))
    allowed, unlisted, refused, preflight, plain, passed = lines(stream)
    where = f"{config}:{RULE_A}"
    assert '"GET /api HTTP/1.1" 200 11 cors=allowed kind=actual ' \
           f'origin="https://a.example" rule={where} ' in allowed
    assert allowed.startswith("127.0.0.1 - - [")
    assert '" 403 59 cors=denied kind=actual origin="https://evil.example" rule=- ' in unlisted
    assert f'" 403 59 cors=denied kind=actual origin="https://no.example" ' \
           f"rule={config}:{RULE_NO} " in refused
    assert f'"OPTIONS /api HTTP/1.1" 204 0 cors=preflight kind=preflight ' \
           f'origin="https://a.example" rule={where} ' in preflight
    assert '" 200 11 cors=passthrough kind=not-cors origin=- rule=- ' in plain
    # <location path="open"> has failUnlistedOrigins false: the app answers, no CORS headers
    assert '" 200 11 cors=passthrough kind=actual origin="https://evil.example" rule=- ' in passed
    assert all(line.endswith("ms") for line in lines(stream))


def test_json_lines_carry_every_field(config: Path) -> None:
    wrapper, stream = logged(config, "json")
    served(wrapper, environ("PUT", "/api/items", {"Origin": "https://no.example"}, query="a=1"))
    served(wrapper, environ("OPTIONS", "/api", {"Origin": "https://a.example",
                                                "Access-Control-Request-Method": "DELETE"}))
    refused, preflight = (json.loads(line) for line in lines(stream))
    assert refused["status"] == 403 and refused["bytes"] == 59
    assert (refused["method"], refused["path"], refused["query"]) == ("PUT", "/api/items", "a=1")
    assert (refused["cors"], refused["kind"], refused["origin"]) == (
        "denied", "actual", "https://no.example")
    assert refused["rule"] == f"{config}:{RULE_NO}"
    assert 'allowed="false"' in refused["reason"]
    assert refused["remote"] == "127.0.0.1" and refused["protocol"] == "HTTP/1.1"
    assert refused["time"].endswith("Z") and refused["duration_ms"] >= 0
    # A preflight for a method the rule does not list: still the middleware's 204 (contract
    # B8 leaves the method check to the browser), logged as a preflight of rule A.
    assert (preflight["status"], preflight["cors"], preflight["rule"]) == (
        204, "preflight", f"{config}:{RULE_A}")


QUOTED = r'"(?:[^"\\]|\\.)*"'
TEXT_LINE = re.compile(
    rf'(?P<remote>\S+) - - \[[^\]]+\] "(?P<method>\S+) (?P<uri>\S+) (?P<protocol>\S+)" '
    rf"(?P<status>\d+) (?P<size>\d+) cors=(?P<cors>\S+) kind=(?P<kind>\S+) "
    rf"origin=(?P<origin>{QUOTED}|-) rule=(?P<rule>{QUOTED}|[^\s\"]+) [\d.]+ms")

def test_the_decision_logged_is_the_request_as_it_arrived(config: Path) -> None:
    # An app that rewrites PATH_INFO (as dispatchers do) does not change what the log says:
    # /open/x is judged by <location path="open">, which allows https://b.example.
    def rewriting(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        environ["PATH_INFO"] = "/api"
        start_response("200 OK", [])
        return [b"ok"]

    wrapper, stream = logged(config, "json", rewriting)
    served(wrapper, environ("GET", "/open/x", {"Origin": "https://b.example"}))
    entry = json.loads(lines(stream)[0])
    assert (entry["path"], entry["cors"], entry["rule"]) == (
        "/open/x", "allowed", f"{config}:{RULE_B}")


def test_lines_from_many_threads_never_mix(config: Path, tmp_path: Path) -> None:
    import threading

    from iiscors.serving.accesslog import open_access_log

    path = tmp_path / "access.log"
    wrapper = LoggedWSGI(CorsMiddleware(App(), str(config)), open_access_log(str(path)))
    hostile = {"Origin": "https://" + "x" * 3000 + ".example"}  # long lines

    def client() -> None:
        for _ in range(200):
            served(wrapper, environ("GET", "/api", hostile))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wrapper.log.close()
    written = path.read_text().splitlines()
    assert len(written) == 1600
    assert all(TEXT_LINE.fullmatch(line) for line in written)


HOSTILE = [
    "https://a.example\r\n127.0.0.1 - - [01/Jan/2030:00:00:00 +0000] \"GET /admin\" 200",
    "https://x.example\x1b]0;pwned\x07\x1b[31m",
    "https://x.example\u2028fake\u0085line\x00",
    'https://x.example" rule=/etc/passwd:1 cors="allowed',
]


@pytest.mark.parametrize("origin", HOSTILE)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_client_values_cannot_forge_lines_or_fields(config: Path, fmt: str, origin: str) -> None:
    wrapper, stream = logged(config, fmt)
    served(wrapper, environ("GET\x1b[2J", "/a\nb\x7f/\u2029" + origin[-5:],
                            {"Origin": origin}, query="q=\r\n\x1b"))
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    line = text[:-1]
    assert all(" " <= c < "\x7f" for c in line), repr(line)  # printable ASCII only
    if fmt == "json":
        entry = json.loads(line)
        assert entry["origin"] == origin  # escaped, not lost: JSON gives it back exactly
        assert entry["cors"] == "denied"
    else:
        # the line parses into the true fields: a quoted value cannot be closed early
        fields = TEXT_LINE.fullmatch(line)
        assert fields is not None, line
        assert (fields["status"], fields["cors"], fields["rule"]) == ("403", "denied", "-")
        assert fields["origin"].startswith('"https://') and fields["method"] == "GET\\x1b[2J"


def test_escape_keeps_text_readable_and_unambiguous() -> None:
    assert escape("https://a.example") == "https://a.example"
    assert escape("a\nb\tc\x1b\x7f\x85\u2028") == "a\\nb\\tc\\x1b\\x7f\\x85\\u2028"
    assert escape("back\\slash \"quoted\"") == 'back\\\\slash \\"quoted\\"'
    assert escape("caf\u00e9 \u65e5\u672c") == "caf\u00e9 \u65e5\u672c"  # printable stays


def test_the_app_body_is_closed_and_counted_even_when_cut_short(config: Path) -> None:
    app = App([b"a" * 10, b"b" * 20, b"c" * 30])
    wrapper, stream = logged(config, "json", app)
    served(wrapper, environ("GET", "/api", {"Origin": "https://a.example"}))
    assert app.body.closed and json.loads(lines(stream)[0])["bytes"] == 60
    # The server stops iterating early (the client went away): close() still reaches the app.
    app = App([b"a" * 10, b"b" * 20])
    wrapper, stream = logged(config, "json", app)
    start: list[str] = []
    body = wrapper(environ("GET", "/api", {"Origin": "https://a.example"}),
                   lambda s, h, e=None: start.append(s))  # type: ignore[arg-type,misc]
    first = next(iter(body))
    body.close()  # type: ignore[attr-defined]
    assert first == b"a" * 10 and app.body.closed
    assert json.loads(lines(stream)[0])["bytes"] == 10


def test_an_app_that_raises_is_logged_as_500_and_the_error_propagates(config: Path) -> None:
    def broken(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise RuntimeError("boom")

    wrapper, stream = logged(config, "json", broken, answer_crashes=False)
    with pytest.raises(RuntimeError, match="boom"):
        wrapper(environ("GET", "/api", {"Origin": "https://a.example"}),
                lambda s, h, e=None: None)  # type: ignore[arg-type,misc]
    entry = json.loads(lines(stream)[0])
    assert (entry["status"], entry["bytes"], entry["cors"]) == (500, 0, "allowed")


def test_strict_mode_500_is_logged_as_an_unusable_configuration(config: Path) -> None:
    wrapper, stream = logged(config, "json", strict=True, reload_interval=0)
    config.write_text("<configuration><broken")
    time.sleep(0.01)
    served(wrapper, environ("GET", "/api", {"Origin": "https://a.example"}))
    entry = json.loads(lines(stream)[0])
    assert (entry["status"], entry["cors"], entry["rule"]) == (500, "unusable", None)


def test_a_second_decision_costs_microseconds(config: Path) -> None:
    # docs/serving.md: the log evaluates the decision a second time; that costs about a
    # microsecond on a laptop.  A loose bound (50 us) so that a busy machine does not fail it.
    middleware = CorsMiddleware(App(), str(config))
    env = environ("GET", "/api", {"Origin": "https://a.example"})
    rounds = 20_000
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(rounds):
            middleware.decide(env)
        best = min(best, (time.perf_counter() - start) / rounds)
    assert best < 50e-6


# -- the real command --------------------------------------------------------------------------

def test_serve_logs_each_request_to_stderr_by_default(config: Path, tmp_path: Path) -> None:
    errors = tmp_path / "stderr.txt"
    with running(serve_command(str(config)), stderr_to=errors) as server:
        port = server.port
        assert request(port, "GET", "/api/items", {"Origin": "https://evil.example"})[0] == 403
        assert request(port, "GET", "/api/items", {"Origin": "https://a.example"})[0] == 200
        deadline = time.monotonic() + 10
        # each line is written when its response's body is closed, by the thread that served
        # it: the two lines may come in either order
        while not all(word in errors.read_text() for word in ("cors=allowed", "cors=denied")):
            assert time.monotonic() < deadline, errors.read_text()
            time.sleep(0.05)
        assert "HTTP/1.1" not in server.text()  # not on standard output
    logged = [line for line in errors.read_text().splitlines() if "HTTP/1.1" in line]
    (refused,) = [line for line in logged if "cors=denied" in line]
    (allowed,) = [line for line in logged if "cors=allowed" in line]
    assert '"GET /api/items HTTP/1.1" 403 59 cors=denied kind=actual ' \
           'origin="https://evil.example" rule=- ' in refused
    assert '" 200 ' in allowed and f" rule={config}:{RULE_A} " in allowed


def test_serve_logs_to_stdout_with_a_dash(config: Path, tmp_path: Path) -> None:
    errors = tmp_path / "stderr.txt"
    with running(serve_command(str(config), "--access-log", "-"), stderr_to=errors) as server:
        assert request(server.port, "GET", "/api/items", {"Origin": "https://evil.example"}
                       )[0] == 403
        line = server.wait_for("cors=denied")
    assert '"GET /api/items HTTP/1.1" 403 59 cors=denied' in line
    assert "HTTP/1.1" not in errors.read_text()


def test_serve_writes_json_lines_to_a_file(config: Path, tmp_path: Path) -> None:
    log = tmp_path / "access.jsonl"
    log.write_text('{"earlier": "line"}\n')  # appended to, never truncated
    with running(serve_command(str(config), "--access-log", str(log),
                               "--access-log-format", "json")) as server:
        port = server.port
        request(port, "OPTIONS", "/api/items", {"Origin": "https://a.example",
                                               "Access-Control-Request-Method": "PUT"})
        request(port, "GET", "/api/items", {"Origin": "https://no.example"})
        deadline = time.monotonic() + 10
        while len(log.read_text().splitlines()) < 3:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert "HTTP/1.1" not in server.text()  # to the file, not to stdout
    earlier, first, second = (json.loads(line) for line in log.read_text().splitlines())
    assert earlier == {"earlier": "line"}
    assert (first["cors"], first["status"], first["rule"]) == (
        "preflight", 204, f"{config}:{RULE_A}")
    assert (second["cors"], second["status"], second["rule"]) == (
        "denied", 403, f"{config}:{RULE_NO}")


def test_no_access_log_turns_it_off(config: Path) -> None:
    with running(serve_command(str(config), "--no-access-log")) as server:
        assert request(server.port, "GET", "/api/items", {"Origin": "https://evil.example"}
                       )[0] == 403
        server.collect(wait=1.0)
        assert '"GET /api/items HTTP/1.1" 403' not in server.text()


def test_an_access_log_that_cannot_be_opened_is_a_usage_error(tmp_path: Path) -> None:
    import subprocess

    result = subprocess.run(serve_command("--access-log", str(tmp_path / "no" / "such.log")),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "cannot open" in result.stderr and "Traceback" not in result.stderr


# -- ASGI, in process --------------------------------------------------------------------------

def asgi_request(app: Any, path: str, origin: str) -> None:
    import asyncio

    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "query_string": b"",
             "http_version": "1.1", "client": ("127.0.0.1", 50000), "scheme": "http",
             "headers": [(b"origin", origin.encode())]}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    asyncio.run(app(scope, receive, send))


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


def test_asgi_requests_are_logged_the_same_way(config: Path) -> None:
    from iiscors.asgi import CorsMiddleware as AsgiCorsMiddleware
    from iiscors.serving.logged import LoggedASGI

    stream = io.StringIO()
    wrapper = LoggedASGI(AsgiCorsMiddleware(asgi_app, str(config), strict=True,
                                            reload_interval=0), AccessLog(stream, "json"))
    asgi_request(wrapper, "/api", "https://a.example")
    asgi_request(wrapper, "/api", "https://no.example")
    config.write_text("<configuration><broken")
    time.sleep(0.01)
    asgi_request(wrapper, "/api", "https://a.example")
    allowed, refused, unusable = (json.loads(line) for line in lines(stream))
    assert (allowed["status"], allowed["bytes"], allowed["cors"], allowed["rule"]) == (
        200, 5, "allowed", f"{config}:{RULE_A}")
    assert (allowed["remote"], allowed["protocol"], allowed["path"]) == (
        "127.0.0.1", "HTTP/1.1", "/api")
    assert (refused["status"], refused["cors"], refused["rule"]) == (
        403, "denied", f"{config}:{RULE_NO}")
    assert (unusable["status"], unusable["cors"], unusable["origin"]) == (
        500, "unusable", "https://a.example")
