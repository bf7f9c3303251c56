"""Applications (contract E3, issue 13 item 3): ``inheritInChildApplications="false"``.

The sections of a ``<location inheritInChildApplications="false">`` do not apply inside child
applications of that location's application.  The application paths come from the user: the
``applications`` keyword of both middlewares and of the loaders, ``--application`` on
``validate``, ``explain`` and ``serve``.  Without any, the attribute changes nothing and earns no
warning (every ``dotnet publish`` web.config carries it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from iiscors import check_config, load_config
from iiscors.asgi import CorsMiddleware as AsgiCorsMiddleware
from iiscors.cli.main import main
from iiscors.config.site import load_site
from iiscors.serving.app import build
from iiscors.wsgi import CorsMiddleware

SITE_ORIGIN = "https://www.contoso.com"
API_ORIGIN = "https://app.contoso.com"

#: What ``dotnet publish`` writes, with the CORS section developers add inside its location.
PUBLISHED = """<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <location path="." inheritInChildApplications="false">
    <system.webServer>
      <handlers>
        <add name="aspNetCore" path="*" verb="*" modules="AspNetCoreModuleV2"
             resourceType="Unspecified" />
      </handlers>
      <aspNetCore processPath="dotnet" arguments=".\\Site.dll" stdoutLogEnabled="false"
                  stdoutLogFile=".\\logs\\stdout" hostingModel="inprocess" />
      <cors enabled="true">
        <add origin="{origin}" />
      </cors>
    </system.webServer>
  </location>
</configuration>
"""


def site(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def two_apps(tmp_path: Path) -> Path:
    """A site and its child application /api, each published with its own web.config that
    allows the same origin (and the site another one)."""
    return site(tmp_path, {
        "web.config": PUBLISHED.replace('<add origin="{origin}" />',
                                        f'<add origin="{SITE_ORIGIN}" /><add origin='
                                        f'"{API_ORIGIN}" />'),
        "api/web.config": PUBLISHED.format(origin=API_ORIGIN)})


def origins(config: Any, path: str) -> list[str]:
    return [rule.origin for rule in config.section_for(path).rules]


def allow_origin(middleware: Any, path: str, origin: str) -> tuple[int, str | None]:
    seen: dict[str, Any] = {}

    def start_response(line: str, headers: Any, exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = int(line.split()[0]), dict(headers)
        return lambda data: None

    middleware({"REQUEST_METHOD": "GET", "PATH_INFO": path, "HTTP_ORIGIN": origin},
               start_response)
    return seen["status"], seen["headers"].get("Access-Control-Allow-Origin")


def app(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [b""]


def test_a_published_web_config_earns_no_warning() -> None:
    assert check_config(PUBLISHED.format(origin=API_ORIGIN).encode()) == []


def test_without_applications_the_attribute_changes_nothing(two_apps: Path) -> None:
    # The site's location applies in /api too: /api adds API_ORIGIN again (E302, E6: 500).
    config = load_site(two_apps, all_or_nothing=False)
    assert [d.code for d in config.errors] == ["E302"]
    assert allow_origin(CorsMiddleware(app, str(two_apps), reload=False), "/api/x",
                        API_ORIGIN)[0] == 500


def test_a_child_application_does_not_inherit_the_location(two_apps: Path) -> None:
    config = load_site(two_apps, applications=(("api",),))
    assert origins(config, "/x") == [SITE_ORIGIN, API_ORIGIN]
    assert origins(config, "/API/x") == [API_ORIGIN]  # its own web.config only
    for middleware in (CorsMiddleware(app, str(two_apps), applications=["/api"], reload=False),
                       build(None, str(two_apps), None, None, applications=["/api/"],
                             reload=False)[0]):
        # (serve --root answers 404 for these missing files: the CORS headers are what counts)
        assert allow_origin(middleware, "/api/x", SITE_ORIGIN)[1] is None
        assert allow_origin(middleware, "/api/x", API_ORIGIN)[1] == API_ORIGIN
        assert allow_origin(middleware, "/other", SITE_ORIGIN)[1] == SITE_ORIGIN
    asgi = AsgiCorsMiddleware(app, str(two_apps), applications=["/api"],  # type: ignore[arg-type]
                              reload=False)
    assert origins(asgi.config, "/api") == [API_ORIGIN]


def test_only_the_sections_of_such_a_location_stop_at_the_boundary(tmp_path: Path) -> None:
    text = f"""<configuration>
      <location path="." inheritInChildApplications="false">
        <system.webServer><cors enabled="true"><add origin="{SITE_ORIGIN}" /></cors>
        </system.webServer>
      </location>
      <system.webServer>
        <httpProtocol><customHeaders><add name="X-Site" value="1" /></customHeaders>
        </httpProtocol>
      </system.webServer>
      <location path="api/v1" inheritInChildApplications="false">
        <system.webServer><cors failUnlistedOrigins="true" /></system.webServer>
      </location>
    </configuration>"""
    config = load_config(text.encode(), applications=(("api",), ("api", "v1", "deep")))
    inside = config.section_for("/api/x")
    assert (inside.enabled, inside.rules, inside.custom_headers) == (False, (), (("X-Site",
                                                                                   "1"),))
    assert config.section_for("/x").enabled
    # A location inside the child application applies in that application, not below it.
    assert config.section_for("/api/v1/x").fail_unlisted_origins
    assert not config.section_for("/api/v1/deep/x").fail_unlisted_origins


def test_validate_and_explain_take_application_paths(two_apps: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["validate", str(two_apps)]).exit_code == 1
    ok = runner.invoke(main, ["validate", "--application", "/api", "-f", "json",
                              str(two_apps)])
    assert ok.exit_code == 0, ok.stdout
    assert all(f["diagnostics"] == [] for f in json.loads(ok.stdout)["files"])
    explained = runner.invoke(main, ["explain", str(two_apps), "--application", "/api",
                                     "--path", "/api/x", "--origin", SITE_ORIGIN, "-f", "json"])
    document = json.loads(explained.stdout)
    assert document["outcome"] == "passthrough"
    assert [Path(level["file"]).relative_to(two_apps).as_posix()
            for level in document["levels"]] == ["api/web.config"]


@pytest.mark.parametrize("bad", ["../x", "api/./x", "a\\b"])
def test_an_application_path_iis_would_refuse_is_a_clear_error(two_apps: Path,
                                                               bad: str) -> None:
    with pytest.raises(ValueError, match="not an application path"):
        CorsMiddleware(app, str(two_apps), applications=[bad])
    for command in (["validate", str(two_apps)], ["serve", "--root", str(two_apps)],
                    ["explain", str(two_apps), "--origin", SITE_ORIGIN]):
        result = CliRunner().invoke(main, [*command, "--application", bad])
        assert result.exit_code == 2, result.output
        assert "not an application path" in result.output
        assert "Traceback" not in result.output
    with pytest.raises(TypeError, match="list of paths"):
        CorsMiddleware(app, str(two_apps), applications="/api")
