"""Property: ``validate DIR`` and the running site agree on every random site tree (contract
E1, E6; issue 13's acceptance).

Hypothesis builds site trees of one to four directory levels (a root, nested directories and a
sibling), each web.config with random ``<cors>`` collections (``<add>``, ``<remove>``,
``<clear/>``, duplicates within and across files), custom headers, ``<location>`` elements,
locks (overrideMode, allowOverride, lockAttributes, lockElements, lockAllElementsExcept,
lockItem: contract E2), and now and then a bad value or a file that is not XML.  Both
directions are checked:

- ``validate DIR`` finds an error exactly when the running site has a broken scope: building
  the middleware raises ``ConfigError`` (the root level), or some request path answers 500;
- with the same error codes;
- and a path answers 500 only under a scope the errors name.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from iiscors import ConfigError
from iiscors.cli.main import main
from iiscors.wsgi import CorsMiddleware

ORIGINS = ("https://a.example", "https://b.example", "https://c.example")
HEADERS = ("X-A", "X-B")
#: the directories a tree may have: up to four levels, and a sibling of the second
DIRECTORIES = ("", "api", "api/v1", "api/v1/deep", "other")
LOCATIONS = ("", ".", "api", "v1", "api/v1", "x")
#: contract E2: section locks on a <location>, granular locks on <cors> (lockItem on an <add>)
OVERRIDES = ("", "", ' overrideMode="Deny"', ' overrideMode="Allow"', ' allowOverride="false"')
LOCKS = ("", "", "", ' lockAttributes="enabled"', ' lockElements="clear,remove"',
         ' lockAllElementsExcept="add"')


def collection(draw: st.DrawFn, key: str, values: tuple[str, ...]) -> str:
    ops = draw(st.lists(st.sampled_from(("add", "add", "remove", "clear")), max_size=4))
    parts = []
    for op in ops:
        if op == "clear":
            parts.append("<clear/>")
        else:
            locked = ' lockItem="true"' if op == "add" and draw(st.integers(0, 4)) == 0 else ""
            parts.append(f'<{op} {key}="{draw(st.sampled_from(values))}"{locked}/>')
    return "".join(parts)


@st.composite
def sections(draw: st.DrawFn) -> str:
    """The sections of one system.webServer: maybe <cors>, maybe customHeaders."""
    text = ""
    if draw(st.booleans()):
        enabled = draw(st.sampled_from(("", ' enabled="true"', ' enabled="false"',
                                        ' enabled="maybe"')))
        fail = draw(st.sampled_from(("", ' failUnlistedOrigins="true"')))
        locks = draw(st.sampled_from(LOCKS))
        text += f"<cors{enabled}{fail}{locks}>{collection(draw, 'origin', ORIGINS)}</cors>"
    if draw(st.booleans()):
        text += ("<httpProtocol><customHeaders>"
                 f"{collection(draw, 'name', HEADERS)}"
                 "</customHeaders></httpProtocol>")
    return text


@st.composite
def web_configs(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 19)) == 0:
        return "<configuration><oops></configuration>"  # not XML: its directory breaks
    body = f"<system.webServer>{draw(sections())}</system.webServer>"
    for path in draw(st.lists(st.sampled_from(LOCATIONS), max_size=2)):
        mode = draw(st.sampled_from(OVERRIDES))
        body += (f'<location path="{path}"{mode}><system.webServer>{draw(sections())}'
                 "</system.webServer></location>")
    return f"<configuration>{body}</configuration>"


@st.composite
def trees(draw: st.DrawFn) -> dict[str, str]:
    chosen = draw(st.lists(st.sampled_from(DIRECTORIES), min_size=1, max_size=4, unique=True))
    return {directory: draw(web_configs()) for directory in chosen}


def write(root: Path, files: dict[str, str]) -> None:
    for directory, text in files.items():
        folder = root / directory
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "web.config").write_text(text, encoding="utf-8")
    for directory in DIRECTORIES:  # every directory exists, with or without a web.config
        (root / directory).mkdir(parents=True, exist_ok=True)


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [b""]


def status(middleware: CorsMiddleware, path: str) -> int:
    seen: list[int] = []

    def start_response(line: str, headers: Any, exc_info: Any = None) -> Any:
        seen.append(int(line.split()[0]))
        return lambda data: None

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "HTTP_ORIGIN": ORIGINS[0],
               "wsgi.url_scheme": "https", "HTTP_HOST": "site.example"}
    middleware(environ, start_response)
    return seen[0]


def validated(root: Path) -> tuple[int, set[str]]:
    result = CliRunner().invoke(main, ["validate", "-f", "json", str(root)])
    assert result.exit_code in (0, 1), result.output
    codes = {d["code"] for f in json.loads(result.stdout)["files"] for d in f["diagnostics"]
             if d["severity"] == "error"}
    return result.exit_code, codes


def running(root: Path) -> tuple[bool, set[str], set[tuple[str, ...]]]:
    """(the site has a broken scope, its error codes, the paths answering 500)."""
    try:
        middleware = CorsMiddleware(app, str(root), reload=False)
    except ConfigError as exc:
        return True, {d.code for d in exc.errors}, set()
    config = middleware.config
    probes = {path + extra for path in config.scopes for extra in ((), ("z",))}
    failing = {path for path in probes if status(middleware, "/" + "/".join(path)) == 500}
    for path in failing:  # 500 only under a scope the errors name
        assert any(path[:len(broken)] == broken for broken in config.broken), path
    return bool(failing), {d.code for d in config.errors}, failing


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees())
def test_validate_finds_an_error_exactly_when_the_running_site_has_a_broken_scope(
        files: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        write(root, files)
        exit_code, codes = validated(root)
        broken, runtime_codes, failing = running(root)
        # What the examples cover (pytest --hypothesis-show-statistics).
        event("no error" if exit_code == 0 else "a scope answers 500" if failing
              else "the root level refuses to start")
        for code in sorted(codes & {"E302", "E304", "E305"}):
            event(f"{code} found")
        assert (exit_code == 1) == broken, (files, codes, runtime_codes)
        assert codes == runtime_codes, files
