"""``iiscors serve --app`` around an application that already wraps itself in iiscors: the
server's layer meets each request first and handles it, the application's steps aside, and no
header is sent twice (iiscors.layering), through the real command on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from support import eventually, free_port, python, request, running

ORIGIN = "https://app.example"
WEB_CONFIG = ('<?xml version="1.0" encoding="utf-8"?>\n<configuration><system.webServer>'
              '<cors enabled="true" failUnlistedOrigins="false">'
              f'<add origin="{ORIGIN}" allowCredentials="true" /></cors>'
              "</system.webServer></configuration>\n")
APP = '''from iiscors import CorsMiddleware

def inner(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Vary", "Accept")])
    return [b"ok"]

application = CorsMiddleware(inner, "web.config")
'''


def test_serve_app_around_a_wrapped_app(tmp_path: Path) -> None:
    (tmp_path / "web.config").write_text(WEB_CONFIG)
    (tmp_path / "wrapped.py").write_text(APP)
    port = free_port()
    command = python("-m", "iiscors", "serve", "web.config", "--app", "wrapped:application",
                     "--port", str(port))
    with running(command, port, cwd=tmp_path) as server:
        for _ in range(3):
            status, headers, body = request(port, "GET", "/", {"Origin": ORIGIN})
            assert (status, body) == (200, b"ok")
            assert headers.get_all("Access-Control-Allow-Origin") == [ORIGIN]
            assert headers.get_all("Access-Control-Allow-Credentials") == ["true"]
            assert headers.get_all("Vary") == ["Accept, Origin"]
        assert eventually(lambda: "steps aside" in server.text(), 5)
        assert server.text().count("steps aside") == 1
