"""``iiscors explain`` through click's CliRunner: it renders the very Decision of
Config.evaluate, in text and JSON, and --expect-iis turns it into a CI assertion (--expect, the
browser's verdict: tests/cli/test_explain_verdict.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from iiscors import CorsRequest, load_config
from iiscors.cli.main import main

CONFIG = b"""<configuration>
<system.webServer>
<cors enabled="true" failUnlistedOrigins="true">
<add origin="https://app.example" allowCredentials="true" maxAge="600">
<allowMethods><add method="PUT" /></allowMethods>
<allowHeaders><add header="x-token" /></allowHeaders>
<exposeHeaders><add header="x-total" /></exposeHeaders>
</add>
<add origin="http://*" allowed="false" />
</cors>
</system.webServer>
<location path="public">
<system.webServer><cors enabled="false" /></system.webServer>
</location>
</configuration>
"""


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "web.config"
    path.write_bytes(CONFIG)
    return str(path)


def explain(*args: str) -> Result:
    return CliRunner().invoke(main, ["explain", *args])


def as_json(result: Result) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    return document


CASES = [
    # (id, options, kind, outcome, status)
    ("allowed preflight",
     ["--origin", "https://app.example", "--request-method", "PUT",
      "--request-headers", "x-token"], "preflight", "allowed", 204),
    ("allowed actual", ["--origin", "https://app.example", "--method", "POST"], "actual",
     "allowed", None),
    ("unlisted origin refused", ["--origin", "https://evil.example"], "actual", "denied", 403),
    ("denied rule", ["--origin", "http://app.example", "--request-method", "GET"], "preflight",
     "denied", 403),
    ("disabled location", ["--origin", "https://evil.example", "--path", "/Public/x"],
     "actual", "passthrough", None),
    ("OPTIONS without Access-Control-Request-Method is actual",
     ["--origin", "https://app.example", "--method", "OPTIONS"], "actual", "allowed", None),
]


@pytest.mark.parametrize(("options", "kind", "outcome", "status"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_json_renders_the_decision(config: str, options: list[str], kind: str, outcome: str,
                                   status: int | None) -> None:
    result = explain(config, "--format", "json", *options)
    assert result.exit_code == 0, result.output
    document = as_json(result)
    assert (document["kind"], document["outcome"], document["status"]) == (kind, outcome,
                                                                           status)
    # The same Decision the middleware acts on: compare with Config.evaluate directly.
    request = document["request"]
    decision = load_config(config).evaluate(CorsRequest(
        method=request["method"], origin=request["origin"],
        request_method=request["request_method"], request_headers=request["request_headers"],
        path=request["path"]))
    assert document["headers"] == [list(pair) for pair in decision.headers]
    assert document["reason"] == decision.reason
    if decision.rule is None:
        assert document["rule"] is None
    else:
        assert document["rule"] == {
            "origin": decision.rule.origin, "allowed": decision.rule.allowed,
            "file": config, "line": decision.rule.location.line,
            "column": decision.rule.location.column}


def test_json_preflight_details(config: str) -> None:
    document = as_json(explain(config, "-f", "json", "--origin", "https://app.example",
                               "--request-method", "PUT"))
    assert document["request"]["method"] == "OPTIONS"  # implied by --request-method
    assert document["headers"] == [
        ["Access-Control-Allow-Origin", "https://app.example"],
        ["Access-Control-Allow-Credentials", "true"],
        ["Access-Control-Allow-Methods", "PUT"],
        ["Access-Control-Allow-Headers", "x-token"],
        ["Access-Control-Max-Age", "600"],
        ["Vary", "Origin"],
    ]
    assert document["rule"]["line"] == 4
    assert document["scope"] == "/"
    assert document["expected"] is None
    assert [w["code"] for w in document["warnings"]] == ["W222"]  # https://app.example only


def test_text_preflight(config: str) -> None:
    result = explain(config, "--origin", "https://app.example", "--request-method", "PUT")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "request:  OPTIONS /"
    assert "kind:     preflight" in lines
    assert "outcome:  allowed: the middleware answers 204 itself; the app is not called" in lines
    assert "headers:  Access-Control-Allow-Origin: https://app.example" in lines
    assert "          Access-Control-Max-Age: 600" in lines
    assert f'rule:     origin="https://app.example" at {config}:4' in lines
    # The last line of IIS's answer; the browser's verdict follows (F1).
    reason = next(n for n, text in enumerate(lines) if text.startswith("reason:"))
    assert lines[reason].startswith('reason:   rule origin="https://app.example"')
    assert lines[reason + 1].startswith("browser:  ")


def test_text_refusal_says_why(config: str) -> None:
    result = explain(config, "--origin", "https://evil.example")
    assert "outcome:  denied: the middleware answers 403 itself; the app is not called" in \
        result.stdout
    assert "rule:     (none)" in result.stdout
    assert ("reason:   no rule matches 'https://evil.example'; failUnlistedOrigins is true → 403"
            in result.stdout)


def test_text_passthrough(config: str) -> None:
    result = explain(config, "--origin", "https://evil.example", "--path", "/public")
    assert "outcome:  passthrough: the app answers" in result.stdout
    assert "scope:    /public" in result.stdout
    assert "headers:  (none added)" in result.stdout


def test_same_origin_exemption(config: str) -> None:
    args = [config, "-f", "json", "--origin", "https://site.example", "--host", "site.example",
            "--scheme", "https"]
    assert as_json(explain(*args))["outcome"] == "denied"
    exempt = as_json(explain(*args, "--exempt-same-origin"))
    assert (exempt["kind"], exempt["outcome"]) == ("not-cors", "passthrough")


@pytest.mark.parametrize(("expect", "code"), [("denied", 0), ("allowed", 1),
                                              ("passthrough", 1)])
def test_expect_iis(config: str, expect: str, code: int) -> None:
    result = explain(config, "--origin", "https://evil.example", "--expect-iis", expect)
    assert result.exit_code == code
    if code:
        assert f"expected IIS's answer {expect}, got denied" in result.stderr


def test_expect_in_json(config: str) -> None:
    result = explain(config, "-f", "json", "--origin", "https://app.example",
                     "--expect-iis", "allowed")
    assert result.exit_code == 0
    assert as_json(result)["expected_iis"] == "allowed"


def test_warnings_go_to_stderr_in_text_and_into_json(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    path.write_bytes(b'<configuration><system.webServer><cors enabled="true">'
                     b'<add origin="https://App.example" /></cors></system.webServer>'
                     b"</configuration>")
    text = explain(str(path), "--origin", "https://app.example")
    assert "W204" in text.stderr and "W204" not in text.stdout
    document = as_json(explain(str(path), "-f", "json", "--origin", "https://app.example"))
    assert [w["code"] for w in document["warnings"]] == ["W204"]
    assert document["outcome"] == "passthrough"  # the rule never matches: contract B5


def test_unusable_configuration_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    path.write_bytes(b'<configuration><system.webServer><cors enabled="yes" />'
                     b"</system.webServer></configuration>")
    result = explain(str(path), "--origin", "https://a.example", "--expect", "allowed")
    assert result.exit_code == 2
    assert "error E206" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("args", [
    [],                                                   # no CONFIG
    ["web.config"],                                       # no --origin
    ["web.config", "--origin", "x", "--expect", "maybe"],
    ["web.config", "--origin", "x", "--format", "sarif"],
])
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert explain(*args).exit_code == 2


def test_explain_is_registered_lazily() -> None:
    ctx = click.Context(main)
    assert "explain" in main.list_commands(ctx)
    assert isinstance(main.get_command(ctx, "explain"), click.Command)
