"""Hot reload of a site (issue 13's acceptance): an edit of the parent web.config, of a child
web.config and of a configSource file is each picked up, and the child scope sees the parent's
edit through inheritance (contract A8, A9, E1, E5)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from iiscors.wsgi import CorsMiddleware


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def config(sections: str) -> str:
    return f"<configuration><system.webServer>{sections}</system.webServer></configuration>"


def header(middleware: CorsMiddleware, path: str, name: str) -> str | None:
    seen: dict[str, str] = {}

    def start_response(line: str, headers: Any, exc_info: Any = None) -> Any:
        seen.update(headers)
        return lambda data: None

    middleware({"REQUEST_METHOD": "GET", "PATH_INFO": path, "HTTP_ORIGIN": "https://a.example"},
               start_response)
    return seen.get(name)


def app(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [b""]


def test_parent_child_and_config_source_edits_are_each_picked_up(tmp_path: Path) -> None:
    write(tmp_path / "web.config", config('<cors enabled="true"><add origin="https://a.example"'
                                          ' /></cors>'))
    write(tmp_path / "api" / "web.config", config('<cors configSource="cors.config" />'))
    write(tmp_path / "api" / "cors.config", '<cors failUnlistedOrigins="true" />')
    middleware = CorsMiddleware(app, str(tmp_path), reload_interval=0)
    allow = "Access-Control-Allow-Origin"
    assert header(middleware, "/api/x", allow) == "https://a.example"
    # The parent: the child inherits the edit.
    write(tmp_path / "web.config", config('<cors enabled="true"><add origin="https://a.example"'
                                          ' allowCredentials="true" /></cors>'))
    assert header(middleware, "/api/x", "Access-Control-Allow-Credentials") == "true"
    # The child.
    write(tmp_path / "api" / "web.config", config('<cors enabled="false" />'))
    assert header(middleware, "/api/x", allow) is None
    assert header(middleware, "/x", allow) == "https://a.example"
    # The configSource file (the child includes it again first).
    write(tmp_path / "api" / "web.config", config('<cors configSource="cors.config" />'))
    assert header(middleware, "/api/x", allow) == "https://a.example"
    write(tmp_path / "api" / "cors.config", '<cors enabled="false" />')
    assert header(middleware, "/api/x", allow) is None
