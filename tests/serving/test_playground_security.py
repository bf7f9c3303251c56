"""The playground against DNS rebinding, and what its config endpoint shows (issue 12 item 9).

A page on ``rebind.attacker.example`` can make that name resolve to 127.0.0.1; the browser then
sends the page's requests to the loopback playground with ``Host: rebind.attacker.example`` and
lets the page read the answers (same origin, as far as the browser knows).  So every endpoint
of both servers answers only Host values naming loopback (or given with ``--allow-host``), with
the server's own port, and the config endpoint masks the values outside the CORS sections.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.test import Client, create_environ, run_wsgi_app

from iiscors import CorsMiddleware
from iiscors.cli.main import main
from iiscors.serving.demo.app import demo_app
from iiscors.serving.playground import Playground, answered_names
from iiscors.serving.playground_apps import PlaygroundPage, RecordingApi

API = "http://127.0.0.1:9"
PASSWORD = "Tr0ub4dor-hunter2"

#: A web.config of the kind teams really have: secrets beside the CORS sections.
SECRETS = f"""<?xml version="1.0" encoding="utf-8"?>
<!-- The site's configuration; the CORS part is below. -->
<configuration>
  <!-- <add name="Old" connectionString="Server=old;Password={PASSWORD}" /> -->
  <!-- the old password was {PASSWORD}, or Password={PASSWORD} -->
  <connectionStrings>
    <add name="Main" connectionString="Server=db;User Id=app;Password={PASSWORD}"
         providerName="System.Data.SqlClient" />
  </connectionStrings>
  <appSettings>
    <add key="StripeKey" value="sk_live_{PASSWORD}" />
  </appSettings>
  <applicationSettings>
    <setting name="Token"><value>{PASSWORD}</value></setting>
  </applicationSettings>
  <system.web>
    <machineKey validationKey="{PASSWORD}" decryptionKey="{PASSWORD}" />
  </system.web>
  <system.webServer>
    <security>
      <authentication>
        <anonymousAuthentication userName="svc" password="{PASSWORD}" />
      </authentication>
    </security>
    <cors enabled="true" failUnlistedOrigins="true">
      <!-- the page's own origin -->
      <add origin="http://localhost" allowCredentials="true" />
    </cors>
    <httpProtocol>
      <customHeaders>
        <add name="X-Frame-Options" value="DENY" />
      </customHeaders>
    </httpProtocol>
    <modules>
      <remove name="WebDAVModule" />
    </modules>
  </system.webServer>
  <location path="api/admin">
    <appSettings>
      <add key="AdminKey" value="{PASSWORD}" />
    </appSettings>
    <system.webServer>
      <cors enabled="true"><add origin="https://admin.example" /></cors>
    </system.webServer>
  </location>
</configuration>
"""

PAGE_PATHS = ("/", "/playground.js", "/playground.css", "/__iiscors/config",
              "/__iiscors/seen", "/__iiscors/seen?after=0",
              "/__iiscors/explain?method=GET&path=/api/items", "/nope")
HOSTILE_HOSTS = (
    "rebind.attacker.example",
    "rebind.attacker.example:80",
    "localhost.attacker.example",
    "127.0.0.1.attacker.example",
    "127.0.0.1.nip.io",
    "localhost:81",  # loopback, but not this server's port
    "localhost:",
    "localhost:80:80",
    "[::1",
    "[::1]x",
    "evil@localhost",
    "",
)
LOOPBACK_HOSTS = ("localhost", "LocalHost", "127.0.0.1", "127.1.2.3", "[::1]", "localhost:80",
                  "[::1]:80")


def apps(tmp_path: Path, text: str = SECRETS, **kwargs: tuple[str, ...]
         ) -> tuple[PlaygroundPage, RecordingApi]:
    path = tmp_path / "web.config"
    path.write_text(text, encoding="utf-8")
    api = RecordingApi(CorsMiddleware(demo_app, str(path), reload_interval=0), **kwargs)
    return PlaygroundPage(api, API, **kwargs), api


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_a_foreign_host_gets_421_and_no_data_on_every_endpoint(tmp_path: Path,
                                                              host: str) -> None:
    page, api = apps(tmp_path)
    client = Client(page)
    for url in PAGE_PATHS:
        response = client.get(url, headers={"Host": host})
        body = response.get_data(as_text=True)
        assert response.status_code == 421, (url, response.status_code)
        assert PASSWORD not in body and "connectionString" not in body
        assert "explain" not in body and "seq" not in body and "<html" not in body.lower()
        assert response.headers["Content-Type"].startswith("text/plain")
        assert "attacker" not in body  # the refused name is not reflected
    api_response = Client(api).get("/api/items", headers={"Host": host,
                                                          "Origin": "http://localhost"})
    assert api_response.status_code == 421
    assert not any(k.lower().startswith("access-control-") for k, _ in api_response.headers.items())
    # the refused request did not reach the API (nor its log)
    last, seen = api.seen(0)
    assert (last, seen) == (0, [])


def test_a_request_without_host_is_refused(tmp_path: Path) -> None:
    page, api = apps(tmp_path)
    for app in (page, api):
        environ = create_environ("/")
        del environ["HTTP_HOST"]
        _, status, _ = run_wsgi_app(app, environ, buffered=True)
        assert status.startswith("421 ")


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
def test_loopback_hosts_are_answered(tmp_path: Path, host: str) -> None:
    page, api = apps(tmp_path)
    assert Client(page).get("/__iiscors/seen", headers={"Host": host}).status_code == 200
    assert Client(api).get("/api/items", headers={"Host": host}).status_code == 200


def test_the_port_must_be_the_servers_own(tmp_path: Path) -> None:
    page, _ = apps(tmp_path)
    client = Client(page)
    here = "http://localhost:8081/"
    assert client.get("/__iiscors/seen", base_url=here).status_code == 200
    assert client.get("/__iiscors/seen", base_url=here,
                      headers={"Host": "127.0.0.1:8081"}).status_code == 200
    for host in ("localhost", "localhost:8080", "127.0.0.1:18081"):
        assert client.get("/__iiscors/seen", base_url=here,
                          headers={"Host": host}).status_code == 421, host


def test_allowed_hosts_are_answered_and_only_those(tmp_path: Path) -> None:
    page, api = apps(tmp_path, allowed_hosts=("dev.example", "192.0.2.7"))
    for host in ("dev.example", "DEV.example:80", "192.0.2.7", "localhost"):
        assert Client(page).get("/__iiscors/seen", headers={"Host": host}).status_code == 200
        assert Client(api).get("/api/items", headers={"Host": host}).status_code == 200
    for host in ("x.dev.example", "dev.example.attacker.example", "192.0.2.8"):
        assert Client(page).get("/__iiscors/seen", headers={"Host": host}).status_code == 421


def test_the_listen_address_is_answered_unless_a_wildcard() -> None:
    assert answered_names("192.0.2.7", ()) == ("192.0.2.7",)
    assert answered_names("dev.example", ("b.example",)) == ("b.example", "dev.example")
    assert answered_names("0.0.0.0", ("b.example",)) == ("b.example",)
    assert answered_names("::", ()) == ()


# -- the config endpoint: the CORS sections as written, every other value masked -------------


def config_text(tmp_path: Path, text: str = SECRETS) -> str:
    page, _ = apps(tmp_path, text)
    data = Client(page).get("/__iiscors/config").get_json()
    shown: str = data["files"][0]["text"]
    return shown


def test_the_config_endpoint_shows_no_secret(tmp_path: Path) -> None:
    shown = config_text(tmp_path)
    assert PASSWORD not in shown
    assert "Server=db" not in shown and "svc" not in shown
    assert 'connectionString="…"' in shown and 'value="…"' in shown
    assert "<value>…</value>" in shown


def test_the_cors_sections_are_shown_as_written_line_for_line(tmp_path: Path) -> None:
    shown = config_text(tmp_path)
    written = SECRETS.splitlines()
    lines = shown.splitlines()
    # explain cites file:line, so every line stays where it was
    assert len(lines) == len(written)
    kept = [n for n, line in enumerate(written)
            if re.search(r"cors|origin=|customHeaders|X-Frame-Options|modules|WebDAV|"
                         r"httpProtocol|location path|system.webServer>|<configuration>|"
                         r"<\?xml|the page's own origin|the CORS part is below", line)]
    assert len(kept) >= 20
    for n in kept:
        assert lines[n] == written[n], (n, written[n], lines[n])


def test_a_secret_after_something_unreadable_is_masked_too(tmp_path: Path) -> None:
    page, _ = apps(tmp_path)
    path = tmp_path / "web.config"
    # edited into something that is not XML any more: the text shown fails closed
    path.write_text(SECRETS.replace("<connectionStrings>", "<connectionStrings <<"),
                    encoding="utf-8")
    shown = Client(page).get("/__iiscors/config").get_json()["files"][0]["text"]
    assert PASSWORD not in shown
    assert len(shown.splitlines()) == len(SECRETS.splitlines())


def test_the_demo_configuration_is_shown_whole(tmp_path: Path) -> None:
    demo = (Path(__file__).resolve().parents[2] / "iiscors" / "serving" / "demo"
            / "playground.config").read_text(encoding="utf-8")
    assert config_text(tmp_path, demo) == demo


# -- the real servers ---------------------------------------------------------------------------


def ask(port: int, path: str, host: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=True)
        connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Playground]:
    path = tmp_path / "web.config"
    path.write_text(SECRETS, encoding="utf-8")
    playground = Playground(CorsMiddleware(demo_app, str(path)), "127.0.0.1", 0, 0, quiet=True)
    playground.start()
    try:
        yield playground
    finally:
        playground.close()


@pytest.mark.timeout(60)
def test_the_running_playground_refuses_a_rebound_host(running: Playground) -> None:
    page_port = running.page_server.server_port
    api_port = running.api_server.server_port
    for path in ("/__iiscors/config", "/__iiscors/seen", "/"):
        status, body = ask(page_port, path, "rebind.attacker.example")
        assert status == 421 and PASSWORD.encode() not in body
        assert ask(page_port, path, f"rebind.attacker.example:{page_port}")[0] == 421
    assert ask(api_port, "/api/items", f"rebind.attacker.example:{api_port}")[0] == 421
    # its own address still works, and shows no secret either
    status, body = ask(page_port, "/__iiscors/config", f"127.0.0.1:{page_port}")
    assert status == 200 and b"connectionString" in body and PASSWORD.encode() not in body
    assert ask(api_port, "/api/items", f"localhost:{api_port}")[0] == 200


@pytest.mark.timeout(60)
def test_the_command_takes_allow_host(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    path.write_text(SECRETS, encoding="utf-8")
    command = [sys.executable, "-m", "iiscors", "playground", str(path), "--api-port", "0",
               "--page-port", "0", "--allow-host", "dev.example", "--allow-host", "Other.Example"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        ports: dict[str, int] = {}
        while len(ports) < 2:
            line = process.stdout.readline()
            assert line, "the playground stopped before printing its addresses"
            found = re.search(r"iiscors: (API|playground): +http://127\.0\.0\.1:(\d+)/", line)
            if found:
                ports[found.group(1)] = int(found.group(2))
        page = ports["playground"]
        assert ask(page, "/__iiscors/seen", f"dev.example:{page}")[0] == 200
        assert ask(page, "/__iiscors/seen", f"other.example:{page}")[0] == 200
        assert ask(page, "/__iiscors/seen", f"rebind.attacker.example:{page}")[0] == 421
        assert ask(ports["API"], "/api/items", f"dev.example:{ports['API']}")[0] == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.parametrize("value", ["", "http://dev.example", "dev.example:8081", "a b",
                                   "dev.example/x", "*"])
def test_a_bad_allow_host_is_a_usage_error(tmp_path: Path, value: str) -> None:
    result = CliRunner().invoke(main, ["playground", "--allow-host", value, "--api-port", "0",
                                       "--page-port", "0"])
    assert result.exit_code == 2, result.output
    assert "--allow-host" in result.output and "not a host name" in result.output
    assert "Traceback" not in result.output


# -- a web.config swapped for a FIFO (issue 12 item 13) ----------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_hangs_neither_config_nor_explain(tmp_path: Path) -> None:
    page, _ = apps(tmp_path)
    path = tmp_path / "web.config"
    fifo = tmp_path / "trap.fifo"
    os.mkfifo(fifo)
    os.replace(fifo, path)
    client = Client(page)
    explained = client.get("/__iiscors/explain?method=GET&path=/api/items")
    assert explained.status_code == 200  # the last good configuration explains
    assert explained.get_json()["actual"]["outcome"] == "allowed"
    data = client.get("/__iiscors/config").get_json()
    assert data["files"][0]["text"] == f"(cannot read {path}: not a regular file (a FIFO))"
