"""URL Rewrite's OPTIONS recipe (contract C2): what is recognised, in which order, at which paths,
and what the middleware then answers (both adapters) and explain says.

The recipe: a rule matching every URL (``<match url=".*"/>``) whose single condition tests
``{REQUEST_METHOD}`` against ``OPTIONS`` or ``^OPTIONS$`` and whose action is a CustomResponse
200.  Anything else in ``<rewrite>`` is not interpreted: the request goes on to the app.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree
from werkzeug.test import Client

from iiscors import CorsMiddleware, CorsRequest, load_config
from iiscors.asgi import CorsMiddleware as AsgiMiddleware
from iiscors.cli.main import main
from iiscors.config.load import check_config
from iiscors.config.rewrite import is_options_recipe
from iiscors.config.site import load_site
from iiscors.policy.core import Outcome, RequestKind

APP = "https://app.example"
EVIL = "https://evil.example"
CUSTOM = ('<httpProtocol><customHeaders>'
          '<add name="Access-Control-Allow-Origin" value="*" />'
          '<add name="Access-Control-Allow-Methods" value="GET, POST, PUT" />'
          '</customHeaders></httpProtocol>')


def rule(name: str = "CORS Preflight", *, rule_attrs: str = ' stopProcessing="true"',
         match: str = '<match url=".*" />',
         condition: str = '<add input="{REQUEST_METHOD}" pattern="^OPTIONS$" />',
         action: str = ('<action type="CustomResponse" statusCode="200" statusReason="Preflight" '
                        'statusDescription="Preflight answered" />'),
         extra: str = "") -> str:
    return (f'<rule name="{name}"{rule_attrs}>{match}<conditions>{condition}</conditions>'
            f"{extra}{action}</rule>")


OTHER_RULE = ('<rule name="SPA"><match url=".*" /><conditions>'
              '<add input="{REQUEST_FILENAME}" matchType="IsFile" negate="true" /></conditions>'
              '<action type="Rewrite" url="/" /></rule>')


def config(rules: str = rule(), *, server: str = CUSTOM, cors: str = "",
           outside: str = "", rewrite_extra: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n<system.webServer>\n'
            f"{cors}\n{server}\n<rewrite><rules>{rules}</rules>{rewrite_extra}</rewrite>\n"
            f"</system.webServer>\n{outside}\n</configuration>\n").encode()


def decide(data: bytes, method: str = "OPTIONS", origin: str | None = APP,
           request_method: str | None = "PUT", path: str = "/") -> Any:
    return load_config(data).evaluate(CorsRequest(method, origin, request_method, path=path))


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-App", "1")])
    return [b"from the app"]


def wsgi(data: bytes, method: str = "OPTIONS", headers: dict[str, str] | None = None,
         path: str = "/") -> Any:
    client = Client(CorsMiddleware(app, data, reload=False))
    return client.open(path, method=method, headers=headers or {})


# -- recognition: exactly the recipe --------------------------------------------------------

def test_c2_the_recipe_answers_options_with_its_status_reason_and_description() -> None:
    response = wsgi(config(), headers={"Origin": APP, "Access-Control-Request-Method": "PUT"})
    assert response.status == "200 Preflight"
    assert response.data == b"Preflight answered"
    assert "X-App" not in response.headers  # the app is not called
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Length"] == str(len(b"Preflight answered"))
    # C1: the customHeaders, as on every response
    assert response.headers.getlist("Access-Control-Allow-Origin") == ["*"]
    assert response.headers["Access-Control-Allow-Methods"] == "GET, POST, PUT"


def test_c2_without_reason_or_description_the_answer_is_200_ok_and_empty() -> None:
    bare = rule(action='<action type="CustomResponse" statusCode="200" />')
    response = wsgi(config(bare), headers={"Origin": APP})
    assert response.status == "200 OK"
    assert response.data == b""
    assert response.headers["Content-Length"] == "0"


@pytest.mark.parametrize("variant", [
    rule(condition='<add input="{REQUEST_METHOD}" pattern="OPTIONS" />'),
    rule(condition='<add input="{REQUEST_METHOD}" pattern="^options$" ignoreCase="true" '
                   'negate="false" matchType="Pattern" />'),
    rule(rule_attrs=' enabled="true" patternSyntax="ECMAScript"',
         match='<match url=".*" ignoreCase="false" negate="false" />'),
    rule(rule_attrs=""),  # stopProcessing is implied by CustomResponse
    '<!-- preflights --><rule name="CORS Preflight"><!-- c --><match url=".*" /><conditions '
    'logicalGrouping="MatchAny" trackAllCaptures="false"><add input="{request_method}" '
    'pattern="^OPTIONS$" /></conditions><action type="customResponse" statusCode="0200" '
    'subStatusCode="0" /></rule>',
    rule(rule_attrs=' xmlns:xdt="http://schemas.microsoft.com/XML-Document-Transform" '
                    'xdt:Transform="InsertIfMissing"'),
], ids=["unanchored", "all-condition-attributes", "rule-and-match-attributes",
        "no-stopProcessing", "comments-groupings-spellings", "transform-attribute"])
def test_c2_the_recipe_in_its_accepted_spellings(variant: str) -> None:
    decision = decide(config(variant))
    assert decision.status == 200
    assert decision.recipe is not None and decision.recipe.name == "CORS Preflight"


@pytest.mark.parametrize("variant", [
    rule(action='<action type="CustomResponse" statusCode="204" />'),
    rule(action='<action type="CustomResponse" statusCode="200" subStatusCode="1" />'),
    rule(action='<action type="CustomResponse" statusCode="200" statusReason="a&#10;b" />'),
    rule(action='<action type="AbortRequest" />'),
    rule(action='<action type="CustomResponse" statusCode="200" url="/x" />'),
    rule(extra='<serverVariables><set name="RESPONSE_X" value="1" /></serverVariables>'),
    rule(match='<match url="(.*)" />'),
    rule(match='<match url=".*" negate="true" />'),
    rule(rule_attrs=' patternSyntax="Wildcard"'),
    rule(rule_attrs=' enabled="false"'),
    rule(rule_attrs=' stopProcessing="yes"'),
    rule(rule_attrs=' preCondition="x"'),
    rule(condition='<add input="{HTTP_METHOD}" pattern="^OPTIONS$" />'),
    rule(condition='<add input="{REQUEST_METHOD}" pattern="^OPTIONS" />'),
    rule(condition='<add input="{REQUEST_METHOD}" pattern="OPTIONS|GET" />'),
    rule(condition='<add input="{REQUEST_METHOD}" pattern="^OPTIONS$" negate="true" />'),
    rule(condition='<add input="{REQUEST_METHOD}" pattern="^OPTIONS$" matchType="IsFile" />'),
    rule(condition='<add input="{REQUEST_METHOD}" pattern="^OPTIONS$" ignoreCase="1" />'),
    rule(condition='<add input="{REQUEST_METHOD}" pattern="^OPTIONS$" />'
                   '<add input="{HTTP_ORIGIN}" pattern=".+" />'),
    rule(condition=""),
], ids=["status-204", "sub-status", "reason-newline", "abort", "extra-action-attribute",
        "server-variables", "other-url", "negated-match", "wildcard-syntax", "disabled",
        "bad-boolean", "unknown-attribute", "other-input", "one-anchor", "alternation",
        "negated-condition", "other-match-type", "bad-ignore-case", "two-conditions",
        "no-condition"])
def test_c2_anything_but_the_recipe_is_not_interpreted(variant: str) -> None:
    decision = decide(config(variant))
    assert decision.status is None and decision.recipe is None  # the app answers
    assert wsgi(config(variant), headers={"Origin": APP}).data == b"from the app"


def test_c2_ignore_case_as_url_rewrite_reads_it() -> None:
    default = config()
    assert decide(default, method="options").status == 200  # ignoreCase defaults to true
    strict = config(rule(condition='<add input="{REQUEST_METHOD}" pattern="^OPTIONS$" '
                                   'ignoreCase="FALSE" />'))
    assert decide(strict, method="options").status is None
    assert decide(strict, method="OPTIONS").status == 200
    # ASCII folding only, as ECMAScript's ignoreCase: the long s is not an s
    assert decide(default, method="OPTIONſ").status is None


def test_c2_the_unanchored_pattern_matches_any_method_holding_the_word() -> None:
    loose = config(rule(condition='<add input="{REQUEST_METHOD}" pattern="OPTIONS" />'))
    assert decide(loose, method="XOPTIONSY", request_method=None).status == 200
    assert decide(config(), method="XOPTIONSY", request_method=None).status is None
    assert decide(loose, method="GET", request_method=None).status is None


# -- order: the first enabled rule of the effective collection -----------------------------

def test_c2_the_recipe_must_come_first() -> None:
    assert decide(config(OTHER_RULE + rule())).status is None
    assert decide(config(rule() + OTHER_RULE)).status == 200  # later rules never see OPTIONS
    disabled = OTHER_RULE.replace('name="SPA"', 'name="SPA" enabled="false"')
    assert decide(config(disabled + rule())).status == 200  # a disabled rule is skipped


def test_c2_the_first_of_two_recipes_answers() -> None:
    two = rule("First") + rule("Second", action='<action type="CustomResponse" '
                                                 'statusCode="200" statusReason="Two" />')
    decision = decide(config(two))
    assert decision.recipe is not None and decision.recipe.name == "First"


def test_c2_a_collection_iis_refuses_is_not_interpreted() -> None:
    assert decide(config(rule() + rule())).status is None  # duplicate name
    assert decide(config(rule() + "<unknown />")).status is None
    assert decide(config(rule() + "text")).status is None
    assert decide(config('<rule><match url=".*" /></rule>' + rule())).status is None
    assert decide(config(rule(), rewrite_extra="<rules />")).status is None  # two <rules>


def test_c2_other_rewrite_content_beside_the_rules_is_left_alone() -> None:
    outbound = ('<outboundRules><rule name="Out"><match serverVariable="RESPONSE_X" '
                'pattern=".*" /><action type="Rewrite" value="1" /></rule></outboundRules>')
    assert decide(config(rewrite_extra=outbound)).status == 200


# -- scoping (A9): <location>, sub-directories, <clear/> and <remove> --------------------

def located(path: str, rules: str) -> str:
    return (f'<location path="{path}"><system.webServer><rewrite><rules>{rules}</rules>'
            "</rewrite></system.webServer></location>")


def test_c2_inherited_into_locations_and_removed_by_clear_or_remove() -> None:
    data = config(outside=located("cleared", "<clear />") +
                  located("removed", '<remove name="cors preflight" />') +
                  located("added", OTHER_RULE) +
                  located("replaced", "<clear />" + OTHER_RULE + rule("Inner")))
    assert decide(data, path="/api/x").status == 200
    assert decide(data, path="/cleared/x").status is None
    assert decide(data, path="/removed").status is None  # names compare case-insensitively
    assert decide(data, path="/added/x").status == 200  # the child's rule comes after
    assert decide(data, path="/replaced").status is None  # the child's first rule is not it


def test_c2_a_location_may_hold_the_recipe_alone() -> None:
    data = config("", outside=located("api", rule()))
    assert decide(data, path="/api/items").status == 200
    assert decide(data, path="/apix").status is None
    assert decide(data, path="/").status is None


def test_c2_sub_directory_web_configs_follow_the_same_order(tmp_path: Path) -> None:
    (tmp_path / "web.config").write_bytes(config())
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "web.config").write_bytes(config(OTHER_RULE, server=""))
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "web.config").write_bytes(config("<clear />", server=""))
    site = load_site(tmp_path)
    for path, status in (("/x", 200), ("/api/x", 200), ("/own/x", None)):
        assert site.evaluate(CorsRequest("OPTIONS", APP, "PUT", path=path)).status == status


def test_c2_two_rewrite_sections_for_one_path_are_refused_as_iis_does() -> None:
    data = config().replace(b"</system.webServer>", b"<rewrite /></system.webServer>", 1)
    codes = [d.code for d in check_config(data)]
    assert "E301" in codes


# -- beside <cors>: CORS decides first, the recipe answers what CORS passes on ---------------

CORS_FAIL = ('<cors enabled="true" failUnlistedOrigins="true"><add origin="https://app.example" '
             'allowCredentials="true"><allowMethods><add method="PUT" /></allowMethods></add>'
             "</cors>")
CORS_PASS = CORS_FAIL.replace(' failUnlistedOrigins="true"', "")


def test_c2_an_allowed_preflight_is_the_cors_modules_204() -> None:
    decision = decide(config(cors=CORS_PASS, server=""))
    assert (decision.status, decision.recipe, decision.outcome) == (204, None, Outcome.ALLOWED)


def test_c2_a_refusal_is_the_cors_modules_403() -> None:
    decision = decide(config(cors=CORS_FAIL, server=""), origin=EVIL)
    assert (decision.status, decision.recipe) == (403, None)


def test_c2_an_unlisted_preflight_passed_on_is_answered_by_the_recipe_with_vary() -> None:
    decision = decide(config(cors=CORS_PASS, server=""), origin=EVIL)
    assert (decision.status, decision.kind, decision.outcome) == (
        200, RequestKind.PREFLIGHT, Outcome.PASSTHROUGH)
    assert decision.headers == (("Vary", "Origin"),)  # B15


def test_c2_an_allowed_options_without_request_method_gets_the_cors_headers() -> None:
    decision = decide(config(cors=CORS_PASS, server=""), request_method=None)
    assert (decision.status, decision.kind, decision.outcome) == (
        200, RequestKind.ACTUAL, Outcome.ALLOWED)
    assert decision.headers == (("Access-Control-Allow-Origin", APP),
                                ("Access-Control-Allow-Credentials", "true"), ("Vary", "Origin"))


def test_c2_without_origin_and_where_the_module_is_removed() -> None:
    assert decide(config(cors=CORS_FAIL, server=""), origin=None).status == 200
    removed = config(cors=CORS_FAIL, server=CUSTOM + '<modules><remove name="CorsModule" />'
                                                     "</modules>")
    decision = decide(removed, origin=EVIL)
    assert decision.status == 200
    assert decision.headers == (("Access-Control-Allow-Origin", "*"),
                                ("Access-Control-Allow-Methods", "GET, POST, PUT"))


def test_c2_same_origin_exemption_still_meets_the_recipe() -> None:
    middleware = CorsMiddleware(app, config(cors=CORS_FAIL, server=""), reload=False,
                                exempt_same_origin=True)
    response = Client(middleware).open("/", method="OPTIONS", base_url="https://api.example",
                                       headers={"Origin": "https://api.example",
                                                "Access-Control-Request-Method": "PUT"})
    assert response.status == "200 Preflight"


def test_c2_other_methods_take_the_usual_path_repeatedly() -> None:
    middleware = CorsMiddleware(app, config(cors=CORS_PASS, server=""), reload=False)
    client = Client(middleware)
    for _ in range(2):  # first sight, then the kept answer
        response = client.get("/", headers={"Origin": APP})
        assert response.data == b"from the app"
        assert response.headers["Access-Control-Allow-Origin"] == APP
        preflight = client.open("/", method="OPTIONS", headers={
            "Origin": APP, "Access-Control-Request-Method": "PUT"})
        assert preflight.status_code == 204
        options = client.open("/", method="OPTIONS", headers={"Origin": APP})
        assert options.status == "200 Preflight"
        assert options.headers["Access-Control-Allow-Origin"] == APP


# -- the ASGI adapter answers the same --------------------------------------------------------

def asgi_call(data: bytes, method: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    sent: list[dict[str, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"from the app"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    middleware = AsgiMiddleware(inner, data, reload=False)
    asyncio.run(middleware({"type": "http", "method": method, "path": "/", "headers": headers,
                            "scheme": "http"}, receive, send))
    return {"status": sent[0]["status"], "headers": sent[0]["headers"],
            "body": b"".join(m.get("body", b"") for m in sent[1:])}


def test_c2_asgi_answers_with_the_recipes_status_body_and_headers() -> None:
    answer = asgi_call(config(), "OPTIONS", [(b"origin", APP.encode())])
    assert answer["status"] == 200 and answer["body"] == b"Preflight answered"
    assert (b"Access-Control-Allow-Origin", b"*") in answer["headers"]
    assert (b"content-type", b"text/plain; charset=utf-8") in answer["headers"]
    refused = asgi_call(config(cors=CORS_FAIL, server=""), "OPTIONS",
                        [(b"origin", EVIL.encode())])
    assert refused["status"] == 403 and refused["body"].startswith(b"403 Forbidden")
    assert asgi_call(config(), "GET", [(b"origin", APP.encode())])["body"] == b"from the app"


# -- explain: the rule that answered, with file:line -------------------------------------------

def test_c2_explain_names_the_rewrite_rule_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    path.write_bytes(config())
    line = next(number for number, text in enumerate(config().decode().splitlines(), 1)
                if "<rule " in text)
    runner = CliRunner()
    text = runner.invoke(main, ["explain", str(path), "--origin", APP, "--request-method", "PUT"])
    assert f'rule:     URL Rewrite <rule name="CORS Preflight"> at {path}:{line}' in text.output
    assert "the URL Rewrite rule answers 200 itself, before the app" in text.output
    assert "browser:  allowed" in text.output
    result = runner.invoke(main, ["explain", str(path), "--origin", APP, "--request-method",
                                 "PUT", "--format", "json"])
    document = json.loads(result.output)
    assert document["status"] == 200
    assert document["rewrite"] == {"name": "CORS Preflight", "file": str(path), "line": line,
                                   "column": document["rewrite"]["column"], "status": 200,
                                   "status_reason": "Preflight", "body": "Preflight answered"}
    assert f"({path}:{line})" in document["reason"]
    assert document["browser"]["preflight"]["rewrite"]["name"] == "CORS Preflight"


# -- the predicate the note uses (validate says once per file what it leaves alone) ---------------

def rewrite_element(data: bytes) -> etree._Element:
    found = etree.fromstring(data).find("system.webServer/rewrite")
    assert found is not None
    return found


def test_c2_is_options_recipe_only_for_a_section_holding_nothing_else() -> None:
    assert is_options_recipe(rewrite_element(config()))
    assert is_options_recipe(rewrite_element(config("<clear />" + rule())))
    assert not is_options_recipe(rewrite_element(config(rule() + OTHER_RULE)))
    assert not is_options_recipe(rewrite_element(config(rule() + rule("Second"))))
    assert not is_options_recipe(rewrite_element(config(rule(rule_attrs=' enabled="false"'))))
    assert not is_options_recipe(rewrite_element(config(
        rule(), rewrite_extra="<rewriteMaps />")))
    assert not is_options_recipe(rewrite_element(config(OTHER_RULE)))
