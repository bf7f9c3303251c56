"""configSource (contract E5, issue 13 item 5): a section read from another file.

On ``cors``, ``httpProtocol`` and ``modules`` (the sections iiscors interprets), resolved in the
including file's directory only (either slash): an absolute path, a ``..``, a link to outside
the site, a directory, a FIFO (without waiting) or a missing file is E306; an including element
with anything else is E307; errors in the external file are located in it; hot reload watches
it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from iiscors import ConfigError, check_config, load_config
from iiscors.cli.main import main
from iiscors.config.site import analyse_site
from iiscors.wsgi import CorsMiddleware

pytestmark = pytest.mark.timeout(30)  # a FIFO must never make a read wait

ORIGIN = "https://a.example"
CORS = f'<cors enabled="true">\n  <add origin="{ORIGIN}" />\n</cors>\n'


def including(sections: str) -> str:
    return f"<configuration>\n<system.webServer>\n{sections}\n</system.webServer>\n" \
           "</configuration>\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def call(middleware: CorsMiddleware, path: str = "/x") -> tuple[int, dict[str, str]]:
    seen: dict[str, Any] = {}

    def start_response(line: str, headers: Any, exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = int(line.split()[0]), dict(headers)
        return lambda data: None

    middleware({"REQUEST_METHOD": "GET", "PATH_INFO": path, "HTTP_ORIGIN": ORIGIN},
               start_response)
    return seen["status"], seen["headers"]


def app(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [b""]


def errors(source: Path) -> list[tuple[str, str, int | None]]:
    return [(d.code, Path(d.file).name, d.line) for d in check_config(source) if d.is_error]


# -- the section is read from the file -----------------------------------------------------------

@pytest.mark.parametrize("value", ["cors.config", "conf/cors.config", "conf\\cors.config",
                                   "./conf//cors.config"])
def test_cors_is_read_from_the_file_either_slash(tmp_path: Path, value: str) -> None:
    target = "cors.config" if value == "cors.config" else "conf/cors.config"
    write(tmp_path, {"web.config": including(f'<cors configSource="{value}" />'),
                     target: CORS})
    config = load_config(tmp_path / "web.config")
    assert [rule.origin for rule in config.section_for("/").rules] == [ORIGIN]
    assert config.includes == (tmp_path / target,)
    middleware = CorsMiddleware(app, str(tmp_path / "web.config"), reload=False)
    assert call(middleware)[1]["Access-Control-Allow-Origin"] == ORIGIN


def test_http_protocol_and_modules_take_config_source_too(tmp_path: Path) -> None:
    write(tmp_path, {
        "web.config": including(CORS + '<httpProtocol configSource="headers.config" />'
                                '<modules configSource="modules.config" />'),
        "headers.config": '<httpProtocol><customHeaders><add name="X-A" value="1" />'
                          "</customHeaders></httpProtocol>",
        "modules.config": '<modules><remove name="CorsModule" /></modules>',
    })
    status, headers = call(CorsMiddleware(app, str(tmp_path / "web.config"), reload=False))
    # The module is removed (D1): no CORS header, the custom header still sent (C1).
    assert (status, headers.get("X-A"), headers.get("Access-Control-Allow-Origin")) == (
        200, "1", None)


def test_custom_headers_is_not_a_section_and_cannot_take_config_source(tmp_path: Path) -> None:
    write(tmp_path, {"web.config": including(
        '<httpProtocol><customHeaders configSource="h.config" /></httpProtocol>')})
    assert errors(tmp_path / "web.config") == [("E201", "web.config", 3)]


def test_validate_and_a_site_read_it_and_report_its_errors_in_it(tmp_path: Path) -> None:
    write(tmp_path, {"web.config": including(CORS),
                     "api/web.config": including('<cors configSource="api-cors.config" />'),
                     "api/api-cors.config": '<cors>\n  <add origin="https://b.example" '
                                            'allowed="maybe" />\n</cors>\n'})
    result = CliRunner().invoke(main, ["validate", "-f", "json", str(tmp_path)])
    assert result.exit_code == 1
    files = {Path(f["file"]).name: [(d["code"], d["line"]) for d in f["diagnostics"]]
             for f in json.loads(result.stdout)["files"]}
    assert files["api-cors.config"] == [("E206", 2)]  # located in the external file
    # At run time the error breaks the scope of the section that includes it (E6).
    middleware = CorsMiddleware(app, str(tmp_path), reload=False)
    assert (call(middleware, "/x")[0], call(middleware, "/api/x")[0]) == (200, 500)


# -- what is refused -----------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "problem"), [
    ("/etc/cors.config", "absolute"),
    ("\\shared\\cors.config", "absolute"),
    ("C:\\inetpub\\cors.config", "absolute"),
    ("\\\\server\\share\\cors.config", "absolute"),
    ("../cors.config", "leaves"),
    ("conf\\..\\..\\cors.config", "leaves"),
    ("", "empty"),
    ("missing.config", "cannot be read"),
    ("conf", "directory"),
])
def test_paths_iis_would_refuse_are_e306(tmp_path: Path, value: str, problem: str) -> None:
    site = write(tmp_path / "site", {
        "web.config": including(f'<cors configSource="{value}" />'),
        "conf/x.config": CORS})
    (tmp_path / "cors.config").write_text(CORS, encoding="utf-8")
    [error] = [d for d in check_config(site / "web.config") if d.is_error]
    assert (error.code, error.line) == ("E306", 3) and problem in error.message, error
    with pytest.raises(ConfigError, match="E306"):
        CorsMiddleware(app, str(site / "web.config"))


def test_a_link_to_outside_the_site_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.config").write_text(CORS, encoding="utf-8")
    site = write(tmp_path / "site", {"web.config": "<configuration/>",
                                     "api/web.config": including(
                                         '<cors configSource="linked.config" />')})
    (site / "api" / "linked.config").symlink_to(tmp_path / "outside.config")
    (site / "shared.config").write_text(CORS, encoding="utf-8")
    found = [d for d in analyse_site(site).diagnostics if d.is_error]
    assert [d.code for d in found] == ["E306"] and "outside the site" in found[0].message
    # A link that stays inside the site is followed.
    (site / "api" / "linked.config").unlink()
    (site / "api" / "linked.config").symlink_to(site / "shared.config")
    assert not [d for d in analyse_site(site).diagnostics if d.is_error]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    write(tmp_path, {"web.config": including('<cors configSource="cors.config" />')})
    os.mkfifo(tmp_path / "cors.config")
    [error] = [d for d in check_config(tmp_path / "web.config") if d.is_error]
    assert error.code == "E306" and "FIFO" in error.message


@pytest.mark.parametrize(("element", "external"), [
    ('<cors configSource="c.config" enabled="true" />', CORS),
    (f'<cors configSource="c.config"><add origin="{ORIGIN}" /></cors>', CORS),
    ('<cors configSource="c.config">text</cors>', CORS),
])
def test_the_including_element_holds_config_source_alone(tmp_path: Path, element: str,
                                                         external: str) -> None:
    write(tmp_path, {"web.config": including(element), "c.config": external})
    [error] = [d for d in check_config(tmp_path / "web.config") if d.is_error]
    assert (error.code, error.line) == ("E307", 3)
    assert error.message.startswith("A section using 'configSource' may contain no other")


@pytest.mark.parametrize(("external", "code", "line"), [
    ("<modules />", "E306", 1),                                # not the section's root
    ('<cors configSource="other.config" />', "E306", 1),       # no configSource in it
    ("<cors><add origin='x' bogus='1' /></cors>", "E201", 1),  # its own errors, located
    ("<cors>\n<add origin='x'>\n</cors>", "E102", 3),          # not XML
])
def test_the_external_file_is_judged_and_located(tmp_path: Path, external: str, code: str,
                                                 line: int) -> None:
    write(tmp_path, {"web.config": including('<cors configSource="c.config" />'),
                     "c.config": external})
    assert errors(tmp_path / "web.config") == [(code, "c.config", line)]


def test_bytes_have_no_directory_to_read_from() -> None:
    data = including('<cors configSource="c.config" />').encode()
    [error] = [d for d in check_config(data) if d.is_error]
    assert error.code == "E306" and "memory" in error.message


def test_a_config_source_in_a_location_breaks_only_that_path(tmp_path: Path) -> None:
    write(tmp_path, {"web.config": "<configuration>\n" + including(CORS)[16:-17]
                     + '<location path="api"><system.webServer>'
                     '<cors configSource="missing.config" /></system.webServer></location>\n'
                     "</configuration>\n"})
    middleware = CorsMiddleware(app, str(tmp_path / "web.config"), reload=False)
    assert (call(middleware, "/")[0], call(middleware, "/api/x")[0]) == (200, 500)


# -- hot reload ---------------------------------------------------------------------------------

def replace_text(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


@pytest.mark.parametrize("site", [False, True])
def test_reload_watches_the_config_source_file(tmp_path: Path, site: bool) -> None:
    write(tmp_path, {"web.config": including('<cors configSource="cors.config" />'),
                     "cors.config": CORS})
    source = str(tmp_path) if site else str(tmp_path / "web.config")
    middleware = CorsMiddleware(app, source, reload_interval=0)
    assert str(tmp_path / "cors.config") in map(str, middleware.watched)
    replace_text(tmp_path / "cors.config", CORS.replace(ORIGIN, "https://b.example"))
    assert "Access-Control-Allow-Origin" not in call(middleware)[1]
    # A bad edit keeps the last good configuration; the fix is picked up.
    replace_text(tmp_path / "cors.config", "<cors enabled='maybe' />")
    assert call(middleware)[0] == 200 and middleware.config_error is None
    replace_text(tmp_path / "cors.config", CORS)
    assert call(middleware)[1]["Access-Control-Allow-Origin"] == ORIGIN
    # A configSource file that appears later is noticed too.
    replace_text(tmp_path / "web.config", including('<cors configSource="later.config" />'))
    assert call(middleware)[1]["Access-Control-Allow-Origin"] == ORIGIN  # last good
    write(tmp_path, {"later.config": CORS.replace(ORIGIN, "https://c.example")})
    assert "Access-Control-Allow-Origin" not in call(middleware)[1]
