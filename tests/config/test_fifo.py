"""A web.config that is not a regular file never hangs a read (issue 12 item 13).

``open()`` of a FIFO blocks until a writer appears.  Swapped in for web.config between the
reload check's stat and its read, a FIFO used to freeze that check forever, with the reload lock
held, so that no later edit was ever applied.  Files are now opened non-blocking and must be
regular files (``fstat``); anything else is a located E100, and a reload keeps the last good
configuration (contract A8).  Every test runs under a timeout: a hang fails it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
from werkzeug.test import Client

from iiscors import ConfigError, CorsMiddleware, check_config, load_config
from iiscors.config import site
from iiscors.config.files import NotRegularFile, read_regular_file

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform"),
]


def web_config(origin: str) -> str:
    return ('<?xml version="1.0" encoding="utf-8"?>\n<configuration><system.webServer>'
            f'<cors enabled="true" failUnlistedOrigins="true"><add origin="{origin}" />'
            "</cors></system.webServer></configuration>\n")


def app(environ: object, start_response: object) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
    return [b"ok"]


def allow_origin(client: Client, origin: str) -> str | None:
    response = client.get("/", headers={"Origin": origin})
    value: str | None = response.headers.get("Access-Control-Allow-Origin")
    return value


def replace_with(path: Path, make: str) -> None:
    """Swap ``path`` atomically for a FIFO, or a symlink to one ("fifo", "symlink")."""
    fifo = path.with_name("trap.fifo")
    if not fifo.exists():
        os.mkfifo(fifo)
    swap = path.with_name("swap.tmp")
    if make == "fifo":
        os.rename(fifo, swap)
    else:
        os.symlink(fifo, swap)
    os.replace(swap, path)


def replace_with_text(path: Path, text: str) -> None:
    swap = path.with_name("swap.tmp")
    swap.write_text(text, encoding="utf-8")
    os.replace(swap, path)


def test_reading_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "web.config"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFile, match="not a regular file"):
        read_regular_file(fifo, 100)
    regular = tmp_path / "regular.config"
    regular.write_bytes(b"0123456789")
    assert read_regular_file(regular, 4) == b"0123"
    assert read_regular_file(regular, 100) == b"0123456789"
    with pytest.raises(IsADirectoryError):
        read_regular_file(tmp_path, 100)
    with pytest.raises(FileNotFoundError):
        read_regular_file(tmp_path / "missing", 100)


@pytest.mark.parametrize("make", ["fifo", "symlink"])
def test_loading_a_fifo_is_a_located_error(tmp_path: Path, make: str) -> None:
    path = tmp_path / "web.config"
    path.write_text(web_config("https://a.example"), encoding="utf-8")
    replace_with(path, make)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    [diagnostic] = raised.value.diagnostics
    assert diagnostic.code == "E100" and str(path) in str(diagnostic)
    assert "not a regular file (a FIFO)" in str(diagnostic)
    assert [d.code for d in check_config(path)] == ["E100"]


def test_a_character_device_is_refused_too(tmp_path: Path) -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    [diagnostic] = check_config("/dev/zero")
    assert diagnostic.code == "E100" and "character device" in str(diagnostic)


@pytest.mark.parametrize("make", ["fifo", "symlink"])
def test_hot_reload_survives_a_fifo_and_applies_the_next_edit(
        tmp_path: Path, make: str, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "web.config"
    path.write_text(web_config("https://a.example"), encoding="utf-8")
    middleware = CorsMiddleware(app, str(path), reload_interval=0)
    client = Client(middleware)
    assert allow_origin(client, "https://a.example") == "https://a.example"

    replace_with(path, make)
    with caplog.at_level(logging.ERROR, logger="iiscors"):
        for _ in range(3):  # every check reads the FIFO (the stat is racy): none may hang
            assert allow_origin(client, "https://a.example") == "https://a.example"
            assert middleware.check_reload() is False
    errors = [r.getMessage() for r in caplog.records if "not a regular file" in r.getMessage()]
    assert len(errors) == 1, caplog.text  # logged once per episode (contract A8)

    replace_with_text(path, web_config("https://b.example"))
    assert allow_origin(client, "https://b.example") == "https://b.example"
    assert allow_origin(client, "https://a.example") is None


def test_a_site_file_swapped_for_a_fifo_after_the_scan(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "web.config").write_text(web_config("https://a.example"), encoding="utf-8")
    api = tmp_path / "api"
    api.mkdir()
    (api / "web.config").write_text(web_config("https://api.example"), encoding="utf-8")
    middleware = CorsMiddleware(app, str(tmp_path), reload_interval=0)
    client = Client(middleware)
    assert client.get("/api/x", headers={"Origin": "https://api.example"}).headers[
        "Access-Control-Allow-Origin"] == "https://api.example"
    # The scan saw a regular file; by the time it is read, it is a FIFO.
    scanned_isfile = os.path.isfile
    monkeypatch.setattr(site.os.path, "isfile", lambda p: scanned_isfile(p) or
                        str(p).endswith(os.sep + "web.config"))
    replace_with(api / "web.config", "fifo")
    assert middleware.check_reload() is False
    assert client.get("/api/x", headers={"Origin": "https://api.example"}).headers[
        "Access-Control-Allow-Origin"] == "https://api.example"
    monkeypatch.undo()
    replace_with_text(api / "web.config", web_config("https://api2.example"))
    assert middleware.check_reload() is True
    assert client.get("/api/x", headers={"Origin": "https://api2.example"}).headers[
        "Access-Control-Allow-Origin"] == "https://api2.example"


def test_validate_a_fifo_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "web.config"
    os.mkfifo(fifo)
    result = subprocess.run([sys.executable, "-m", "iiscors", "validate", str(fifo)],
                            capture_output=True, text=True, timeout=20, check=False)
    assert result.returncode == 2, result.stderr  # E100, a file that cannot be read
    assert "E100" in result.stdout and "not a regular file (a FIFO)" in result.stdout
    assert "Traceback" not in result.stderr
