"""Production servers for real: gunicorn (several workers) and waitress on 127.0.0.1, a free
port, the WSGI middleware around the demo API, CORS requests over http.client."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

from support import request, running, web_config

pytestmark = pytest.mark.slow

MODULE = """\
import os
from iiscors import CorsMiddleware
from iiscors.serving.demo.app import demo_app

application = CorsMiddleware(demo_app, os.environ["IISCORS_TEST_CONFIG"], reload_interval=0.2)
"""

APP = "https://app.example.com"


def config(version: str) -> bytes:
    return web_config(
        '<cors enabled="true" failUnlistedOrigins="true">'
        f'<add origin="{APP}" allowCredentials="true" maxAge="60">'
        '<allowMethods><add method="POST"/></allowMethods>'
        '<allowHeaders><add header="Content-Type"/></allowHeaders>'
        '<exposeHeaders><add header="X-Total-Count"/></exposeHeaders></add></cors>'
        '<httpProtocol><customHeaders>'
        f'<add name="X-Version" value="{version}"/></customHeaders></httpProtocol>')


def listening_port(output: list[str]) -> int:
    for line in output:
        found = re.search(r"(?:Listening at:|Serving on) http://127\.0\.0\.1:(\d+)", line)
        if found:
            return int(found.group(1))
    raise AssertionError(output)


SERVERS = {
    "gunicorn": ([sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "3",
                  "--graceful-timeout", "2", "served:application"], "Booting worker"),
    "waitress": ([sys.executable, "-m", "waitress", "--listen=127.0.0.1:0", "--threads=4",
                  "served:application"], "Serving on"),
}


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_cors_under_a_real_server(server: str, tmp_path: Path) -> None:
    pytest.importorskip(server)
    (tmp_path / "served.py").write_text(MODULE)
    web = tmp_path / "web.config"
    web.write_bytes(config("1"))
    command, ready = SERVERS[server]
    with running(command, cwd=tmp_path, ready=ready,
                 env={"IISCORS_TEST_CONFIG": str(web), "PYTHONUNBUFFERED": "1"}) as process:
        port = listening_port(process.output)
        # Preflight: answered by the middleware, 204, every header.
        status, headers, body = request(port, "OPTIONS", "/api/items", {
            "Origin": APP, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        assert (status, body) == (204, b"")
        assert headers["Access-Control-Allow-Origin"] == APP
        assert headers["Access-Control-Allow-Credentials"] == "true"
        assert headers["Access-Control-Allow-Methods"] == "POST"
        assert headers["Access-Control-Allow-Headers"] == "Content-Type"
        assert headers["Access-Control-Max-Age"] == "60"
        assert headers.get_all("Vary") == ["Origin"]
        assert headers["X-Version"] == "1"
        # Actual request: the app's response plus the CORS headers.
        status, headers, body = request(port, "POST", "/api/items",
                                        {"Origin": APP, "Content-Type": "application/json"},
                                        b'{"x": 1}')
        assert (status, body) == (201, b'{"received": {"x": 1}}')
        assert headers["Access-Control-Allow-Origin"] == APP
        assert headers["Access-Control-Expose-Headers"] == "X-Total-Count"
        assert "Access-Control-Allow-Methods" not in headers
        # The app's own 401 carries them too; an unlisted origin gets 403.
        status, headers, _ = request(port, "GET", "/api/me", {"Origin": APP})
        assert (status, headers["Access-Control-Allow-Origin"]) == (401, APP)
        status, headers, body = request(port, "GET", "/api/items",
                                        {"Origin": "https://evil.example"})
        assert status == 403 and b"403" in body
        assert "Access-Control-Allow-Origin" not in headers
        assert headers["X-Version"] == "1"  # customHeaders on the 403 (contract C1)
        # No Origin: no CORS header, but Vary (contract B15).
        status, headers, _ = request(port, "GET", "/api/items")
        assert (status, headers.get_all("Vary")) == (200, ["Origin"])
        assert "Access-Control-Allow-Origin" not in headers

        # Hot reload in every worker: after an edit, requests spread over the workers all see
        # the new version within a few seconds (each worker checks on its own).
        new = web.with_name("web.config.new")
        new.write_bytes(config("2"))
        new.replace(web)
        deadline = time.monotonic() + 15
        streak = 0
        while streak < 30:
            assert time.monotonic() < deadline, "not every worker reloaded"
            _, headers, _ = request(port, "GET", "/api/items", {"Origin": APP})
            streak = streak + 1 if headers["X-Version"] == "2" else 0
            time.sleep(0.02 if streak else 0.1)
