"""``serve --proxy`` and ``make_app`` put the path guard in front of the CORS middleware (issue 12
item 5): a path a backend could read as another place is answered 400 before any CORS decision,
so the 400 carries no Access-Control-* header and the backend never sees the request; the access
log says ``refused``.  Through the real command on 127.0.0.1, and through the factory."""

from __future__ import annotations

import http.server
import threading
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.test import Client

from iiscors.serving.app import make_app

from support import request, running, serve_command, web_config

CREDENTIALED = web_config(
    '<cors enabled="true"><add origin="https://partner.example" allowCredentials="true"/></cors>')
ORIGIN = {"Origin": "https://partner.example"}
ESCAPES = ["/public/..%2fprivate/secret.txt", "/public/%2e%2e/private/secret.txt",
           "/..%5cadmin", "/public/..;/private"]


class Recorder(http.server.BaseHTTPRequestHandler):
    seen: typing.ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Recorder.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def backend() -> Iterator[str]:
    Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.timeout(120)
def test_serve_proxy_refuses_escapes_before_cors(tmp_path: Path, backend: str) -> None:
    (tmp_path / "web.config").write_bytes(CREDENTIALED)
    log = tmp_path / "access.log"
    with running(serve_command(str(tmp_path / "web.config"), "--proxy", backend,
                               "--access-log", str(log))) as server:
        for path in ESCAPES:
            status, headers, _ = request(server.port, path=path, headers=ORIGIN)
            assert status == 400, path
            assert not [k for k in headers if k.lower().startswith("access-control-")], path
        status, headers, body = request(server.port, path="/public/ok", headers=ORIGIN)
        assert (status, body) == (200, b"ok")
        assert headers["Access-Control-Allow-Credentials"] == "true"
    assert Recorder.seen == ["/public/ok"]  # no escape reached the backend
    lines = log.read_text(encoding="utf-8").splitlines()
    assert sum(" 400 " in line and "cors=refused" in line for line in lines) == len(ESCAPES)


def test_make_app_guards_the_proxy(tmp_path: Path, backend: str) -> None:
    (tmp_path / "web.config").write_bytes(CREDENTIALED)
    for with_log in (False, True):
        settings = {"IISCORS_CONFIG": str(tmp_path / "web.config"), "IISCORS_PROXY": backend}
        if with_log:
            settings["IISCORS_ACCESS_LOG"] = str(tmp_path / "factory.log")
        client = Client(make_app(settings))
        response = client.get("/public/..%2fprivate/secret.txt", headers=ORIGIN)
        assert response.status_code == 400
        assert "Access-Control-Allow-Origin" not in response.headers
        response.close()  # the log line is written when the body is closed (PEP 3333)
    assert Recorder.seen == []
    assert "cors=refused" in (tmp_path / "factory.log").read_text(encoding="utf-8")
