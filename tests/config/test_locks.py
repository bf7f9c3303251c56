"""Locking (contract E2, issue 13 item 2): overrideMode, allowOverride, lockAttributes,
lockAllAttributesExcept, lockElements, lockAllElementsExcept and lockItem.

A lock set in one file binds the lower files whose path it covers.  A violation is a located
error in ``validate`` (in the lower file, the lock's place as related information) and makes the
scope it governs unusable at run time (contract E6: 500 there, the rest serves); an edit that
introduces one keeps the last good configuration of that scope, logged once.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from iiscors import check_config
from iiscors.cli.main import main
from iiscors.config.diagnostics import Diagnostic
from iiscors.config.site import analyse_site
from iiscors.wsgi import CorsMiddleware

ORIGIN = "https://a.example"


def config(body: str) -> str:
    return f"<configuration>\n{body}\n</configuration>\n"


def server(sections: str) -> str:
    return f"<system.webServer>{sections}</system.webServer>"


def located(path: str, sections: str, **attributes: str) -> str:
    extra = "".join(f' {name}="{value}"' for name, value in attributes.items())
    return f'<location path="{path}"{extra}>{server(sections)}</location>'


ROOT_CORS = f'<cors enabled="true"><add origin="{ORIGIN}" /></cors>'


def site(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def errors(root: Path) -> list[Diagnostic]:
    return [d for d in analyse_site(root, all_or_nothing=False).diagnostics if d.is_error]


def place(root: Path, d: Diagnostic) -> tuple[str, str, int | None]:
    return (d.code, Path(d.file).relative_to(root).as_posix(), d.line)


def status(middleware: CorsMiddleware, path: str) -> int:
    seen: list[int] = []

    def start_response(line: str, headers: Any, exc_info: Any = None) -> Any:
        seen.append(int(line.split()[0]))
        return lambda data: None

    middleware({"REQUEST_METHOD": "GET", "PATH_INFO": path, "HTTP_ORIGIN": ORIGIN},
               start_response)
    return seen[0]


def app(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [b""]


# -- section locks: overrideMode and allowOverride ---------------------------------------------

def test_a_section_locked_with_override_mode_deny_cannot_be_used_below(tmp_path: Path) -> None:
    root = site(tmp_path, {
        "web.config": config(server(ROOT_CORS) + "\n" + located("api", "<cors />",
                                                                overrideMode="Deny")),
        "api/web.config": config(server("\n<cors enabled=\"false\" />")),
    })
    [error] = errors(root)
    assert place(root, error) == ("E304", "api/web.config", 3)
    assert error.message.startswith("This configuration section cannot be used at this path. "
                                    "This happens when the section is locked at a parent level")
    [related] = error.related
    assert (related.note, Path(related.file).name, related.line) == ("locked at", "web.config",
                                                                     3)
    # At run time the locked scope is unusable (E6): /api answers 500, the rest serves.
    middleware = CorsMiddleware(app, str(root), reload=False)
    assert [status(middleware, p) for p in ("/", "/api", "/api/x", "/apix")] == [200, 500, 500,
                                                                                200]
    result = CliRunner().invoke(main, ["validate", "-f", "json", str(root)])
    assert result.exit_code == 1
    [found] = [d for f in json.loads(result.stdout)["files"] for d in f["diagnostics"]]
    assert found["code"] == "E304" and found["related"][0]["note"] == "locked at"


@pytest.mark.parametrize(("attributes", "locked"), [
    ({"allowOverride": "false"}, True),
    ({"allowOverride": "true"}, False),       # true is Inherit: nothing locked
    ({"overrideMode": "Inherit"}, False),
    ({"overrideMode": "allow"}, False),       # enumeration values in any letter case
    ({"overrideMode": "DENY"}, True),
])
def test_override_mode_and_allow_override(tmp_path: Path, attributes: dict[str, str],
                                          locked: bool) -> None:
    root = site(tmp_path, {"web.config": config(located(".", ROOT_CORS, **attributes)),
                           "api/web.config": config(server("<cors />"))})
    assert [d.code for d in errors(root)] == (["E304"] if locked else [])


def test_a_nearer_allow_unlocks_and_only_the_sections_held_are_locked(tmp_path: Path) -> None:
    headers = '<httpProtocol><customHeaders><add name="X-A" value="1" /></customHeaders>' \
              "</httpProtocol>"
    root = site(tmp_path, {
        "web.config": config(located(".", ROOT_CORS + headers, overrideMode="Deny") + "\n"
                             + located("open", "<cors />", overrideMode="Allow")),
        "open/web.config": config(server("<cors />")),           # unlocked for open/
        "api/web.config": config(server("<modules><remove name=\"WebDAVModule\" /></modules>")),
        "api/v1/web.config": config(server("\n" + headers.replace("X-A", "X-B"))),
    })
    assert [place(root, d) for d in errors(root)] == [("E304", "api/v1/web.config", 3)]


def test_locations_of_the_same_file_never_violate_each_others_locks(tmp_path: Path) -> None:
    text = config(located("api", ROOT_CORS, overrideMode="Deny") + "\n"
                  + located("api/v1", '<cors enabled="false" />'))
    assert not [d for d in check_config(text.encode()) if d.is_error]


# -- granular locks -----------------------------------------------------------------------------

@pytest.mark.parametrize(("lock", "lower", "violation"), [
    ('lockAttributes="enabled"', '<cors enabled="false" />', "attribute 'enabled'"),
    ('lockAttributes="enabled"', '<cors failUnlistedOrigins="true" />', None),
    ('lockAttributes="*"', '<cors failUnlistedOrigins="true" />',
     "attribute 'failUnlistedOrigins'"),
    ('lockAllAttributesExcept="failUnlistedOrigins"', '<cors enabled="true" />',
     "attribute 'enabled'"),
    ('lockAllAttributesExcept="failUnlistedOrigins"', '<cors failUnlistedOrigins="true" />',
     None),
    ('lockElements="clear, remove"', "<cors><clear /></cors>", "element <clear>"),
    ('lockElements="clear,remove"', f'<cors><remove origin="{ORIGIN}" /></cors>',
     "element <remove>"),
    ('lockElements="clear,remove"', '<cors><add origin="https://b.example" /></cors>', None),
    ('lockAllElementsExcept="add"', "<cors><clear /></cors>", "element <clear>"),
    ('lockElements="*"', '<cors><add origin="https://b.example" /></cors>', "element <add>"),
])
def test_granular_locks_on_the_section(tmp_path: Path, lock: str, lower: str,
                                       violation: str | None) -> None:
    root = site(tmp_path, {
        "web.config": config(server(ROOT_CORS.replace("<cors ", f"<cors {lock} "))),
        "api/web.config": config(server("\n" + lower)),
    })
    found = errors(root)
    if violation is None:
        assert found == []
        return
    [error] = found
    assert place(root, error) == ("E305", "api/web.config", 3)
    assert error.message.startswith("Lock violation: ") and violation in error.message
    assert error.related[0].line == 2 and Path(error.related[0].file).name == "web.config"


def test_lock_item_protects_an_entry_from_remove_and_clear(tmp_path: Path) -> None:
    locked = (f'<cors enabled="true"><add origin="{ORIGIN}" lockItem="true" />'
              '<add origin="https://b.example" /></cors>')
    for lower, code in ((f'<cors><remove origin="{ORIGIN.upper()}" /></cors>', "E305"),
                        ("<cors><clear /></cors>", "E305"),
                        ('<cors><remove origin="https://b.example" /></cors>', None)):
        root = site(tmp_path / str(len(list(tmp_path.iterdir()))), {
            "web.config": config(server(locked)), "api/web.config": config(server(lower))})
        assert [d.code for d in errors(root)] == ([code] if code else []), lower


def test_lock_elements_on_http_protocol_locks_custom_headers(tmp_path: Path) -> None:
    root = site(tmp_path, {
        "web.config": config(server('<httpProtocol lockElements="customHeaders" />')),
        "api/web.config": config(server(
            '<httpProtocol><customHeaders><add name="X-A" value="1" /></customHeaders>'
            "</httpProtocol>")),
    })
    assert [d.code for d in errors(root)] == ["E305"]


def test_lock_attributes_are_never_unrecognized(tmp_path: Path) -> None:
    locks = ('lockAttributes="enabled" lockAllAttributesExcept="x" lockElements="add" '
             'lockAllElementsExcept="clear"')
    text = config(
        f'<location path="api" overrideMode="Allow" inheritInChildApplications="false">'
        f"<system.webServer><cors {locks}>"
        f'<add origin="{ORIGIN}" lockItem="true" {locks}><allowHeaders {locks}>'
        f'<add header="x" lockItem="true" /></allowHeaders></add><clear {locks} /></cors>'
        f"<httpProtocol {locks}><customHeaders {locks}>"
        '<add name="X-A" value="1" lockItem="true" /></customHeaders></httpProtocol>'
        f'<modules {locks}><add name="M" lockItem="true" /></modules>'
        "</system.webServer></location>"
        '<location path="legacy" allowOverride="false" />')
    assert [d.code for d in check_config(text.encode()) if d.is_error] == []


@pytest.mark.parametrize(("attributes", "code"), [
    ('overrideMode="Lock"', "E211"),
    ('allowOverride="no"', "E206"),
    ('inheritInChildApplications="0"', "E206"),
    ('overrideMode="Deny" allowOverride="false"', "E212"),
    ('overideMode="Deny"', "E201"),
])
def test_bad_location_attributes_are_located_errors_of_that_path(attributes: str,
                                                                  code: str) -> None:
    text = config(server(ROOT_CORS) + f'\n<location path="api" {attributes}>'
                  + server("<cors />") + "</location>")
    [error] = [d for d in check_config(text.encode()) if d.is_error]
    assert (error.code, error.line) == (code, 3)
    middleware = CorsMiddleware(app, text.encode())  # E6: only /api is unusable
    assert (status(middleware, "/"), status(middleware, "/api/x")) == (200, 500)


# -- reload ------------------------------------------------------------------------------------

def test_an_edit_introducing_a_lock_violation_keeps_the_last_good_and_is_logged_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = site(tmp_path, {
        "web.config": config(server(ROOT_CORS.replace("<cors ", '<cors lockAttributes="enabled" '
                                                      ))),
        "api/web.config": config(server('<cors failUnlistedOrigins="true" />')),
    })
    middleware = CorsMiddleware(app, str(root), reload_interval=0)
    assert status(middleware, "/api/x") == 200
    caplog.set_level(logging.INFO, logger="iiscors")
    edited = root / "api" / "web.config.tmp"
    edited.write_text(config(server('<cors enabled="false" />')), encoding="utf-8")
    os.replace(edited, root / "api" / "web.config")
    for _ in range(3):
        assert status(middleware, "/api/x") == 200  # the last good: CORS still enabled there
        assert middleware.decide({"PATH_INFO": "/api/x", "HTTP_ORIGIN": ORIGIN}).status is None
    logged = [r.getMessage() for r in caplog.records if "E305" in r.getMessage()]
    assert len(logged) == 1 and "api/web.config" in logged[0]
    assert any("last good" in r.getMessage() for r in caplog.records)
