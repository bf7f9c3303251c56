"""The static site of ``serve --root`` under attack (issue 12, items 1, 3 and 4).

- the checks apply to the file actually opened: a symlink (to a file or a directory, direct, in
  a chain, or as a default document) is served only when its real path is inside the root and
  that real path passes IIS's request filtering too; a FIFO, a socket or a device is never
  opened in a blocking way nor served; a path swapped between the check and the open is caught;
- odd names (Windows trailing dots and spaces, ``::$DATA``, reserved device names, control
  characters, double escaping) are 404 as on IIS;
- a bad ``Range`` is 416 (with ``Content-Range: bytes */LEN``) or the whole file, never 500;
- the trailing-slash redirect never points at another host.

Each test runs against :class:`StaticSite` alone and against the whole ``serve --root`` stack
(``iiscors.serving.app.build``, so CORS headers are on every answer); the last ones go through
waitress on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from werkzeug.test import Client

from iiscors.serving.app import build
from iiscors.serving.static import StaticSite
from iiscors.wsgi import WSGIApplication

ORIGIN = "https://a.example"
WEB_CONFIG = (f'<configuration><system.webServer><cors enabled="true">'
              f'<add origin="{ORIGIN}"/></cors></system.webServer></configuration>')
SECRET = b"TOP-SECRET"
TEN = b"0123456789"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def call(app: WSGIApplication, path_info: str, headers: dict[str, str] | None = None,
         method: str = "GET", script_name: str = "") -> Answer:
    """One request with PATH_INFO exactly as given (a WSGI server's decoded, latin-1 form)."""
    client = Client(app)
    response = client.open("/", method=method, headers={"Origin": ORIGIN, **(headers or {})},
                           environ_overrides={"PATH_INFO": path_info,
                                              "SCRIPT_NAME": script_name})
    body = response.get_data()
    response.close()
    return Answer(response.status_code, {k.lower(): v for k, v in response.headers.items()},
                  body)


def write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    outside = tmp_path / "outside"
    write(outside / "secret.txt", SECRET)
    write(outside / "passwd", SECRET)
    write(root / "web.config", WEB_CONFIG)
    write(root / "index.html", "<h1>home</h1>")
    write(root / "a.txt", TEN)
    write(root / "empty.txt", b"")
    write(root / "App_Data" / "db.txt", SECRET)
    write(root / "src" / "x.cs", SECRET)
    write(root / "cdn.evil.example" / "index.html", "not a redirect target")
    for name in ("docs", "docs2", "pub", "chain", "okchain", "linkdir"):
        (root / name).mkdir()
    os.symlink(outside / "passwd", root / "docs" / "default.htm")       # issue 12's examples
    os.symlink("../web.config", root / "docs2" / "index.html")
    os.symlink("../App_Data/db.txt", root / "pub" / "data.txt")
    os.symlink("../src/x.cs", root / "pub" / "code.txt")                 # a denied extension
    os.symlink("../App_Data", root / "linkdir" / "data")                  # a hidden directory
    os.symlink("b.txt", root / "chain" / "a.txt")                         # a chain out
    os.symlink("../../outside/secret.txt", root / "chain" / "b.txt")
    os.symlink("b.txt", root / "okchain" / "a.txt")                       # a chain that stays in
    os.symlink("../a.txt", root / "okchain" / "b.txt")
    os.symlink("nowhere.txt", root / "dangling.txt")
    os.symlink("loop2.txt", root / "loop1.txt")                           # a loop
    os.symlink("loop1.txt", root / "loop2.txt")
    os.symlink(outside, root / "ext")                                     # a directory out
    os.symlink(root / "web.config", root / "config.txt")
    return root


def apps(root: Path) -> list[WSGIApplication]:
    """The static site alone, and the whole ``serve --root`` stack."""
    stack, _ = build(None, str(root), None, None, reload=False)
    return [StaticSite(root), stack]


# -- item 1: the file actually opened -------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/docs/", "/docs/default.htm", "/docs2/", "/docs2/index.html", "/pub/data.txt",
    "/pub/code.txt", "/linkdir/data/db.txt", "/chain/a.txt", "/chain/b.txt", "/dangling.txt",
    "/loop1.txt", "/loop1.txt/x.txt",
    "/ext", "/ext/", "/ext/secret.txt", "/config.txt", "/App_Data/db.txt"])
def test_symlinks_never_reach_what_iis_would_hide(site: Path, path: str) -> None:
    for app in apps(site):
        answer = call(app, path)
        assert answer.status == 404, (path, answer)
        assert SECRET not in answer.body and b"<configuration" not in answer.body
        assert "location" not in answer.headers


def test_the_first_default_document_that_exists_decides(site: Path) -> None:
    """IIS takes the first default document that exists; a refused one is 404, not the next."""
    write(site / "docs" / "index.html", "<h1>docs</h1>")
    os.symlink("nowhere.htm", site / "docs2" / "Default.htm")  # dangling: does not exist
    write(site / "docs2" / "iisstart.htm", "start")
    for app in apps(site):
        assert call(app, "/docs/").status == 404  # default.htm -> outside, before index.html
        assert call(app, "/docs2/").status == 404  # index.html -> web.config, before iisstart


def test_symlinks_that_stay_inside_are_served(site: Path) -> None:
    for app in apps(site):
        assert call(app, "/okchain/a.txt").body == TEN
        assert call(app, "/a.txt").body == TEN


def test_a_file_is_answered_with_iis_headers_only(site: Path) -> None:
    """The type exactly as the MIME map says (no charset added), validators, and nothing that
    names the real file (werkzeug's Content-Disposition named a symlink's target)."""
    for app in apps(site):
        answer = call(app, "/okchain/a.txt")
        assert answer.headers["content-type"] == "text/plain"
        assert answer.headers["accept-ranges"] == "bytes"
        assert answer.headers["cache-control"] == "no-cache"
        assert answer.headers["etag"].startswith('"') and "last-modified" in answer.headers
        assert "content-disposition" not in answer.headers
        assert call(app, "/").headers["content-type"] == "text/html"


def test_allow_double_escaping_is_read_from_web_config(site: Path) -> None:
    write(site / "plus" / "a+b.txt", b"plus")
    write(site / "plus" / "web.config", '<configuration><system.webServer><security>'
          '<requestFiltering allowDoubleEscaping="true"/></security></system.webServer>'
          '</configuration>')
    write(site / "a+b.txt", b"plus")
    for app in apps(site):
        assert call(app, "/plus/a+b.txt").body == b"plus"
        assert call(app, "/a+b.txt").status == 404


def test_cors_headers_are_on_the_404_of_a_refused_symlink(site: Path) -> None:
    stack = apps(site)[1]
    answer = call(stack, "/docs/")
    assert (answer.status, answer.headers["access-control-allow-origin"]) == (404, ORIGIN)


@pytest.mark.parametrize("name", [
    "bin.", "App_Data ", "App_Data.", "App_Data::$DATA", "bin::$INDEX_ALLOCATION"])
def test_windows_aliases_of_hidden_directories_are_404(site: Path, name: str) -> None:
    """On Windows these names open ``bin``/``App_Data``; IIS refuses them, so must we."""
    write(site / name / "db.txt", SECRET)
    for app in apps(site):
        assert call(app, f"/{name}/db.txt").status == 404


@pytest.mark.parametrize("name", [
    "web.config.", "web.config ", "WEB.CONFIG. .", "web.config::$DATA", "Web.Config:x.txt",
    "notes.txt.", "notes.txt::$DATA", "con.txt", "AUX.txt", "lpt1.txt", "a\tb.txt", "a\x7fb.txt",
    "a\x1bb.txt", "a|b.txt", "a*b.txt", 'a"b.txt', "a<b.txt", "a+b.txt", "a%41.txt",
    "%2e%2e.txt"])
def test_odd_names_are_404(site: Path, name: str) -> None:
    """Windows trailing dots/spaces, alternate data streams, device names, characters no
    Windows file name has, control characters, and double escaping (IIS's 404.11)."""
    write(site / name, SECRET)
    path_info = "/" + name.encode().decode("latin-1")
    for app in apps(site):
        assert call(app, path_info).status == 404, name


@pytest.mark.parametrize("path_info", [
    "/../outside/secret.txt", "/pub/../../outside/secret.txt", "/./a.txt", "/a.txt/.",
    "/a\\..\\..\\outside\\secret.txt", "/..\\outside/secret.txt", "/a.txt\x00.html",
    "/%2e%2e/outside/secret.txt", "/%252e%252e/outside/secret.txt", "/\xc0\xae\xc0\xae/x",
    "/\xff", "/pub/%2e%2e%2f%2e%2e%2foutside%2fsecret.txt"])
def test_traversal_is_404(site: Path, path_info: str) -> None:
    for app in apps(site):
        answer = call(app, path_info)
        assert answer.status == 404 and SECRET not in answer.body, path_info


@pytest.mark.timeout(20)
@pytest.mark.parametrize("layout", ["file", "default-document", "symlink", "hidden-link"])
def test_a_fifo_is_never_opened_blocking_nor_served(site: Path, layout: str) -> None:
    """Opening a FIFO without a writer blocks forever; the site must answer 404 at once."""
    os.mkfifo(site / "pipe.txt")
    paths = {"file": "/pipe.txt", "default-document": "/fifo/", "symlink": "/linkpipe.txt",
             "hidden-link": "/fifo/index.html"}
    (site / "fifo").mkdir()
    os.mkfifo(site / "fifo" / "index.html")
    os.symlink("pipe.txt", site / "linkpipe.txt")
    for app in apps(site):
        started = time.monotonic()
        assert call(app, paths[layout]).status == 404
        assert time.monotonic() - started < 5


@pytest.mark.timeout(20)
def test_a_unix_socket_is_not_served(site: Path) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(site / "sock.txt"))
        listener.listen(1)
        assert stat.S_ISSOCK(os.lstat(site / "sock.txt").st_mode)
        for app in apps(site):
            assert call(app, "/sock.txt").status == 404
    finally:
        listener.close()


@pytest.mark.timeout(20)
def test_a_device_outside_the_root_is_not_served(site: Path) -> None:
    os.symlink("/dev/zero", site / "zero.txt")
    os.symlink("/dev/stdin", site / "stdin.txt")
    for app in apps(site):
        assert call(app, "/zero.txt").status == 404
        assert call(app, "/stdin.txt").status == 404


@pytest.mark.timeout(60)
def test_a_directory_swapped_for_a_symlink_between_check_and_open_is_caught(
        tmp_path: Path) -> None:
    """TOCTOU: a racer flips ``site/d`` between a real directory and a symlink out of the
    root while requests run.  A check on the path followed by a separate open would sometimes
    open the outside file; the site must check the file it opened (fstat, same inode)."""
    root = tmp_path / "site"
    write(root / "d" / "f.txt", b"inside")
    write(tmp_path / "out" / "f.txt", SECRET)
    app = StaticSite(root)
    stop = threading.Event()

    def racer() -> None:
        inside, parked = root / "d", root / "d-parked"
        while not stop.is_set():
            os.rename(inside, parked)
            os.symlink(tmp_path / "out", inside)
            time.sleep(0.0001)  # each state lasts a moment: requests meet both, on any VM
            os.unlink(inside)
            os.rename(parked, inside)
            time.sleep(0.001)  # (a request takes about 0.1 ms: some run whole in this state)

    thread = threading.Thread(target=racer, daemon=True)
    thread.start()
    seen: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            answer = call(app, "/d/f.txt")
            assert SECRET not in answer.body, "a file outside the root was served"
            seen[answer.status] = seen.get(answer.status, 0) + 1
    finally:
        stop.set()
        thread.join()
    assert set(seen) <= {200, 404} and seen.get(200), seen


def test_the_open_is_checked_after_it_happens(site: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The same race made deterministic: the path is swapped just before the open."""
    write(site / "d" / "f.txt", b"inside")
    real_open = os.open
    swapped: list[str] = []

    def open_after_swap(path: str, flags: int, *args: int) -> int:
        if str(path).endswith("f.txt") and not swapped:
            # never blocking on a FIFO, never following a final symlink
            assert flags & os.O_NONBLOCK and flags & os.O_NOFOLLOW
            os.rename(site / "d", site / "d-parked")
            os.symlink(site.parent / "outside", site / "d")
            write(site.parent / "outside" / "f.txt", SECRET)
            swapped.append(str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", open_after_swap)
    answer = call(StaticSite(site), "/d/f.txt")
    assert swapped and answer.status == 404 and SECRET not in answer.body


# -- item 3: ranges ------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "status", "body", "content_range"), [
    ("bytes=0-0,1-1", 200, TEN, None),              # several ranges: the whole file
    ("bytes=0-1,5-6,8-", 200, TEN, None),
    ("bytes=100-200,300-400", 416, None, "bytes */10"),   # none satisfiable
    ("bytes=100-200", 416, None, "bytes */10"),     # past the end
    ("bytes=10-", 416, None, "bytes */10"),
    ("bytes=99999999999999999999999-", 416, None, "bytes */10"),
    ("bytes=2-4", 206, b"234", "bytes 2-4/10"),
    ("bytes=7-", 206, b"789", "bytes 7-9/10"),
    ("bytes=-3", 206, b"789", "bytes 7-9/10"),
    ("bytes=-30", 206, TEN, "bytes 0-9/10"),
    ("bytes=0-18446744073709551615", 206, TEN, "bytes 0-9/10"),   # MS15-034's header
    ("bytes=5-2", 200, TEN, None),                  # malformed: ignored
    ("bytes=abc", 200, TEN, None),
    ("bytes=", 200, TEN, None),
    ("bytes=0-0,", 200, TEN, None),
    ("bytes=-0", 200, TEN, None),
    ("items=0-1", 200, TEN, None),                  # a unit we do not know: ignored
    ("garbage", 200, TEN, None),
    ("bytes=1-2,0-1", 200, TEN, None),              # out of order: ignored
])
def test_ranges_are_206_416_or_the_whole_file_never_500(
        site: Path, value: str, status: int, body: bytes | None,
        content_range: str | None) -> None:
    for app in apps(site):
        answer = call(app, "/a.txt", {"Range": value})
        assert answer.status == status, (value, answer)
        assert answer.headers.get("content-range") == content_range
        if body is not None:
            assert answer.body == body
            assert answer.headers["content-length"] == str(len(body))
        assert answer.headers["accept-ranges"] == "bytes"
        if not isinstance(app, StaticSite):
            assert answer.headers["access-control-allow-origin"] == ORIGIN


def test_a_416_carries_cors_headers(site: Path) -> None:
    stack = apps(site)[1]
    answer = call(stack, "/a.txt", {"Range": "bytes=100-200"})
    assert answer.status == 416
    assert answer.headers["content-range"] == "bytes */10"
    assert answer.headers["access-control-allow-origin"] == ORIGIN


def test_an_empty_file_has_no_satisfiable_range(site: Path) -> None:
    for app in apps(site):
        answer = call(app, "/empty.txt", {"Range": "bytes=0-0"})
        assert (answer.status, answer.headers["content-range"]) == (416, "bytes */0")
        assert call(app, "/empty.txt").status == 200


def test_if_range_and_head(site: Path) -> None:
    for app in apps(site):
        etag = call(app, "/a.txt").headers["etag"]
        assert call(app, "/a.txt", {"Range": "bytes=0-1", "If-Range": etag}).body == b"01"
        stale = call(app, "/a.txt", {"Range": "bytes=0-1", "If-Range": '"stale"'})
        assert (stale.status, stale.body) == (200, TEN)
        head = call(app, "/a.txt", {"Range": "bytes=0-1"}, method="HEAD")
        # RFC 9110 14.2: range handling is defined for GET only
        assert (head.status, head.body, head.headers["content-length"]) == (200, b"", "10")


def test_conditional_requests(site: Path) -> None:
    for app in apps(site):
        first = call(app, "/a.txt")
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        assert call(app, "/a.txt", {"If-None-Match": etag}).status == 304
        assert call(app, "/a.txt", {"If-None-Match": etag, "Range": "bytes=0-0"}).status == 304
        assert call(app, "/a.txt", {"If-Modified-Since": modified}).status == 304
        assert call(app, "/a.txt", {"If-None-Match": '"other"'}).status == 200
        assert call(app, "/a.txt", {"If-Match": '"other"'}).status == 412
        assert call(app, "/a.txt", {"If-Match": etag}).status == 200
        assert call(app, "/a.txt", {"If-Unmodified-Since":
                                    "Mon, 01 Jan 1990 00:00:00 GMT"}).status == 412


@pytest.mark.timeout(30)
def test_huge_range_headers_are_cheap(site: Path) -> None:
    many = "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 40_000, 2))
    overlapping = "bytes=" + ",".join("0-" for _ in range(20_000))
    for app in apps(site):
        for value in (many, overlapping, "bytes=" + "9" * 50_000 + "-"):
            started = time.monotonic()
            assert call(app, "/a.txt", {"Range": value}).status in (200, 416)
            assert time.monotonic() - started < 2


# -- item 4: the trailing-slash redirect ---------------------------------------------------

@pytest.mark.parametrize("path_info", [
    "//cdn.evil.example", "///cdn.evil.example", "////cdn.evil.example",
    "/\\cdn.evil.example", "/\\/cdn.evil.example", "//\\cdn.evil.example",
    "/\t/cdn.evil.example", "/\t\\cdn.evil.example", "/ /cdn.evil.example",
    "/\r\n/cdn.evil.example", "//./cdn.evil.example", "//cdn.evil.example/..",
    "/cdn.evil.example", "/./cdn.evil.example", "//CDN.EVIL.EXAMPLE"])
def test_the_redirect_never_leaves_the_site(site: Path, path_info: str) -> None:
    for app in apps(site):
        answer = call(app, path_info)
        assert answer.status in (301, 404), (path_info, answer)
        if answer.status == 301:
            location = answer.headers["location"]
            assert not location.startswith(("//", "/\\", "\\")), location
            assert location.lower() == "/cdn.evil.example/"
            assert urlsplit(urljoin("http://site.test/x/y", location)).netloc == "site.test"


def test_the_redirect_keeps_the_mount_point(site: Path) -> None:
    for script_name in ("/app", "//app", "/app/"):
        answer = call(StaticSite(site), "//cdn.evil.example", script_name=script_name)
        assert answer.headers["location"] == "/app/cdn.evil.example/"


def test_a_mount_point_outside_latin_1_is_no_500(site: Path) -> None:
    """A WSGI server that breaks PEP 3333 (SCRIPT_NAME beyond latin-1) gets no 500 either."""
    seen: list[tuple[str, list[tuple[str, str]]]] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/docs", "SCRIPT_NAME": "/\u20ac"}

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: object = None) -> Callable[[bytes], object]:
        seen.append((status, headers))
        return lambda data: None

    StaticSite(site)(environ, start_response)
    status, headers = seen[0]
    assert (status, dict(headers)["Location"]) == ("301 Moved Permanently", "/%3F/docs/")


def test_the_redirect_quotes_what_it_echoes(site: Path) -> None:
    (site / "a b é").mkdir()
    answer = call(StaticSite(site), "/a b é".encode().decode("latin-1"))
    assert answer.headers["location"] == "/a%20b%20%C3%A9/"


def test_no_redirect_for_a_directory_outside_the_root(site: Path) -> None:
    for app in apps(site):
        assert call(app, "/ext").status == 404


# -- a real server ---------------------------------------------------------------------------

@pytest.fixture
def served(site: Path) -> Iterator[Callable[..., tuple[int, dict[str, str], bytes]]]:
    from waitress import create_server  # type: ignore[import-untyped]

    app, _ = build(None, str(site), None, None, reload=False)
    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    port = server.socket.getsockname()[1]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    def get(target: str, headers: dict[str, str] | None = None
            ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.putrequest("GET", target, skip_accept_encoding=True)
            for name, value in {"Origin": ORIGIN, **(headers or {})}.items():
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            return (response.status, {k.lower(): v for k, v in response.getheaders()},
                    response.read())
        finally:
            connection.close()

    try:
        yield get
    finally:
        # closed from the server's own loop thread, which then ends (its map is empty)
        server.trigger.pull_trigger(server.close)
        thread.join(10)
        server.task_dispatcher.shutdown()
        assert not thread.is_alive()


@pytest.mark.timeout(60)
def test_through_waitress(site: Path,
                          served: Callable[..., tuple[int, dict[str, str], bytes]]) -> None:
    os.mkfifo(site / "pipe.txt")
    for target in ("/docs/", "/docs2/", "/pub/data.txt", "/pipe.txt", "/%2e%2e/outside/secret.txt",
                   "/pub/..%2f..%2foutside%2fsecret.txt", "/web.config.", "/bin./x"):
        status, headers, body = served(target)
        assert status == 404 and SECRET not in body, target
        assert headers["access-control-allow-origin"] == ORIGIN
    status, headers, _ = served("/a.txt", {"Range": "bytes=0-0,1-1"})
    assert status == 200
    status, headers, _ = served("/a.txt", {"Range": "bytes=100-200"})
    assert (status, headers["content-range"]) == (416, "bytes */10")
    assert headers["access-control-allow-origin"] == ORIGIN
    status, _, body = served("/a.txt", {"Range": "bytes=3-4"})
    assert (status, body) == (206, b"34")
    for target in ("/%2Fcdn.evil.example", "//cdn.evil.example", "/%2F%2Fcdn.evil.example",
                   "/%5Ccdn.evil.example", "/%09/cdn.evil.example"):
        status, headers, _ = served(target)
        assert status in (301, 404), target
        if status == 301:
            assert headers["location"] == "/cdn.evil.example/", target
