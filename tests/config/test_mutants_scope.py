"""Scoping behaviours that a mutation run of iiscors/config/scope.py found no test for
(docs/mutation.md).

Each test loads a web.config and reads its diagnostics, or asks for a decision, as the
adapters do (the middleware where errors are scoped, contract E6).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from iiscors import CorsRequest, check_config, load_config
from iiscors.config.diagnostics import Related
from iiscors.policy import headers
from iiscors.wsgi import CorsMiddleware

from support import Recorder, environ_for, web_config

ORIGIN = "https://app.example"


class Started:
    """A ``start_response`` that keeps what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[tuple[str, str]], Any]] = []

    def __call__(self, status: str, response_headers: list[tuple[str, str]],
                 exc_info: Any = None) -> Any:
        self.calls.append((status, response_headers, exc_info))
        return lambda data: None

CORS = f'<cors enabled="true"><add origin="{ORIGIN}" /></cors>'


def allow_origin(config: bytes, path: str = "/") -> str | None:
    decision = load_config(config).evaluate(CorsRequest("GET", ORIGIN, path=path))
    return dict(decision.headers).get(headers.ALLOW_ORIGIN)


def test_adding_another_module_does_not_bring_corsmodule_back() -> None:
    # contract D1: only an <add name="CorsModule"> undoes its removal
    assert allow_origin(web_config(CORS, server='<modules><remove name="CorsModule" />'
                                   '<add name="Other" type="Other.Module" /></modules>')) is None
    assert allow_origin(web_config(CORS, server='<modules><remove name="CorsModule" />'
                                   '<add name="CorsModule" /></modules>')) == ORIGIN


def test_removing_an_origin_that_is_not_there_warns_in_those_words() -> None:
    config = web_config('<cors enabled="true">\n<remove origin="https://gone.example" />\n</cors>')
    (warning,) = [d for d in check_config(config) if d.code == "W103"]
    assert warning.message == '<remove origin="https://gone.example"/>: no such entry here'
    assert (warning.line, warning.column) == (5, 9)  # its origin attribute


def test_a_duplicate_entry_names_where_the_first_was_added() -> None:
    # contract E1: located at the second entry, the first one's place as related information
    config = web_config(f'<cors enabled="true">\n<add origin="{ORIGIN}" />\n'
                        f'<add origin="{ORIGIN.upper()}" />\n</cors>')
    (duplicate,) = [d for d in check_config(config) if d.code == "E302"]
    assert (duplicate.line, duplicate.related) == (
        6, (Related("first added at", "<bytes>", 5, 6),))  # the first one's origin attribute


def test_a_duplicate_under_one_location_leaves_a_later_location_usable() -> None:
    # contract E6: a merge error makes unusable the scope of the level that holds it, only
    location = '<location path="{}"><system.webServer><cors enabled="true">{}</cors>' \
        "</system.webServer></location>"
    again = f'<add origin="{ORIGIN}" />'  # the root's rule again: E302
    wrapped = CorsMiddleware(Recorder(), web_config(
        CORS, outside=location.format("a", again)
        + location.format("b", '<add origin="https://b.example" />')), reload=False)
    assert wrapped.decide(environ_for("GET", "/a", {"Origin": ORIGIN})).status == 500
    decision = wrapped.decide(environ_for("GET", "/b", {"Origin": ORIGIN}))
    assert decision.status is None and dict(decision.headers)[headers.ALLOW_ORIGIN] == ORIGIN


def test_a_failunlistedorigins_warning_points_at_that_attribute() -> None:
    config = web_config('<cors enabled="true" failUnlistedOrigins="true"><add origin="*" /></cors>')
    (warning,) = [d for d in check_config(config) if d.code == "W219"]
    assert (warning.line, warning.column) == (4, 22)  # failUnlistedOrigins=, not <cors


def test_duplicate_custom_headers_and_modules_are_named_by_their_name_attribute() -> None:
    config = web_config(server='<httpProtocol><customHeaders><add name="X-A" value="1" />'
                        '<add name="x-a" value="2" /></customHeaders></httpProtocol>'
                        '<modules><add name="M" type="M.Module" /><add name="m" type="M.Module" />'
                        '</modules>')
    messages = [d.message for d in check_config(config) if d.code == "E302"]
    assert len(messages) == 2
    assert all("unique key attribute 'name' set to" in message for message in messages)


def test_removing_an_inherited_header_or_module_is_no_mistake() -> None:
    # applicationHost.config's X-Powered-By and modules are invisible here: no W103
    config = web_config(server='<httpProtocol><customHeaders><remove name="X-Powered-By" />'
                        '</customHeaders></httpProtocol>'
                        '<modules><remove name="WebDAVModule" /></modules>')
    assert [d.code for d in check_config(config) if d.code == "W103"] == []


# -- a reload keeps the last good sections of each scope an edit broke (contract A8 per scope, E6)

SITE_ROOT = (f'<configuration><system.webServer><cors enabled="true"><add origin="{ORIGIN}" />'
             "</cors></system.webServer></configuration>")
EMPTY = "<configuration/>"


def headers_file(value: str) -> str:
    return ("<configuration><system.webServer><httpProtocol><customHeaders>"
            f'<add name="X-Api" value="{value}" /></customHeaders></httpProtocol>'
            "</system.webServer></configuration>")


#: adds the X-Api header its parent directory already adds: E302, the directory is unusable
DUPLICATE_HEADER = headers_file("again")


def site(root: Path, files: dict[str, str]) -> CorsMiddleware:
    for name, text in files.items():
        write(root / name, text)
    return CorsMiddleware(Recorder(), str(root), reload_interval=0)


def write(path: Path, text: str) -> None:
    """Replace the file whole (a new inode: the reload notices it whatever the clock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def x_api(wrapped: CorsMiddleware, path: str) -> tuple[str, str | None]:
    start = Started()
    wrapped(environ_for("GET", path, {"Origin": ORIGIN}), start)
    ((status, sent, _),) = start.calls
    return status[:3], dict(sent).get("X-Api")


def test_a_new_broken_directory_keeps_the_sections_that_served_it(tmp_path: Path) -> None:
    wrapped = site(tmp_path, {"web.config": SITE_ROOT, "x/web.config": headers_file("1")})
    assert x_api(wrapped, "/x/y/z") == ("200", "1")
    write(tmp_path / "x" / "y" / "web.config", DUPLICATE_HEADER)
    # x/y never had a scope of its own: it keeps what covered it, x's, not the root's
    assert x_api(wrapped, "/x/y/z") == ("200", "1")
    assert wrapped.config.scopes[("x", "y")].path == ("x", "y")


def test_every_broken_directory_keeps_its_last_good_sections(tmp_path: Path) -> None:
    files = {"web.config": SITE_ROOT, "a/web.config": headers_file("a"),
             "a/b/web.config": EMPTY, "c/d/web.config": headers_file("d")}
    wrapped = site(tmp_path, files)
    for name in ("a/web.config", "a/b/web.config", "c/d/web.config"):
        write(tmp_path / name, DUPLICATE_HEADER.replace("again", name) + "<oops")
    # a/b is inside a, already kept whole; c/d, after it, is kept too
    assert x_api(wrapped, "/a/b/x") == ("200", "a")
    assert x_api(wrapped, "/c/d/x") == ("200", "d")


def test_a_directory_unusable_before_the_edit_does_not_stop_the_others(tmp_path: Path) -> None:
    files = {"web.config": SITE_ROOT, "a/web.config": headers_file("a"),
             "a/b/web.config": DUPLICATE_HEADER, "c/d/web.config": headers_file("d")}
    wrapped = site(tmp_path, files)
    assert x_api(wrapped, "/a/b/x")[0] == "500"  # contract E6: unusable from the start
    # a merge error (E302) as a/b's, so that c/d is handled after a/b (path order)
    write(tmp_path / "c/d/web.config", headers_file("1").replace(
        "</customHeaders>", '<add name="X-API" value="2" /></customHeaders>'))
    assert x_api(wrapped, "/a/b/x")[0] == "500"  # unusable before the edit too: still
    assert x_api(wrapped, "/c/d/x") == ("200", "d")


def test_w221_points_at_the_removal_even_below_a_level_that_adds_another_module() -> None:
    config = web_config(CORS, server='<modules>\n<remove name="CorsModule" /></modules>',
                        outside='<location path="api"><system.webServer><modules>'
                        '<add name="Other" type="Other.Module" /></modules></system.webServer>'
                        "</location>")
    # contract D1: CorsModule is still removed under /api, so its W221 is the root's, at the
    # <remove> (its name attribute), not a second one at the location's <modules>
    assert [(d.line, d.column) for d in check_config(config) if d.code == "W221"] == [(6, 9)]


def test_at_an_application_boundary_only_the_sections_that_stop_there_are_dropped() -> None:
    # contract E3: the location that does not inherit holds customHeaders only; <cors>, written
    # outside it, still applies inside the child application
    config = load_config(web_config(
        CORS, outside='<location path="." inheritInChildApplications="false"><system.webServer>'
        '<httpProtocol><customHeaders><add name="X-Site" value="1" /></customHeaders>'
        "</httpProtocol></system.webServer></location>"), applications=(("api",),))
    inside = config.section_for("/api/x")
    assert inside.enabled and [rule.origin for rule in inside.rules] == [ORIGIN]
    assert inside.custom_headers == ()
    assert config.section_for("/x").custom_headers == (("X-Site", "1"),)


def test_at_an_application_boundary_modules_and_headers_outside_the_location_still_apply() -> None:
    not_inherited = ('<location path="." inheritInChildApplications="false"><system.webServer>'
                     "{}</system.webServer></location>")
    headers_only = not_inherited.format(
        '<httpProtocol><customHeaders><add name="X-Site" value="1" /></customHeaders>'
        "</httpProtocol>")
    removed = load_config(web_config(CORS, server='<modules><remove name="CorsModule" />'
                                     "</modules>", outside=headers_only),
                          applications=(("api",),))
    assert removed.section_for("/api/x").cors_module is False  # contract D1, still removed
    cors_only = load_config(web_config(
        server='<httpProtocol><customHeaders><add name="X-Site" value="1" /></customHeaders>'
        "</httpProtocol>", outside=not_inherited.format(CORS)), applications=(("api",),))
    inside = cors_only.section_for("/api/x")
    assert not inside.enabled and inside.custom_headers == (("X-Site", "1"),)


def test_a_corsmodule_removal_that_does_not_inherit_stops_at_the_application_boundary() -> None:
    config = load_config(web_config(
        CORS, outside='<location path="." inheritInChildApplications="false"><system.webServer>'
        '<modules><remove name="CorsModule" /></modules></system.webServer></location>'),
        applications=(("api",),))
    assert config.section_for("/x").cors_module is False  # contract D1 in the root application
    assert config.section_for("/api/x").cors_module is True  # E3: not in the child application


def test_the_place_of_a_corsmodule_removal_is_kept_only_while_it_is_removed() -> None:
    """Contract D1: a CorsModule added back after its ``<remove>`` is there again, and its
    effective section names no removal (what W221 and a reload's comparison read)."""
    removed = '<modules>\n<remove name="CorsModule" />'
    back = load_config(web_config(CORS, server=f'{removed}<add name="CorsModule" /></modules>'))
    assert (back.section_for("/").cors_module, back.section_for("/").module_removed_location) \
        == (True, None)
    gone = load_config(web_config(CORS, server=f"{removed}</modules>")).section_for("/")
    where = gone.module_removed_location
    assert (gone.cors_module, where and (where.line, where.column)) == (False, (6, 9))


def test_the_effective_rules_of_one_level_are_its_own_tuple() -> None:
    """Issue 17 (memory) and contract A9: where every rule in effect is one level's, the
    effective section holds that level's tuple itself, not a copy (one reference per origin)."""
    config = load_config(web_config(
        '<cors enabled="true"><add origin="https://a.example" />'
        '<add origin="https://b.example" /></cors>'))
    cors = config.levels[0].cors
    assert cors is not None
    assert config.section_for("/x").rules is cors.entries
