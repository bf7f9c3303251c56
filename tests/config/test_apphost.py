"""applicationHost.config (contract E4, issue 13 item 4), against sample_configs'
applicationHost.config (a default IIS 10 layout with the CORS module registered).

The effective configuration of a request is built from the server's sections, its ``<location
path="">``/``"SITE"``/``"SITE/sub"`` entries, then the site's web.config files found through its
applications and virtual directories (physical paths mapped with ``--map``, ``%VARIABLE%``
expanded); ``<configSections>`` gives overrideModeDefault and allowDefinition.  Every entry point
takes it: ``ApplicationHost`` for both middlewares, ``--apphost FILE --site NAME --map W=L`` on
``validate``, ``explain`` and ``serve``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from iiscors import ConfigError
from iiscors.asgi import CorsMiddleware as AsgiCorsMiddleware
from iiscors.cli.main import main
from iiscors.config.server import ApplicationHost, analyse_server
from iiscors.serving.app import build
from iiscors.wsgi import CorsMiddleware

SAMPLE = Path(__file__).resolve().parents[2] / "sample_configs" / "applicationHost.config"
SITE = "Default Web Site"
PARTNER = "https://www.contoso.com"
OWN = "https://site.example"


def config(sections: str, outside: str = "") -> str:
    return (f"<configuration>\n<system.webServer>\n{sections}\n</system.webServer>\n{outside}"
            "</configuration>\n")


@pytest.fixture
def server(tmp_path: Path) -> Path:
    """C:\\inetpub mapped to tmp_path/inetpub: the site's root, its /api application and its
    /assets virtual directory, each with a web.config; the sample applicationHost.config."""
    inetpub = tmp_path / "inetpub"
    files = {
        "wwwroot/web.config": config(f'<cors enabled="true"><add origin="{OWN}" /></cors>'),
        "api/web.config": config('<cors><add origin="https://app.example" /></cors>'),
        "shared/assets/web.config": config('<cors enabled="false" />'),
        # Hidden: /assets is served by the virtual directory, not by wwwroot/assets.
        "wwwroot/assets/web.config": config("<oops/>"),
    }
    for name, text in files.items():
        path = inetpub / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    shutil.copy(SAMPLE, tmp_path / "applicationHost.config")
    return tmp_path


def host(root: Path, site: str = SITE, **extra: Any) -> ApplicationHost:
    return ApplicationHost(root / "applicationHost.config", site,
                           [f"C:\\inetpub={root / 'inetpub'}", *extra.get("maps", ())])


def app(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [b""]


def request(middleware: Any, path: str, origin: str, method: str = "GET",
            **extra: str) -> tuple[int, dict[str, str]]:
    seen: dict[str, Any] = {}

    def start_response(line: str, headers: Any, exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = int(line.split()[0]), dict(headers)
        return lambda data: None

    middleware({"REQUEST_METHOD": method, "PATH_INFO": path, "HTTP_ORIGIN": origin, **extra},
               start_response)
    return seen["status"], seen["headers"]


def validate(*args: str) -> Result:
    return CliRunner().invoke(main, ["validate", *args])


# -- the site as IIS reads it ----------------------------------------------------------------

def test_the_server_level_applies_before_the_sites_files(server: Path) -> None:
    middleware = CorsMiddleware(app, host(server), reload=False)
    # <location path="Default Web Site/api">: credentials for the partner, 403 for the rest.
    status, headers = request(middleware, "/api/orders", PARTNER, "OPTIONS",
                              HTTP_ACCESS_CONTROL_REQUEST_METHOD="PUT")
    assert (status, headers["Access-Control-Allow-Credentials"]) == (204, "true")
    assert request(middleware, "/api/orders", "https://evil.example")[0] == 403
    # The /api application's own web.config adds to it; the site root's applies at /.
    assert request(middleware, "/api/x", "https://app.example")[1][
        "Access-Control-Allow-Origin"] == "https://app.example"
    assert request(middleware, "/page", OWN)[1]["Access-Control-Allow-Origin"] == OWN
    # The server's customHeaders reach every response (C1); /assets is its own directory.
    assert request(middleware, "/assets/logo.png", OWN)[1] == {"X-Powered-By": "ASP.NET"}
    config = middleware.config
    assert config.applications == (("api",),)
    assert [Path(name).name for name in config.files] == ["applicationHost.config"] + [
        "web.config"] * 3


def test_site_names_compare_case_insensitively_and_asgi_takes_it_too(server: Path) -> None:
    asgi = AsgiCorsMiddleware(app, host(server, "DEFAULT web SITE"),  # type: ignore[arg-type]
                              reload=False)
    assert asgi.config.section_for("/api").fail_unlisted_origins


def test_validate_reports_the_site_file_by_file(server: Path) -> None:
    result = validate("-f", "json", "--apphost", str(server / "applicationHost.config"),
                      "--site", SITE, "--map", f"C:\\inetpub={server / 'inetpub'}")
    assert result.exit_code == 0, result.stdout
    files = [(Path(f["file"]).relative_to(server).as_posix(),
              [d["code"] for d in f["diagnostics"]]) for f in json.loads(result.stdout)["files"]]
    assert files == [("applicationHost.config", ["W222"]),
                     ("inetpub/wwwroot/web.config", []), ("inetpub/shared/assets/web.config", []),
                     ("inetpub/api/web.config", [])]


def test_explain_names_the_server_level(server: Path) -> None:
    result = CliRunner().invoke(main, [
        "explain", "--apphost", str(server / "applicationHost.config"), "--site", SITE,
        "--map", f"C:\\inetpub={server / 'inetpub'}", "--path", "/api/x", "--origin", PARTNER,
        "-f", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["outcome"] == "allowed"
    assert [(Path(level["file"]).name, level["section"], level["location"])
            for level in document["levels"]] == [
        ("applicationHost.config", "customHeaders", None),
        ("applicationHost.config", "modules", None),  # its <location path=""> is its root
        ("web.config", "cors", None),
        ("applicationHost.config", "cors", "Default Web Site/api"),
        ("web.config", "cors", None)]


def test_serve_serves_the_sites_root_directory(server: Path) -> None:
    middleware, description = build(None, None, None, None, apphost=host(server), reload=False)
    assert "site 'Default Web Site'" in description
    (server / "inetpub" / "wwwroot" / "index.html").write_text("hello", encoding="utf-8")
    status, headers = request(middleware, "/index.html", OWN)
    assert (status, headers["Access-Control-Allow-Origin"]) == (200, OWN)


# -- configSections: overrideModeDefault and allowDefinition ---------------------------------

def write(server: Path, name: str, text: str) -> None:
    path = server / "inetpub" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def errors(server: Path, site: str = SITE) -> list[tuple[str, str]]:
    found = analyse_server(host(server, site), all_or_nothing=False).diagnostics
    return [(d.code, Path(d.file).relative_to(server).as_posix()) for d in found if d.is_error]


def test_modules_are_unlocked_at_application_roots_only(server: Path) -> None:
    remove = config('<modules><remove name="WebDAVModule" /></modules>')
    write(server, "wwwroot/web.config", remove)
    write(server, "api/web.config", remove)
    assert errors(server) == []
    write(server, "wwwroot/sub/web.config", remove)  # registered MachineToApplication
    [(code, file)] = errors(server)
    assert (code, file) == ("E403", "inetpub/wwwroot/sub/web.config")


def test_a_locked_module_entry_cannot_be_removed(server: Path) -> None:
    write(server, "api/web.config", config('<modules><remove name="StaticFileModule" />'
                                           "</modules>"))
    assert errors(server) == [("E305", "inetpub/api/web.config")]


def test_a_site_the_server_locks_cannot_configure_cors(server: Path, tmp_path: Path) -> None:
    intranet = tmp_path / "intranet"
    intranet.mkdir()
    (intranet / "web.config").write_text(config('<cors enabled="true" />'), encoding="utf-8")
    analysis = analyse_server(host(server, "contoso intranet",
                                   maps=[f"D:\\sites\\intranet={intranet}"]),
                              all_or_nothing=False)
    [error] = [d for d in analysis.diagnostics if d.is_error]
    assert error.code == "E304" and error.file == str(intranet / "web.config")
    assert Path(error.related[0].file).name == "applicationHost.config"


def test_a_section_the_server_does_not_register_cannot_be_read(server: Path) -> None:
    text = SAMPLE.read_text(encoding="utf-8").replace(
        '<section name="cors" overrideModeDefault="Allow" />', "")
    (server / "applicationHost.config").write_text(text, encoding="utf-8")
    found = [d for d in analyse_server(host(server), all_or_nothing=False).diagnostics
             if d.is_error]
    assert {d.code for d in found} == {"E404"}
    assert "missing a section declaration" in found[0].message


def test_inherit_in_child_applications_stops_at_the_servers_applications(server: Path) -> None:
    write(server, "wwwroot/web.config", config(
        "", '<location path="." inheritInChildApplications="false"><system.webServer>'
        f'<cors enabled="true"><add origin="{OWN}" /></cors></system.webServer></location>'))
    write(server, "api/web.config", config(f'<cors><add origin="{OWN}" /></cors>'))
    assert errors(server) == []  # /api is an application: no duplicate there (E3)


# -- bad input: clear, located errors -------------------------------------------------------

def test_a_site_that_is_not_there_lists_the_sites_found(server: Path) -> None:
    with pytest.raises(ConfigError, match="sites found: 'Default Web Site', 'Contoso Intranet'"):
        CorsMiddleware(app, host(server, "Default Website"))
    result = validate("--apphost", str(server / "applicationHost.config"), "--site", "x")
    assert result.exit_code == 1 and "error E401 No site named 'x'" in result.stdout


def test_an_unmapped_physical_path_is_a_located_error(server: Path) -> None:
    analysis = analyse_server(ApplicationHost(server / "applicationHost.config", SITE,
                                              [f"C:\\inetpub\\wwwroot={server}"]))
    found = [(d.code, d.line) for d in analysis.diagnostics]
    assert found == [("E402", 134), ("E402", 139)]  # shared\\assets and api, not wwwroot
    assert "C:\\inetpub\\api" in analysis.diagnostics[1].message
    assert "--map" in analysis.diagnostics[1].message


@pytest.mark.parametrize(("content", "code"), [
    (None, "E100"),
    ("<configuration><system.applicationHost>", "E102"),
    ("<configuration><system.webServer /></configuration>", "E401"),
    ("<sites />", "E106"),
])
def test_a_bad_apphost_is_a_clear_error(tmp_path: Path, content: str | None, code: str) -> None:
    apphost = tmp_path / "applicationHost.config"
    if content is not None:
        apphost.write_text(content, encoding="utf-8")
    found = analyse_server(ApplicationHost(apphost, SITE)).diagnostics
    assert [d.code for d in found] == [code]
    result = validate("--apphost", str(apphost), "--site", SITE)
    assert result.exit_code == (2 if code == "E100" else 1)
    assert "Traceback" not in result.output


@pytest.mark.parametrize("bad", ["no-equals", "=./x", "C:\\x=", "relative\\path=./x",
                                 "%NOPE_NOT_SET%\\x=./y"])
def test_a_map_that_does_not_parse_is_a_usage_error(server: Path, bad: str) -> None:
    with pytest.raises(ValueError, match=r"map|Windows path"):
        ApplicationHost(server / "applicationHost.config", SITE, [bad])
    result = validate("--apphost", str(server / "applicationHost.config"), "--site", SITE,
                      "--map", bad)
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_options_that_go_together(server: Path) -> None:
    apphost = str(server / "applicationHost.config")
    for args in (["--apphost", apphost], ["--site", SITE], ["--map", "C:\\x=y", "."], []):
        assert validate(*args).exit_code == 2, args
    serve = CliRunner().invoke(main, ["serve", "--apphost", apphost, "--site", "nope",
                                      "--map", f"C:\\inetpub={server / 'inetpub'}"])
    assert serve.exit_code == 1 and "E401" in serve.output


def test_variables_are_expanded(server: Path) -> None:
    os.environ["IISCORS_TEST_DRIVE"] = "C:"
    try:
        text = SAMPLE.read_text(encoding="utf-8").replace(
            "%SystemDrive%\\inetpub\\api", "%IISCORS_TEST_DRIVE%\\inetpub\\api")
        (server / "applicationHost.config").write_text(text, encoding="utf-8")
        assert errors(server) == []
    finally:
        del os.environ["IISCORS_TEST_DRIVE"]


# -- hot reload ---------------------------------------------------------------------------------

def test_an_edit_of_the_apphost_is_picked_up(server: Path) -> None:
    middleware = CorsMiddleware(app, host(server), reload_interval=0)
    assert request(middleware, "/api/x", PARTNER)[1]["Access-Control-Allow-Origin"] == PARTNER
    apphost = server / "applicationHost.config"
    edited = apphost.read_text(encoding="utf-8").replace(PARTNER, "https://other.example")
    temporary = server / "edit.tmp"
    temporary.write_text(edited, encoding="utf-8")
    os.replace(temporary, apphost)
    assert request(middleware, "/api/x", PARTNER)[0] == 403


def test_a_section_registered_apphost_only_cannot_be_in_a_web_config(server: Path) -> None:
    text = SAMPLE.read_text(encoding="utf-8").replace(
        '<section name="cors" overrideModeDefault="Allow" />',
        '<section name="cors" allowDefinition="AppHostOnly" overrideModeDefault="Allow" />')
    (server / "applicationHost.config").write_text(text, encoding="utf-8")
    assert sorted(errors(server)) == [("E403", "inetpub/api/web.config"),
                                      ("E403", "inetpub/shared/assets/web.config"),
                                      ("E403", "inetpub/wwwroot/web.config")]
