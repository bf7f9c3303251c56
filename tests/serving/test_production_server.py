"""``iiscors serve`` on a production server (issue 12, item 15): waitress by default, with
``--threads``, a graceful stop on SIGTERM and SIGINT, and Werkzeug only behind ``--dev``.

Every test starts the real command as a process on 127.0.0.1 and talks HTTP to it.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from support import request, running, serve_command, web_config

pytestmark = pytest.mark.slow

ALLOW_A = web_config('<cors enabled="true" failUnlistedOrigins="true">'
                     '<add origin="https://a.example"/></cors>')
A = {"Origin": "https://a.example"}

#: A WSGI app for the tests: /slow sleeps (touching a marker file when it starts, so that the
#: test knows the request is in flight), /busy records how many requests run at once.
APP = """\
import os, threading, time

_lock = threading.Lock()
_state = {"now": 0, "most": 0}


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/slow":
        seconds = float(environ.get("QUERY_STRING") or "1.5")
        open(os.environ["MARKER"], "w").close()
        time.sleep(seconds)
        body = b"slow done"
    elif path == "/busy":
        with _lock:
            _state["now"] += 1
            _state["most"] = max(_state["most"], _state["now"])
        time.sleep(1.0)
        with _lock:
            _state["now"] -= 1
        body = b"busy"
    elif path == "/most":
        body = str(_state["most"]).encode()
    elif path == "/forwarded":
        body = ",".join(environ.get(k, "-") for k in (
            "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_FORWARDED")).encode()
    else:
        body = b"hello"
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "slowapp.py").write_text(APP)
    (tmp_path / "web.config").write_bytes(ALLOW_A)
    return tmp_path


def app_command(*extra: str) -> list[str]:
    return serve_command("web.config", "--app", "slowapp:application", *extra)


def test_waitress_is_the_default_server(project: Path) -> None:
    with running(app_command(), cwd=project, env={"MARKER": str(project / "m")}) as server:
        status, headers, body = request(server.port, "GET", "/x", A)
        assert (status, body) == (200, b"hello")
        assert headers["Server"] == "waitress"
        assert headers["Access-Control-Allow-Origin"] == "https://a.example"
        assert request(server.port, "GET", "/x", {"Origin": "https://z.example"})[0] == 403
        server.wait_for("server: waitress, 4 threads")


def test_dev_runs_werkzeug_development_server(project: Path) -> None:
    with running(app_command("--dev"), cwd=project, env={"MARKER": str(project / "m")}) as server:
        status, headers, _ = request(server.port, "GET", "/x", A)
        assert status == 200 and headers["Server"].startswith("Werkzeug/")
        assert headers["Access-Control-Allow-Origin"] == "https://a.example"
        server.wait_for("development server")
        # without Werkzeug's code reloader, which would run the server in a child process
        children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
        if children.exists():
            assert children.read_text().strip() == ""


def test_client_forwarding_headers_are_not_trusted(project: Path) -> None:
    with running(app_command(), cwd=project, env={"MARKER": str(project / "m")}) as server:
        _, _, body = request(server.port, "GET", "/forwarded", {
            "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https",
            "Forwarded": "for=203.0.113.9"})
        assert body == b"-,-,-"  # waitress removed them: no trusted proxy is configured


@pytest.mark.parametrize("threads", [2, 5])
def test_threads_bounds_the_requests_served_at_once(project: Path, threads: int) -> None:
    with running(app_command("--threads", str(threads)), cwd=project,
                 env={"MARKER": str(project / "m")}) as server:
        port = server.port
        clients = [threading.Thread(target=request, args=(port, "GET", "/busy"))
                   for _ in range(threads * 2)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(30)
        assert request(port, "GET", "/most")[2] == str(threads).encode()
        server.wait_for(f"server: waitress, {threads} threads")


def _slow_request(port: int, seconds: float, into: list[object]) -> None:
    try:
        into.append(request(port, "GET", f"/slow?{seconds}", A))
    except OSError as exc:
        into.append(exc)


def _connect_refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def _start_in_flight(port: int, marker: Path, seconds: float) -> tuple[threading.Thread,
                                                                        list[object]]:
    results: list[object] = []
    client = threading.Thread(target=_slow_request, args=(port, seconds, results))
    client.start()
    deadline = time.monotonic() + 10
    while not marker.exists():
        assert time.monotonic() < deadline, "the slow request never reached the app"
        time.sleep(0.02)
    return client, results


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_finishes_the_request_in_flight_then_exits_0(
        project: Path, signum: signal.Signals) -> None:
    marker = project / "m"
    with running(app_command(), cwd=project, env={"MARKER": str(marker)}) as server:
        port = server.port
        client, results = _start_in_flight(port, marker, 1.5)
        sent = time.monotonic()
        server.process.send_signal(signum)
        server.wait_for("stopping")
        assert _connect_refused(port), "still accepting new connections while stopping"
        client.join(30)
        status, headers, body = results[0]  # type: ignore[misc]
        assert (status, body) == (200, b"slow done")
        assert headers["Access-Control-Allow-Origin"] == "https://a.example"
        assert server.process.wait(10) == 0
        assert time.monotonic() - sent < 8
        assert "stopped" in server.text()


def test_the_graceful_stop_is_bounded_by_graceful_timeout(project: Path) -> None:
    marker = project / "m"
    with running(app_command("--graceful-timeout", "1"), cwd=project,
                 env={"MARKER": str(marker)}) as server:
        client, results = _start_in_flight(server.port, marker, 30)
        sent = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(10) == 1  # a request was cut off: not a clean stop
        assert time.monotonic() - sent < 6
        client.join(30)
        assert isinstance(results[0], OSError)  # the client saw the connection close
        assert "1 request(s) cut off" in server.text()


def test_a_second_signal_stops_at_once(project: Path) -> None:
    marker = project / "m"
    with running(app_command(), cwd=project, env={"MARKER": str(marker)}) as server:
        client, _ = _start_in_flight(server.port, marker, 30)
        server.process.send_signal(signal.SIGTERM)
        server.wait_for("stopping")
        sent = time.monotonic()
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(10) == 1
        assert time.monotonic() - sent < 4  # not the 30 s --graceful-timeout
        client.join(30)


def test_an_idle_server_stops_at_once_on_sigterm(project: Path) -> None:
    import http.client

    with running(app_command(), cwd=project, env={"MARKER": str(project / "m")}) as server:
        # an idle keep-alive connection does not hold the stop: it is closed
        idle = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        idle.request("GET", "/x")
        assert idle.getresponse().read() == b"hello"
        sent = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(10) == 0
        assert time.monotonic() - sent < 5
        assert idle.sock is not None and idle.sock.recv(1) == b""  # closed by the server
        idle.close()


def test_dev_server_also_stops_cleanly_on_sigterm(project: Path) -> None:
    with running(app_command("--dev"), cwd=project, env={"MARKER": str(project / "m")}) as server:
        assert request(server.port, "GET", "/x")[0] == 200
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(10) == 0


def test_an_address_that_is_not_local_is_a_clear_error() -> None:
    # 192.0.2.10 (TEST-NET-1) is no interface of this machine: bind() fails, nothing is sent
    result = subprocess.run(serve_command("--host", "192.0.2.10"), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert "cannot listen on 192.0.2.10:0" in result.stderr and "Traceback" not in result.stderr


def test_a_busy_port_is_a_clear_error_not_a_traceback(project: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "iiscors", "serve", "--port", str(port)],
            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["--dev", "--threads", "2"], ["--threads", "0"],
                                  ["--graceful-timeout", "-1"]])
def test_server_options_that_do_not_fit_exit_2(args: list[str]) -> None:
    result = subprocess.run(serve_command(*args), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "No such option" not in result.stderr and "Traceback" not in result.stderr


def test_the_demo_still_prints_what_to_try_on_waitress() -> None:
    with running(serve_command()) as server:
        port = server.port
        server.wait_for("iiscors validate")
        text = server.text()
        assert f"curl -i -X OPTIONS http://127.0.0.1:{port}/api/items" in text
        status, headers, _ = request(port, "OPTIONS", "/api/items", {
            "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"})
        assert (status, headers["Server"]) == (204, "waitress")


@pytest.mark.parametrize("host, dev, words", [
    ("127.0.0.1", False, None), ("::1", True, None), ("localhost", False, None),
    ("0.0.0.0", False, "in plain HTTP: put a TLS-terminating proxy in front"),
    ("192.0.2.10", True, "Werkzeug's development server is listening on 192.0.2.10"),
])
def test_listening_beyond_the_loopback_is_pointed_out(host: str, dev: bool,
                                                      words: str | None) -> None:
    # the function the command prints from (nothing is bound here)
    from iiscors.serving.serve import exposure_warning

    warning = exposure_warning(host, dev)
    assert (warning is None) if words is None else (warning is not None and words in warning)
