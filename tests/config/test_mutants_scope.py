"""Scoping behaviours that a mutation run of iiscors/config/scope.py found no test for
(docs/mutation.md).

Each test loads a web.config and reads its diagnostics, or asks for a decision, as the
adapters do (the middleware where errors are scoped, contract E6).
"""

from __future__ import annotations

from iiscors import CorsRequest, check_config, load_config
from iiscors.config.diagnostics import Related
from iiscors.policy import headers
from iiscors.wsgi import CorsMiddleware

from support import Recorder, environ_for, web_config

ORIGIN = "https://app.example"
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
