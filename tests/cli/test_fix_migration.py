"""``iiscors fix --migrate-custom-headers``: customHeaders CORS becomes a ``<cors>`` section.

Every file of ``tests/cli/migration/`` (authored on the pattern of real sites: Access-Control-*
custom headers, URL Rewrite's OPTIONS rule, the OPTIONSVerbHandler removal) is migrated by the
command; the result validates; the text outside the edited pieces is kept; and both
configurations, run through the middleware for a table of requests, answer the same wherever the
report says nothing changes, and differ exactly as it says elsewhere.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from lxml import etree
from werkzeug.test import Client

from iiscors import CorsMiddleware
from iiscors.cli.fixes.migration import plan_migration
from iiscors.cli.fixes.migration_effect import Change, MigrationEffect
from iiscors.cli.fixes.source import decode
from iiscors.cli.main import main

FILES = sorted((Path(__file__).parent / "migration").glob("*.config"))
WIDENING = {"15-no-rule-widening.config"}
PATH = "/api/items"
OTHER = "https://other.example"
ACAO, ACAC = "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials"
ACAM, ACAH = "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"
MAX_AGE, EXPOSE = "Access-Control-Max-Age", "Access-Control-Expose-Headers"
PREFLIGHT_ONLY = (ACAM, ACAH, MAX_AGE)


def fix(*args: str) -> Result:
    return CliRunner().invoke(main, ["fix", *args])


def effect_of(data: bytes, name: str) -> MigrationEffect:
    source = decode(data)
    planned = plan_migration(source, source.body, name, 256000, allow_widening=True)
    (migration,) = planned.migrations
    assert migration.effect is not None, migration.text
    return migration.effect


@pytest.fixture(params=FILES, ids=[path.name for path in FILES])
def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, bytes, bytes]:
    """(path, bytes before, bytes after ``fix --migrate-custom-headers --write``)."""
    source: Path = request.param
    target = tmp_path / "web.config"
    shutil.copyfile(source, target)
    flags = ["--allow-widening"] if source.name in WIDENING else []
    result = fix("--migrate-custom-headers", *flags, "--write", str(target))
    assert result.exit_code == 0, result.output
    assert "migrated customHeaders CORS to <cors>" in result.output
    return source, source.read_bytes(), target.read_bytes()


# -- the command migrates every file, and the result validates --------------------------------

def test_every_recipe_file_is_migrated_and_validates(migrated: tuple[Path, bytes, bytes],
                                                     tmp_path: Path) -> None:
    _, _, after = migrated
    assert b"<cors " in after and b"Access-Control-" not in after.replace(b"<cors", b"")
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "web.config")])
    assert result.exit_code == 0, result.output
    assert " error " not in result.output
    again = fix("--migrate-custom-headers", str(tmp_path / "web.config"))
    assert again.exit_code == 0 and "nothing to fix" in again.output  # done once for all


def test_the_report_says_every_change(migrated: tuple[Path, bytes, bytes],
                                      tmp_path: Path) -> None:
    source, before, _ = migrated
    (tmp_path / "dry.config").write_bytes(before)
    flags = ["--allow-widening"] if source.name in WIDENING else []
    result = fix("--migrate-custom-headers", *flags, str(tmp_path / "dry.config"))
    assert result.exit_code == 1  # a dry run with something to do
    effect = effect_of(before, source.name)
    for line in effect.lines():
        assert f"  {line}\n" in result.output
    assert "  unchanged: what browsers read" in result.output


# -- formatting kept outside the edited pieces ------------------------------------------------

def _without_pieces(data: bytes) -> bytes:
    """The document without what a migration takes out or puts in, canonicalised (comments
    kept): the Access-Control-* adds, URL Rewrite's OPTIONS rule, the OPTIONSVerbHandler
    removal (unless a handler takes OPTIONS), containers left with nothing, and <cors>."""
    root = etree.fromstring(data)
    doomed = [add for add in root.iter("add")
              if add.get("name", "").lower().startswith("access-control-")]
    doomed += [rule for rule in root.iter("rule")
               if rule.find("conditions/add[@input='{REQUEST_METHOD}']") is not None]
    for handlers in root.iter("handlers"):
        if not any(add.get("verb") == "*" for add in handlers.iter("add")):
            doomed += [r for r in handlers if r.get("name") == "OPTIONSVerbHandler"]
    doomed += list(root.iter("cors"))
    for element in doomed:
        parent = element.getparent()
        assert parent is not None
        parent.remove(element)
        while (parent is not None and len(parent) == 0 and not parent.attrib
               and parent.tag in ("customHeaders", "httpProtocol", "rules", "rewrite",
                                  "handlers")):
            grand = parent.getparent()
            assert grand is not None
            grand.remove(parent)
            parent = grand
    for element in root.iter():
        element.tail = None
        if len(element):
            element.text = None
    return etree.tostring(root, method="c14n", with_comments=True)


def test_formatting_is_kept_outside_the_edited_pieces(
        migrated: tuple[Path, bytes, bytes]) -> None:
    _, before, after = migrated
    assert _without_pieces(before) == _without_pieces(after)
    if before.startswith(b"<?xml"):
        assert after.startswith(before.split(b"\n", 1)[0])  # the declaration as it was
    if b"\r\n" in before:
        assert after.count(b"\n") == after.count(b"\r\n")  # CRLF throughout, tabs kept
        assert b"\t\t<cors enabled=\"true\">\r\n\t\t\t<add " in after
    assert after.endswith(b"\n") == before.endswith(b"\n")


# -- behaviour: the middleware answers the same where the report says so -----------------------

@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    app_called: bool

    def get(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def listed(self, name: str) -> list[str]:
        return [item.strip() for item in (self.get(name) or "").split(",") if item.strip()]


def ask(config: bytes, method: str, headers: dict[str, str]) -> Answer:
    called: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        called.append(environ["REQUEST_METHOD"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"from the app"]

    response = Client(CorsMiddleware(app, config, reload=False)).open(
        PATH, method=method, headers=headers)
    found: dict[str, str] = {}
    for name, value in response.headers.items():
        assert name.lower() not in found, f"{name} sent twice"
        found[name.lower()] = value
    return Answer(response.status_code, found, response.data, bool(called))


def browser_view(answer: Answer, effect: MigrationEffect, preflight: bool,
                 before: bool) -> dict[str, Any]:
    """What a browser reads from a response of a served origin; the values the report says
    were dropped are taken out of the answer before the migration."""
    view: dict[str, Any] = {ACAO: answer.get(ACAO), ACAC: answer.get(ACAC)}
    names = PREFLIGHT_ONLY if preflight else (EXPOSE,)
    for name in names:
        view[name] = answer.listed(name) if name != MAX_AGE else answer.get(name)
    if not preflight:
        view.update(status=answer.status, body=answer.body, app=answer.app_called)
    for dropped in effect.dropped if before else ():
        if isinstance(view.get(dropped.header), list):
            view[dropped.header].remove(dropped.value)
        elif dropped.header in view:
            view[dropped.header] = None
    return view


def requests_of(origin: str) -> dict[str, tuple[str, dict[str, str]]]:
    return {
        "preflight": ("OPTIONS", {"Origin": origin, "Access-Control-Request-Method": "PUT",
                                  "Access-Control-Request-Headers": "content-type"}),
        "get": ("GET", {"Origin": origin}),
        "put": ("PUT", {"Origin": origin}),
        "options": ("OPTIONS", {"Origin": origin}),
    }


def served_origins(effect: MigrationEffect) -> list[str]:
    return ["https://app.example", OTHER] if effect.served == "*" else [effect.served]


def test_served_origins_read_the_same(migrated: tuple[Path, bytes, bytes]) -> None:
    source, before, after = migrated
    effect = effect_of(before, source.name)
    for origin in served_origins(effect):
        for kind, (method, headers) in requests_of(origin).items():
            old, new = ask(before, method, headers), ask(after, method, headers)
            if kind == "options":
                assert Change.OPTIONS_TO_APP in effect.changes or (
                    old.app_called and new.app_called)
                assert (old.app_called, new.app_called) == (
                    (False, True) if Change.OPTIONS_TO_APP in effect.changes else (True, True))
                continue
            preflight = kind == "preflight"
            if preflight and effect.widening:
                assert old.app_called and (new.status, new.app_called) == (204, False)
                continue
            assert browser_view(old, effect, preflight, True) == browser_view(
                new, effect, preflight, False), (kind, origin)
            if preflight:
                assert 200 <= old.status < 300 and not old.app_called
                assert (new.status, new.app_called) == (204, False)
            else:
                assert not any(new.get(name) for name in PREFLIGHT_ONLY)


def test_other_origins_stay_refused(migrated: tuple[Path, bytes, bytes]) -> None:
    source, before, after = migrated
    effect = effect_of(before, source.name)
    if effect.served == "*":
        assert Change.OTHER_ORIGINS not in effect.changes
        return
    assert Change.OTHER_ORIGINS in effect.changes
    for kind, (method, headers) in requests_of(OTHER).items():
        old, new = ask(before, method, headers), ask(after, method, headers)
        assert old.get(ACAO) == effect.served and new.get(ACAO) is None, kind
        if kind in ("get", "put"):
            assert (old.status, old.body, old.app_called) == (
                new.status, new.body, new.app_called)
        if kind == "preflight":
            moved = Change.OTHER_PREFLIGHTS in effect.changes
            assert (old.app_called, new.app_called) == ((False, True) if moved else (True, True))


def test_requests_without_origin(migrated: tuple[Path, bytes, bytes]) -> None:
    source, before, after = migrated
    effect = effect_of(before, source.name)
    old, new = ask(before, "GET", {}), ask(after, "GET", {})
    assert (old.status, old.body, old.app_called) == (new.status, new.body, new.app_called)
    assert old.get(ACAO) is not None and Change.NO_ORIGIN in effect.changes
    assert not any(name.startswith("access-control-") for name in new.headers)
    assert (new.get("Vary") == "Origin") is (Change.VARY in effect.changes)
    old, new = ask(before, "OPTIONS", {}), ask(after, "OPTIONS", {})
    moved = Change.OPTIONS_TO_APP in effect.changes
    assert (old.app_called, new.app_called) == ((False, True) if moved else (True, True))


def test_the_announced_header_moves_are_real(migrated: tuple[Path, bytes, bytes]) -> None:
    source, before, after = migrated
    effect = effect_of(before, source.name)
    origin = served_origins(effect)[0]
    method, headers = requests_of(origin)["get"]
    old = ask(before, method, headers)
    assert any(old.get(name) for name in PREFLIGHT_ONLY) is (
        Change.PREFLIGHT_ONLY in effect.changes)
    method, headers = requests_of(origin)["preflight"]
    old, new = ask(before, method, headers), ask(after, method, headers)
    if Change.EXPOSE_ACTUAL_ONLY in effect.changes:
        assert old.get(EXPOSE) and not new.get(EXPOSE)
    if Change.PREFLIGHT_204 in effect.changes:
        assert (old.status, new.status) == (200, 204)


# -- what is not migrated, and why ------------------------------------------------------------

WIDEN = FILES[[path.name for path in FILES].index("15-no-rule-widening.config")]


def test_a_widening_migration_needs_its_flag(tmp_path: Path) -> None:
    target = tmp_path / "web.config"
    shutil.copyfile(WIDEN, target)
    result = fix("--migrate-custom-headers", "--write", str(target))
    assert result.exit_code == 0
    assert target.read_bytes() == WIDEN.read_bytes()
    assert "not migrated customHeaders CORS: it would widen access" in result.output
    assert "--allow-widening" in result.output
    widened = fix("--migrate-custom-headers", "--allow-widening", "--write", str(target))
    assert widened.exit_code == 0 and b"<cors " in target.read_bytes()
    assert f"changes: {Change.WIDENING.value}" in widened.output


def test_allow_widening_alone_is_a_usage_error(tmp_path: Path) -> None:
    result = fix("--allow-widening", str(WIDEN))
    assert result.exit_code == 2 and "--migrate-custom-headers" in result.output


def test_without_the_flag_nothing_is_migrated(tmp_path: Path) -> None:
    target = tmp_path / "web.config"
    shutil.copyfile(FILES[0], target)
    result = fix("--write", str(target))
    assert result.exit_code == 0 and target.read_bytes() == FILES[0].read_bytes()


def _config(server: str, outside: str = "") -> str:
    return (f"<configuration><system.webServer>{server}</system.webServer>{outside}"
            "</configuration>")


def _headers(*pairs: tuple[str, str]) -> str:
    adds = "".join(f'<add name="{name}" value="{value}" />' for name, value in pairs)
    return f"<httpProtocol><customHeaders>{adds}</customHeaders></httpProtocol>"


RULE = ('<rewrite><rules><rule name="pre"><match url=".*" /><conditions><add '
        'input="{REQUEST_METHOD}" pattern="^OPTIONS$" /></conditions><action '
        'type="CustomResponse" statusCode="200" /></rule></rules></rewrite>')
STAR = _headers((ACAO, "*"))


@pytest.mark.parametrize(("text", "reason"), [
    (_config(_headers((ACAO, "https://a.example, https://b.example")) + RULE),
     "is not * or one origin"),
    (_config(_headers((ACAO, "https://A.example/")) + RULE), "is not * or one origin"),
    (_config(_headers((ACAO, "*"), ("Access-Control-Allow-Private-Network", "true")) + RULE),
     "has no <cors> equivalent"),
    (_config(_headers((ACAM, "GET"))), "there is no Access-Control-Allow-Origin"),
    (_config(_headers((ACAO, "*"), (MAX_AGE, "1 day")) + RULE), "is not a number"),
    (_config(_headers((ACAO, "*"), (ACAM, "GET, get")) + RULE), "lists both"),
    (_config(STAR + RULE + '<cors enabled="true"><add origin="*" /></cors>'),
     "has a <cors> section already"),
    (_config(STAR + RULE, '<location path="api"><system.webServer>'
                          f'{_headers((ACAH, "X-A"))}</system.webServer></location>'),
     "at several levels"),
    (_config(STAR + RULE, '<location path="api"><system.webServer><httpProtocol>'
                          '<customHeaders><remove name="Access-Control-Allow-Origin" />'
                          "</customHeaders></httpProtocol></system.webServer></location>"),
     'path="api"> changes the Access-Control-* headers'),
    (_config(STAR + RULE, '<location path="api"><system.webServer><rewrite><rules><clear />'
                          "</rules></rewrite></system.webServer></location>"),
     "changes the URL Rewrite rules"),
    (_config(STAR + RULE + '<modules><remove name="CorsModule" /></modules>'),
     "the CorsModule is removed"),
    (_config(STAR, f"<location path=\".\"><system.webServer>{RULE}</system.webServer>"
                   "</location>"), "written in another element"),
], ids=["two-origins", "origin-with-path", "unknown-header", "no-allow-origin", "bad-max-age",
        "case-duplicates", "cors-already", "two-levels", "location-removes", "location-rules",
        "module-removed", "rule-elsewhere"])
def test_what_cannot_be_migrated_is_left_with_the_reason(tmp_path: Path, text: str,
                                                         reason: str) -> None:
    target = tmp_path / "web.config"
    target.write_text(text)
    result = fix("--migrate-custom-headers", "--allow-widening", "--write", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_text() == text
    assert "not migrated customHeaders CORS: " in result.output and reason in result.output


def test_other_repairs_come_first(tmp_path: Path) -> None:
    target = tmp_path / "web.config"
    target.write_text(_config(_headers((ACAO, "*"), ("X-A", "1"), ("X-A", "1")) + RULE))
    first = fix("--migrate-custom-headers", "--write", str(target))
    assert first.exit_code == 0 and "fixed E302" in first.output
    assert "not migrated customHeaders CORS: the repairs above come first" in first.output
    assert "<cors " not in target.read_text()
    second = fix("--migrate-custom-headers", "--write", str(target))
    assert "migrated customHeaders CORS to <cors>" in second.output
    assert '<cors enabled="true"><add origin="*" /></cors>' in target.read_text()


def test_a_result_that_fails_its_checks_is_not_written(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials for a plain-http origin earn W203 once they are a <cors> rule (customHeaders
    have no such check; the one-day Max-Age is W215 on both sides since C3's lint): allowed as
    carried over as written, and refused (nothing written) when it is not."""
    source = FILES[[path.name for path in FILES].index("03-credentials.config")]
    target = tmp_path / "web.config"
    original = source.read_bytes().replace(b"https://intranet", b"http://intranet")
    target.write_bytes(original)
    assert "warnings carried over with the values: W203" in fix(
        "--migrate-custom-headers", str(target)).output
    monkeypatch.setattr("iiscors.cli.fixes.migration.CARRIED", frozenset())
    result = fix("--migrate-custom-headers", "--write", str(target))
    assert "not migrated customHeaders CORS: the migration would add W203" in result.output
    assert target.read_bytes() == original


DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_the_documented_example_is_what_fix_prints(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    section = DOCS.read_text(encoding="utf-8").split("### Migrating customHeaders CORS", 1)[1]
    config = section.split("```xml\n", 1)[1].split("```", 1)[0]
    console = section.split("```console\n", 1)[1].split("```", 1)[0]
    command, printed = console.split("\n", 1)
    assert command == "$ iiscors fix --migrate-custom-headers sites/"
    (tmp_path / "sites").mkdir()
    (tmp_path / "sites" / "web.config").write_text(config)
    monkeypatch.chdir(tmp_path)
    result = fix("--migrate-custom-headers", "sites/")
    assert result.exit_code == 1
    assert result.stdout + result.stderr == printed
