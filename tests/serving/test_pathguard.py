"""The path guard of ``serve --proxy`` (issue 12 item 5), called directly: which decoded
paths (PATH_INFO) and raw targets (REQUEST_URI, RAW_URI) it refuses, that a refusal is a 400
given before the wrapped application (the CORS middleware) is called, and that every other
request reaches that application untouched."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from iiscors.serving.pathguard import PathGuard, path_refusal


def environ(path: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "",
                            "SERVER_NAME": "t", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
                            "wsgi.errors": sys.stderr}
    base.update(extra)
    return base


def latin1(text: str) -> str:
    """A decoded path as a WSGI server puts it in PATH_INFO: UTF-8 bytes as latin-1."""
    return text.encode("utf-8").decode("latin-1")


REFUSED = {
    "/public/../private/secret.txt": "'.' or '..' segment",
    "/..": "'.' or '..' segment",
    "/./x": "'.' or '..' segment",
    "/public/.": "'.' or '..' segment",
    "/public/..\\private": "backslash",
    "/public/..;/private": "';'",
    "/private;jsessionid=1/secret": "';'",
    "/public/%2e%2e/private": "'%'",               # PATH_INFO after one decoding of %252e
    "/public/%u002e%u002e/private": "'%'",
    "/public/x\x00y": "control character",
    "/public/x\ry": "control character",
    "/public/x\x7fy": "control character",
    "/public/\xc0\xae\xc0\xae/private": "not UTF-8",  # overlong UTF-8 '..'
    "/public/\xff": "not UTF-8",
    latin1("/public/\uff0e\uff0e/private"): "after Unicode normalisation",
    latin1("/public\uff0f..\uff0fprivate"): "after Unicode normalisation",
    latin1("/public\uff0fprivate"): "after Unicode normalisation",
    latin1("/public/\ufe52\ufe52/private"): "after Unicode normalisation",  # small full stop
    "admin": "does not start with '/'",
    "*": "does not start with '/'",
}

ACCEPTED = ["", "/", "/public/ok.txt", "/public//ok.txt", "/public/...", "/public/..x",
            "/public/x..", "/.well-known/x", "/a b/c+d", "/public/a?b#c", "/PUBLIC/Ok.TXT",
            latin1("/public/caf\u00e9"), latin1("/\u65e5\u672c/\U0001f600"),
            latin1("/public/\uff41")]  # fullwidth 'a': NFKC 'a', no separator or dot segment


@pytest.mark.parametrize(("path", "reason"), REFUSED.items())
def test_paths_a_backend_could_read_otherwise_are_refused(path: str, reason: str) -> None:
    refusal = path_refusal(environ(path))
    assert refusal is not None and reason in refusal, refusal


@pytest.mark.parametrize("path", ACCEPTED)
def test_paths_with_one_reading_pass(path: str) -> None:
    assert path_refusal(environ(path)) is None


@pytest.mark.parametrize("key", ["REQUEST_URI", "RAW_URI"])
@pytest.mark.parametrize("raw", ["/public%2fdata", "/public%2Fdata", "/a%5cb", "/a%5Cb",
                                 "http://host/a%2fb"])
def test_an_encoded_separator_in_the_raw_target_is_refused(key: str, raw: str) -> None:
    refusal = path_refusal(environ("/public/data", **{key: raw}))
    assert refusal is not None and "encoded" in refusal


@pytest.mark.parametrize("raw", ["/public/data?next=%2Fhome", "/public/caf%C3%A9",
                                 "/public/a%2ejs"])
def test_escapes_elsewhere_in_the_raw_target_pass(raw: str) -> None:
    """The query may hold %2F (it is not a path), and a dot escape that makes no dot segment
    (``a%2ejs``) reads the same everywhere."""
    assert path_refusal(environ("/public/data", REQUEST_URI=raw)) is None


def test_a_path_that_is_not_text_is_refused() -> None:
    assert path_refusal(environ(b"/x")) is not None  # type: ignore[arg-type]


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, env: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.calls.append(env)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"inner"]


def run(app: Any, env: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        seen.update(status=status, headers=headers)
        return lambda _data: None

    body = b"".join(app(env, start_response))
    return seen["status"], seen["headers"], body


def test_a_refused_path_is_400_and_the_app_is_never_called() -> None:
    inner = Recorder()
    status, headers, body = run(PathGuard(inner), environ("/public/../private/secret.txt",
                                                          HTTP_ORIGIN="https://p.example"))
    assert status == "400 Bad Request"
    assert inner.calls == []
    assert ("Content-Type", "text/plain; charset=utf-8") in headers
    assert not any(name.lower().startswith("access-control-") for name, _ in headers)
    assert body == b"400 Bad Request: the path has a '.' or '..' segment\n"
    assert b"private" not in body  # the reason names the rule, never echoes the path


def test_other_requests_reach_the_app_untouched() -> None:
    inner = Recorder()
    env = environ("/public/ok.txt", REQUEST_URI="/public/ok.txt?x=%2F")
    assert run(PathGuard(inner), env) == ("200 OK", [("Content-Type", "text/plain")],
                                          b"inner")
    assert inner.calls == [env]
