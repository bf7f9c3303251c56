"""The static site's MIME map is IIS's (issue 12, item 2).

IIS serves only the file types of its staticContent mimeMap, and 404.3 for any other; a
web.config changes the map with ``<mimeMap>``, ``<remove>`` and ``<clear/>``, for its directory
and below (and for a ``<location path>``).  Adding an extension already mapped is IIS's 500.19.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from iiscors.serving.app import build
from iiscors.serving.static import StaticSite
from iiscors.wsgi import WSGIApplication

ORIGIN = "https://a.example"
CORS = f'<cors enabled="true"><add origin="{ORIGIN}"/></cors>'


def config(static_content: str = "", cors: str = CORS, extra: str = "") -> str:
    section = f"<staticContent>{static_content}</staticContent>" if static_content else ""
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n<system.webServer>{cors}'
            f"{section}</system.webServer>{extra}\n</configuration>\n")


def write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def get(app: WSGIApplication, path: str) -> tuple[int, str | None, bytes]:
    response = Client(app).get(path, headers={"Origin": ORIGIN})
    body = response.get_data()
    response.close()
    return response.status_code, response.headers.get("Content-Type"), body


def apps(root: Path) -> list[WSGIApplication]:
    stack, _ = build(None, str(root), None, None, reload=False)
    return [StaticSite(root), stack]


def test_the_table_is_iis_10s() -> None:
    from iiscors.serving.mimemap import DEFAULT_MIME_TYPES, IIS_DEFAULT_MIME_MAP

    assert len(IIS_DEFAULT_MIME_MAP) == 378 == len(DEFAULT_MIME_TYPES)
    assert DEFAULT_MIME_TYPES[".json"] == "application/json"
    assert DEFAULT_MIME_TYPES[".woff2"] == "application/font-woff2"
    assert DEFAULT_MIME_TYPES[".js"] == "application/javascript"
    assert DEFAULT_MIME_TYPES[".ivf"] == "video/x-ivf"  # written ".IVF": keys are case-folded


NOT_IIS = [".py", ".sql", ".key", ".pem", ".bak", ".sqlite", ".webmanifest", ".mjs", ".webp",
           ".avif", ".md", ".yml", ".php", ".ini", ".log", ".env", ".pyc", ".db", ".swp"]
IIS_TYPES = {".sh": "application/x-sh", ".gz": "application/x-gzip", ".tar": "application/x-tar",
             ".json": "application/json", ".woff2": "application/font-woff2",
             ".woff": "font/x-woff", ".wasm": "application/wasm", ".svg": "image/svg+xml",
             ".html": "text/html", ".txt": "text/plain", ".csv": "application/octet-stream",
             ".JPG": "image/jpeg"}


@pytest.mark.parametrize("extension", NOT_IIS)
def test_a_type_iis_does_not_know_is_404(tmp_path: Path, extension: str) -> None:
    write(tmp_path / "web.config", config())
    write(tmp_path / f"file{extension}", b"secret")
    write(tmp_path / extension, b"secret")  # a dot-file: its extension is its whole name
    for app in apps(tmp_path):
        assert get(app, f"/file{extension}")[0] == 404
        assert get(app, f"/{extension}")[0] == 404


@pytest.mark.parametrize(("extension", "mime_type"), IIS_TYPES.items())
def test_iis_types_are_served_with_iis_content_type(tmp_path: Path, extension: str,
                                                    mime_type: str) -> None:
    write(tmp_path / "web.config", config())
    write(tmp_path / f"file{extension}", b"data")
    for app in apps(tmp_path):
        assert get(app, f"/file{extension}") == (200, mime_type, b"data")


def test_extensionless_files_are_404_by_default(tmp_path: Path) -> None:
    write(tmp_path / "web.config", config())
    write(tmp_path / "LICENSE", b"x")
    write(tmp_path / "Makefile", b"x")
    for app in apps(tmp_path):
        assert get(app, "/LICENSE")[0] == get(app, "/Makefile")[0] == 404


def test_a_symlink_cannot_give_a_file_a_type_it_does_not_have(tmp_path: Path) -> None:
    write(tmp_path / "web.config", config())
    write(tmp_path / "db.sqlite", b"secret")
    os.symlink("db.sqlite", tmp_path / "db.txt")
    for app in apps(tmp_path):
        assert get(app, "/db.txt")[0] == 404


SPA = ('<remove fileExtension=".json"/><mimeMap fileExtension=".json" '
       'mimeType="application/json; charset=utf-8"/>'
       '<remove fileExtension=".woff2"/><mimeMap fileExtension=".woff2" mimeType="font/woff2"/>'
       '<mimeMap fileExtension=".webmanifest" mimeType="application/manifest+json"/>'
       '<clientCache cacheControlMode="UseMaxAge" cacheControlMaxAge="7.00:00:00"/>')


def test_a_web_config_adds_and_replaces_types(tmp_path: Path) -> None:
    """A real single-page app's staticContent (remove, then add)."""
    write(tmp_path / "web.config", config(SPA))
    for name in ("site.webmanifest", "data.json", "font.woff2"):
        write(tmp_path / name, b"x")
    for app in apps(tmp_path):
        assert get(app, "/site.webmanifest")[:2] == (200, "application/manifest+json")
        assert get(app, "/data.json")[:2] == (200, "application/json; charset=utf-8")
        assert get(app, "/font.woff2")[:2] == (200, "font/woff2")


def test_a_sub_directory_web_config_applies_to_its_subtree_only(tmp_path: Path) -> None:
    write(tmp_path / "web.config", config())
    write(tmp_path / "Docs" / "Web.Config", config(
        '<mimeMap fileExtension=".md" mimeType="text/markdown"/>'
        '<remove fileExtension=".txt"/>', cors=""))
    for name in ("README.md", "a.txt", "Docs/README.md", "Docs/a.txt", "Docs/deep/x.md"):
        write(tmp_path / name, b"x")
    for app in apps(tmp_path):
        assert get(app, "/README.md")[0] == 404
        assert get(app, "/a.txt")[0] == 200
        assert get(app, "/docs/README.md")[:2] == (200, "text/markdown")  # any letter case
        assert get(app, "/Docs/deep/x.md")[0] == 200
        assert get(app, "/Docs/a.txt")[0] == 404


def test_clear_drops_every_inherited_type(tmp_path: Path) -> None:
    write(tmp_path / "web.config", config())
    write(tmp_path / "only" / "web.config", config(
        '<clear/><mimeMap fileExtension=".txt" mimeType="text/plain"/>', cors=""))
    for name in ("only/a.txt", "only/a.json", "only/index.html"):
        write(tmp_path / name, b"x")
    for app in apps(tmp_path):
        assert get(app, "/only/a.txt")[0] == 200
        assert get(app, "/only/a.json")[0] == 404
        assert get(app, "/only/")[0] == 404  # the default document has no type there either


def test_location_paths_scope_static_content(tmp_path: Path) -> None:
    well_known = ('<location path=".well-known/acme-challenge"><system.webServer>'
                  '<staticContent><mimeMap fileExtension="." mimeType="text/plain"/>'
                  "</staticContent></system.webServer></location>")
    write(tmp_path / "web.config", config(extra=well_known))
    write(tmp_path / ".well-known" / "acme-challenge" / "token123", b"proof")
    write(tmp_path / ".well-known" / "other" / "token123", b"x")
    write(tmp_path / "token123", b"x")
    for app in apps(tmp_path):
        assert get(app, "/.well-known/acme-challenge/token123") == (200, "text/plain", b"proof")
        assert get(app, "/.well-known/other/token123")[0] == 404
        assert get(app, "/token123")[0] == 404


def test_a_wildcard_type_serves_unknown_files_but_not_hidden_ones(tmp_path: Path) -> None:
    write(tmp_path / "web.config", config(
        '<mimeMap fileExtension=".*" mimeType="application/octet-stream"/>'))
    write(tmp_path / "data.xyz", b"x")
    write(tmp_path / "README", b"x")
    write(tmp_path / "code.cs", b"secret")
    write(tmp_path / "App_Data" / "db.xyz", b"secret")
    write(tmp_path / ".git" / "config", b"[core]")
    for app in apps(tmp_path):
        assert get(app, "/data.xyz")[:2] == (200, "application/octet-stream")
        assert get(app, "/README")[0] == 200
        # IIS hides no .git: with such a wildcard a checkout's files are served, as on IIS
        # (docs/threat-model.md says not to serve one)
        assert get(app, "/.git/config")[0] == 200
        assert get(app, "/code.cs")[0] == get(app, "/App_Data/db.xyz")[0] == 404
        assert get(app, "/web.config")[0] == 404


@pytest.mark.parametrize("static_content", [
    '<mimeMap fileExtension=".json" mimeType="application/json"/>',  # IIS 10 has .json already
    '<mimeMap fileExtension=".a" mimeType="x/a"/><mimeMap fileExtension=".A" mimeType="x/b"/>',
    '<mimeMap fileExtension=".x"/>',
    '<mimeMap mimeType="text/plain"/>',
    '<remove/>',
    '<mimeMap fileExtension=".x" mimeType="text/plain&#13;&#10;Set-Cookie: a=b"/>',
    '<mimeMap fileExtension=".x" mimeType="text/pl\u00e4in"/>',
    '<mimeMap fileExtension=".x" mimeType="plain"/>',
])
def test_an_invalid_static_content_is_500_for_its_scope(tmp_path: Path, static_content: str,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path / "web.config", config())
    write(tmp_path / "sub" / "web.config", config(static_content, cors=""))
    write(tmp_path / "sub" / "a.txt", b"x")
    write(tmp_path / "sub" / "a.x", b"x")
    write(tmp_path / "a.txt", b"x")
    with caplog.at_level(logging.ERROR, logger="iiscors"):
        for app in apps(tmp_path):
            status, _, body = get(app, "/sub/a.txt")
            assert status == 500 and b"Set-Cookie" not in body
            assert get(app, "/sub/a.x")[0] == 500
            assert get(app, "/a.txt")[0] == 200
    assert "500.19" in caplog.text


def test_the_iis_duplicate_message_names_the_extension(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path / "web.config", config('<mimeMap fileExtension=".json" mimeType="a/b"/>'))
    write(tmp_path / "a.txt", b"x")
    with caplog.at_level(logging.ERROR, logger="iiscors"):
        assert get(StaticSite(tmp_path), "/a.txt")[0] == 500
        assert get(StaticSite(tmp_path), "/a.txt")[0] == 500
    assert caplog.text.count("Cannot add duplicate collection entry of type 'mimeMap' with "
                             "unique key attribute 'fileExtension' set to '.json'") == 2


def test_an_edit_applies_at_the_next_request(tmp_path: Path) -> None:
    """As IIS does, and as the CORS middleware reloads: no restart."""
    write(tmp_path / "web.config", config())
    write(tmp_path / "site.webmanifest", b"{}")
    app = StaticSite(tmp_path)
    assert get(app, "/site.webmanifest")[0] == 404
    write(tmp_path / "web.config", config(SPA))
    assert get(app, "/site.webmanifest")[0] == 200
    os.unlink(tmp_path / "web.config")
    assert get(app, "/site.webmanifest")[0] == 404
    write(tmp_path / "sub" / "WEB.config", config(SPA))  # a new file in a new directory
    write(tmp_path / "sub" / "a.webmanifest", b"{}")
    assert get(app, "/sub/a.webmanifest")[0] == 200


def test_a_broken_edit_keeps_the_last_good_settings(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path / "web.config", config(SPA))
    write(tmp_path / "site.webmanifest", b"{}")
    app = StaticSite(tmp_path)
    assert get(app, "/site.webmanifest")[0] == 200
    with caplog.at_level(logging.ERROR, logger="iiscors"):
        write(tmp_path / "web.config", "<configuration><system.webServer>")
        assert get(app, "/site.webmanifest")[0] == 200
        assert get(app, "/site.webmanifest")[0] == 200
    assert caplog.text.count("web.config") == 1  # logged once
    write(tmp_path / "new" / "web.config", "<configuration")
    write(tmp_path / "new" / "a.txt", b"x")
    assert get(app, "/new/a.txt")[0] == 500  # never good: IIS's 500.19 for its subtree


@pytest.mark.timeout(20)
def test_a_fifo_web_config_does_not_hang_the_site(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "a.txt", b"x")
    os.mkfifo(tmp_path / "sub" / "web.config")
    started = time.monotonic()
    assert get(StaticSite(tmp_path), "/sub/a.txt")[0] == 200
    assert time.monotonic() - started < 5


def test_a_web_config_linked_from_outside_the_root_is_ignored(tmp_path: Path) -> None:
    write(tmp_path / "outside" / "web.config", config(SPA))
    write(tmp_path / "site" / "site.webmanifest", b"{}")
    os.symlink(tmp_path / "outside" / "web.config", tmp_path / "site" / "web.config")
    assert get(StaticSite(tmp_path / "site"), "/site.webmanifest")[0] == 404


def test_static_content_is_not_an_error_for_the_validator(tmp_path: Path) -> None:
    """Contract A1: sections other than the CORS ones are not validated."""
    from iiscors.cli.main import main

    write(tmp_path / "web.config", config(SPA, extra=(
        '<location path="x"><system.webServer><staticContent><clear/></staticContent>'
        "</system.webServer></location>")))
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 0, result.output


def test_the_caches_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from iiscors.serving import siteconfig

    monkeypatch.setattr(siteconfig, "MAX_CACHED", 3)
    settings = siteconfig.SiteSettings(str(tmp_path))
    for i in range(10):
        write(tmp_path / f"d{i}" / "web.config", config(SPA))
        directory = str(tmp_path / f"d{i}")
        settings.settings([(directory, (f"d{i}",))], (f"d{i}", "a.webmanifest"))
        assert len(settings._names) <= 3 and len(settings._files) <= 3
