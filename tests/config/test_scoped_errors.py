"""Errors scoped as on IIS (contract E6, issue 13 item 7).

IIS reads a URL's configuration when the URL is requested: a broken sub-directory web.config or
``<location>`` answers 500.19 under it while the rest of the site serves.  iiscors starts
whenever the root level is usable, logs every error once (located), answers 500 under each
unusable scope (no CORS header, no configuration detail, the app never called) and ``validate``
still reports the error (exit 1).  ``all_or_nothing=True`` / ``--all-or-nothing`` refuses to
start instead.  A reload keeps A8's last-good rule per scope.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from iiscors import ConfigError, load_config
from iiscors.asgi import CorsMiddleware as AsgiCorsMiddleware
from iiscors.cli.main import main
from iiscors.config.load import SourceFile, analyse
from iiscors.config.site import analyse_site, load_site
from iiscors.policy.core import Outcome
from iiscors.policy.plan import UNUSABLE_SCOPE_BODY
from iiscors.serving.app import build
from iiscors.wsgi import CorsMiddleware

ORIGIN = "https://app.contoso.com"
#: WebAPI/Web.config: CORS for the API, and (the anti-pattern of the issue's real tree) an
#: Access-Control-Allow-Origin custom header
WEBAPI = f"""<configuration>
  <system.webServer>
    <cors enabled="true"><add origin="{ORIGIN}" /></cors>
    <httpProtocol><customHeaders>
      <add name="X-Api" value="1" />
    </customHeaders></httpProtocol>
  </system.webServer>
</configuration>
"""
#: WebAPI/Views/Web.config adding the parent's custom header again: 500.19 under /Views only
VIEWS = """<configuration>
  <system.webServer>
    <httpProtocol><customHeaders>
      <add name="X-Api" value="2" />
    </customHeaders></httpProtocol>
  </system.webServer>
</configuration>
"""
LOCATION_BROKEN = f"""<configuration>
  <system.webServer>
    <cors enabled="true"><add origin="{ORIGIN}" /></cors>
  </system.webServer>
  <location path="legacy">
    <system.webServer>
      <cors enabled="maybe" />
    </system.webServer>
  </location>
  <location path="legacy/deeper">
    <system.webServer>
      <cors enabled="true" />
    </system.webServer>
  </location>
</configuration>
"""


class App:
    """A WSGI application that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.calls += 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"app"]


def get(middleware: Any, path: str, origin: str | None = ORIGIN,
        method: str = "GET", **extra: str) -> tuple[int, dict[str, str], bytes]:
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path,
                               "wsgi.url_scheme": "https", "HTTP_HOST": "x.example"}
    if origin is not None:
        environ["HTTP_ORIGIN"] = origin
    environ.update(extra)
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None
                       ) -> Any:
        seen["status"], seen["headers"] = int(status.split()[0]), dict(headers)
        return lambda data: None

    body = b"".join(middleware(environ, start_response))
    return seen["status"], seen["headers"], body


def asgi_get(middleware: Any, path: str, origin: str | None = ORIGIN
             ) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []
    headers = [(b"origin", origin.encode())] if origin is not None else []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(middleware({"type": "http", "method": "GET", "path": path, "headers": headers},
                           receive, send))
    return (sent[0]["status"], dict(sent[0]["headers"]),
            b"".join(m.get("body", b"") for m in sent[1:]))


def site_of(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def webapi(tmp_path: Path) -> Path:
    """The issue's real tree: WebAPI/Web.config and WebAPI/Views/Web.config."""
    return site_of(tmp_path / "WebAPI", {"Web.config": WEBAPI, "Views/Web.config": VIEWS})


def test_a_broken_sub_directory_answers_500_there_and_the_rest_serves(
        webapi: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="iiscors")
    app = App()
    middleware = CorsMiddleware(app, str(webapi), reload=False)
    status, headers, _ = get(middleware, "/api/values")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == ORIGIN
    assert app.calls == 1
    for path, origin in (("/Views/Home/Index", ORIGIN), ("/views", None), ("/VIEWS/x", "x")):
        status, headers, body = get(middleware, path, origin)
        # 500, no CORS or custom header (IIS's 500.19 comes before any module), no detail.
        assert (status, body) == (500, UNUSABLE_SCOPE_BODY), path
        assert not [h for h in headers if h.lower().startswith(("access-control-", "x-"))]
        assert b"X-Api" not in body and b"Views" not in body
    assert app.calls == 1, "the application must not run under an unusable scope"
    preflight = get(middleware, "/views/x", method="OPTIONS",
                    HTTP_ACCESS_CONTROL_REQUEST_METHOD="PUT")
    assert preflight[0] == 500
    # Every error logged once, located in the lower file, with the scope it breaks.
    messages = [r.getMessage() for r in caplog.records]
    assert sum("/views is unusable" in m for m in messages) == 1, messages
    [logged] = [m for m in messages if "E302" in m]
    assert f"{webapi / 'Views' / 'Web.config'}:4:12: error E302" in logged


def test_the_asgi_middleware_answers_500_under_the_broken_scope_too(webapi: Path) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    middleware = AsgiCorsMiddleware(app, str(webapi), reload=False)
    assert asgi_get(middleware, "/api")[0] == 200
    for origin in (ORIGIN, None):
        status, headers, body = asgi_get(middleware, "/Views/x", origin)
        assert (status, body) == (500, UNUSABLE_SCOPE_BODY)
        assert b"access-control-allow-origin" not in headers


def test_a_broken_location_in_one_file_breaks_only_its_path_and_below(tmp_path: Path) -> None:
    config = tmp_path / "web.config"
    config.write_text(LOCATION_BROKEN, encoding="utf-8")
    middleware = CorsMiddleware(App(), str(config), reload=False)
    assert get(middleware, "/")[0] == 200
    assert get(middleware, "/legacyx")[0] == 200  # whole segments only (A9)
    # The deeper <location> is under the broken one: IIS reads through it, so it fails too.
    assert [get(middleware, p)[0] for p in ("/legacy", "/Legacy/a", "/legacy/deeper/b")] == [
        500, 500, 500]
    assert middleware.decide({"PATH_INFO": "/legacy/x", "HTTP_ORIGIN": ORIGIN}).outcome is \
        Outcome.UNUSABLE
    assert [d.code for d in middleware.config.errors] == ["E206"]
    assert list(middleware.config.broken) == [("legacy",)]


def test_all_or_nothing_refuses_to_start_on_any_error(webapi: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="E302"):
        CorsMiddleware(App(), str(webapi), all_or_nothing=True)
    with pytest.raises(ConfigError, match="E302"):
        AsgiCorsMiddleware(App(), str(webapi), all_or_nothing=True)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="E302"):
        build(None, str(webapi), None, None, all_or_nothing=True)
    # The library's loaders keep their all-or-nothing default; analyse can scope.
    with pytest.raises(ConfigError):
        load_site(webapi)
    assert load_site(webapi, all_or_nothing=False).broken.keys() == {("views",)}
    config = tmp_path / "web.config"
    config.write_text(LOCATION_BROKEN, encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(config)
    with pytest.raises(ConfigError):
        CorsMiddleware(App(), config.read_bytes(), all_or_nothing=True)
    assert CorsMiddleware(App(), config.read_bytes()).config.broken.keys() == {("legacy",)}


def test_the_root_level_unusable_still_refuses_to_start(tmp_path: Path) -> None:
    root = site_of(tmp_path / "s", {"web.config": '<configuration><system.webServer>'
                                    '<cors enabled="yes"/></system.webServer></configuration>',
                                    "api/web.config": VIEWS})
    with pytest.raises(ConfigError, match="E206"):
        CorsMiddleware(App(), str(root))
    # A root-level <location path="."> is the root level too.
    dot = (b'<configuration><location path="."><system.webServer><cors bogus="1"/>'
           b"</system.webServer></location></configuration>")
    with pytest.raises(ConfigError, match="E201"):
        CorsMiddleware(App(), dot)
    # An unreadable walk (too many directories) leaves nothing known: the whole site.
    with pytest.raises(ConfigError, match="more than 1 directories"):
        analyse_site_config(root, max_directories=1)


def analyse_site_config(root: Path, **bounds: int) -> None:
    analysis = analyse_site(root, all_or_nothing=False, **bounds)
    if analysis.config is None:
        raise ConfigError(analysis.diagnostics)


def test_a_sub_directory_file_that_is_not_xml_breaks_its_directory(tmp_path: Path) -> None:
    root = site_of(tmp_path / "s", {"web.config": WEBAPI,
                                    "api/web.config": "<configuration><oops></configuration>",
                                    "api/v1/web.config": VIEWS.replace("X-Api", "X-V1")})
    middleware = CorsMiddleware(App(), str(root), reload=False)
    assert [get(middleware, p)[0] for p in ("/", "/api", "/api/v1/x", "/apix")] == [
        200, 500, 500, 200]
    assert [d.code for d in middleware.config.errors] == ["E102"]


def test_validate_reports_the_scoped_error_and_exits_1(webapi: Path) -> None:
    result = CliRunner().invoke(main, ["validate", "-f", "json", str(webapi)])
    assert result.exit_code == 1
    found = [(Path(d["file"]).relative_to(webapi).as_posix(), d["code"], d["line"])
             for f in json.loads(result.stdout)["files"] for d in f["diagnostics"]]
    assert found == [("Views/Web.config", "E302", 4)]


def test_explain_renders_the_unusable_scope(webapi: Path) -> None:
    def explain(path: str) -> dict[str, Any]:
        result = CliRunner().invoke(main, ["explain", str(webapi), "--origin", ORIGIN,
                                           "--path", path, "-f", "json"])
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout))

    broken = explain("/Views/Home")
    assert (broken["outcome"], broken["status"], broken["headers"]) == ("unusable", 500, [])
    assert [e["code"] for e in broken["errors"]] == ["E302"]
    assert explain("/api")["outcome"] == "allowed"
    text = CliRunner().invoke(main, ["explain", str(webapi), "--origin", ORIGIN, "--path",
                                     "/Views", "--expect-iis", "unusable"])
    assert text.exit_code == 0 and "unusable: the middleware answers 500 itself" in text.stdout


def write(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def test_reload_keeps_the_last_good_sections_of_a_scope_an_edit_broke(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = site_of(tmp_path / "s", {"web.config": WEBAPI, "views/web.config": "<configuration/>",
                                    "other/web.config": "<configuration/>"})
    middleware = CorsMiddleware(App(), str(root), reload_interval=0)
    assert get(middleware, "/views/x")[1].get("X-Api") == "1"
    caplog.set_level(logging.INFO, logger="iiscors")
    # One deploy: views/ breaks (a duplicate) while other/ gains a header.
    write(root / "views" / "web.config", VIEWS)
    write(root / "other" / "web.config", VIEWS.replace("X-Api", "X-Other"))
    for _ in range(3):
        status, headers, _ = get(middleware, "/views/x")
        assert (status, headers.get("X-Api")) == (200, "1")  # the last good sections
    assert get(middleware, "/other/x")[1].get("X-Other") == "2"  # the rest of the edit applies
    kept = [r.getMessage() for r in caplog.records if "last good" in r.getMessage()]
    assert len(kept) == 1 and "/views is unusable" in kept[0]
    assert sum("E302" in r.getMessage() for r in caplog.records) == 1  # logged once
    # Fixed: served, and reported as loudly as the failure.
    write(root / "views" / "web.config", VIEWS.replace("X-Api", "X-Views"))
    assert get(middleware, "/views/x")[1].get("X-Views") == "2"
    assert any("usable again" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)


def test_reload_in_strict_mode_answers_500_under_the_scope_an_edit_broke(tmp_path: Path
                                                                          ) -> None:
    root = site_of(tmp_path / "s", {"web.config": WEBAPI, "views/web.config": "<configuration/>"})
    middleware = CorsMiddleware(App(), str(root), reload_interval=0, strict=True)
    write(root / "views" / "web.config", VIEWS)
    assert get(middleware, "/views/x")[0] == 500
    assert get(middleware, "/x")[0] == 200  # only there
    write(root / "views" / "web.config", "<configuration/>")
    assert get(middleware, "/views/x")[0] == 200


def test_a_scope_unusable_from_the_start_answers_500_until_fixed(webapi: Path) -> None:
    middleware = CorsMiddleware(App(), str(webapi), reload_interval=0)
    assert get(middleware, "/views")[0] == 500
    write(webapi / "Views" / "Web.config", VIEWS.replace("X-Api", "X-Views"))
    assert get(middleware, "/views")[1].get("X-Views") == "2"
    write(webapi / "Views" / "Web.config", VIEWS)  # broken again: the last good is kept
    assert get(middleware, "/views")[1].get("X-Views") == "2"


def test_an_edit_breaking_the_root_level_keeps_everything_last_good(webapi: Path) -> None:
    middleware = CorsMiddleware(App(), str(webapi), reload_interval=0)
    write(webapi / "Web.config", "<configuration><oops></configuration>")
    assert get(middleware, "/api")[1]["Access-Control-Allow-Origin"] == ORIGIN
    assert get(middleware, "/views")[0] == 500  # unusable before the edit: still


def test_analyse_scoped_and_all_or_nothing_agree_on_the_diagnostics(tmp_path: Path) -> None:
    data = LOCATION_BROKEN.encode()
    scoped, found = analyse([SourceFile(data)], all_or_nothing=False)
    whole, same = analyse([SourceFile(data)])
    assert scoped is not None and whole is None and found == same


def test_serve_all_or_nothing_refuses_to_start(webapi: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--root", str(webapi), "--all-or-nothing",
                                       "--port", "0", "--no-access-log"])
    assert result.exit_code == 1
    assert f"{webapi / 'Views' / 'Web.config'}:4:12: error E302" in result.output
