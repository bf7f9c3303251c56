"""``iiscors explain`` gives the browser's verdict beside IIS's answer (contract F1).

The options for the request as the page makes it (--header, --content-type, --credentials,
--app-status), --expect (the browser's verdict) against --expect-iis (IIS's answer alone) and
their exit codes, the JSON ``browser`` object of version 2, and the text lines, escaped.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from iiscors.cli.main import main

ORIGIN = "https://app.example"
# B8's trap: IIS answers 204 to any preflight; Allow-Methods lists GET and HEAD only.
CONFIG = """<configuration><system.webServer>
<cors enabled="true" failUnlistedOrigins="true">
<add origin="https://app.example" allowCredentials="true" maxAge="600">
<allowMethods><add method="GET" /><add method="HEAD" /><add method="PUT" /></allowMethods>
<allowHeaders><add header="x-token" /></allowHeaders>
</add>
<add origin="https://get-only.example">
<allowMethods><add method="GET" /><add method="HEAD" /></allowMethods>
</add>
<add origin="https://star.example" allowCredentials="true">
<allowHeaders><add header="*" /></allowHeaders>
</add>
</cors>
</system.webServer></configuration>
"""
# Contract C1: customHeaders beside <cors> send a second Access-Control-Allow-Origin.
DUPLICATE = """<configuration><system.webServer>
<httpProtocol><customHeaders>
<add name="Access-Control-Allow-Origin" value="*" />
<add name="Access-Control-Allow-Methods" value="GET, PUT" />
</customHeaders></httpProtocol>
<cors enabled="true"><add origin="https://app.example" /></cors>
</system.webServer></configuration>
"""
# The field's usual recipe (contract C2): customHeaders only, the app answers the preflight.
CUSTOM_ONLY = """<configuration><system.webServer>
<httpProtocol><customHeaders>
<add name="Access-Control-Allow-Origin" value="*" />
<add name="Access-Control-Allow-Methods" value="GET, PUT" />
</customHeaders></httpProtocol>
</system.webServer></configuration>
"""


def write(tmp_path: Path, text: str = CONFIG) -> str:
    path = tmp_path / "web.config"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def config(tmp_path: Path) -> str:
    return write(tmp_path)


def explain(*args: str) -> Result:
    return CliRunner().invoke(main, ["explain", *args])


def browser(result: Result) -> dict[str, Any]:
    assert result.exit_code in (0, 1), result.output
    document: dict[str, Any] = json.loads(result.stdout)
    assert document["version"] == 2
    verdict: dict[str, Any] = document["browser"]
    return verdict


# -- B8's trap: IIS allows, the browser refuses -------------------------------------------------

def test_iis_allows_the_preflight_but_the_browser_refuses_PUT(config: str) -> None:
    args = [config, "--origin", "https://get-only.example", "--request-method", "PUT"]
    assert explain(*args, "--expect-iis", "allowed").exit_code == 0
    refused = explain(*args, "--expect", "allowed")
    assert refused.exit_code == 1
    assert ("expected the browser to find it allowed, got blocked: Method PUT is not allowed by "
            "Access-Control-Allow-Methods in preflight response.") in refused.stderr
    assert explain(*args, "--expect", "blocked").exit_code == 0
    verdict = browser(explain(*args, "-f", "json"))
    assert (verdict["verdict"], verdict["check"], verdict["failed_parameter"], verdict["stage"]) \
        == ("blocked", "MethodDisallowedByPreflightResponse", "PUT", "preflight")
    assert verdict["section"] == "CORS-preflight fetch" and verdict["actual_sent"] is False


def test_readme_example_holds(config: str) -> None:
    # README: iiscors explain web.config --origin https://app.example --request-method PUT
    #         --expect allowed
    assert explain(config, "--origin", ORIGIN, "--request-method", "PUT",
                   "--expect", "allowed").exit_code == 0


def test_both_assertions_are_checked_and_each_names_itself(config: str) -> None:
    result = explain(config, "--origin", "https://get-only.example", "--method", "PUT",
                     "--expect", "allowed", "--expect-iis", "denied")
    assert result.exit_code == 1
    assert "expected the browser to find it allowed, got blocked" in result.stderr
    assert "expected IIS's answer denied, got allowed" in result.stderr


@pytest.mark.parametrize("word", ["denied", "passthrough"])
def test_expect_refuses_iis_words_and_points_to_expect_iis(config: str, word: str) -> None:
    result = explain(config, "--origin", ORIGIN, "--expect", word)
    assert result.exit_code == 2
    assert f"use --expect-iis {word}" in result.stderr


def test_expect_maybe_is_a_usage_error(config: str) -> None:
    result = explain(config, "--origin", ORIGIN, "--expect", "maybe")
    assert result.exit_code == 2 and "allowed, blocked" in result.stderr


# -- the request as the page makes it --------------------------------------------------------

def test_header_options_derive_the_preflight_request_headers(config: str) -> None:
    result = explain(config, "-f", "json", "--origin", ORIGIN, "--request-method", "PUT",
                     "--header", "X-Zeta: 1", "--header", "x-token: t",
                     "--content-type", "application/json")
    document = json.loads(result.stdout)
    # The request described is the preflight; its Access-Control-Request-Headers are the
    # browser's: lower-cased, sorted, the unsafe names only.
    assert document["request"]["request_headers"] == "content-type,x-token,x-zeta"
    verdict = document["browser"]
    assert verdict["fetch"]["request_headers"] == "content-type,x-token,x-zeta"
    assert verdict["check"] == "HeaderDisallowedByPreflightResponse"
    assert verdict["failed_parameter"] == "content-type"


def test_a_safelisted_content_type_needs_no_preflight(config: str) -> None:
    verdict = browser(explain(config, "-f", "json", "--origin", ORIGIN, "--method", "POST",
                              "--content-type", "text/plain;charset=UTF-8"))
    assert verdict["verdict"] == "allowed" and verdict["preflight_needed"] is False
    assert verdict["preflight"] is None and verdict["actual"]["request"]["method"] == "POST"


def test_a_listed_header_passes(config: str) -> None:
    verdict = browser(explain(config, "-f", "json", "--origin", ORIGIN, "--header",
                              "X-Token: secret", "--credentials", "include"))
    assert verdict["verdict"] == "allowed" and verdict["preflight_needed"] is True
    assert verdict["preflight"]["request"]["request_headers"] == "x-token"
    assert verdict["preflight"]["status"] == 204


def test_request_headers_are_read_back_as_the_page_request(config: str) -> None:
    verdict = browser(explain(config, "-f", "json", "--origin", ORIGIN, "--request-method",
                              "PUT", "--request-headers", "x-other"))
    assert verdict["check"] == "HeaderDisallowedByPreflightResponse"
    assert verdict["failed_parameter"] == "x-other"


def test_raw_and_page_headers_together_are_a_usage_error(config: str) -> None:
    result = explain(config, "--origin", ORIGIN, "--request-method", "PUT",
                     "--request-headers", "x-a", "--header", "X-B: 1")
    assert result.exit_code == 2 and "give one or the other" in result.stderr


@pytest.mark.parametrize("header", ["bad name: 1", "X-A: caf\u00e9\u20ac", ": empty"])
def test_a_header_fetch_cannot_send_is_a_usage_error(config: str, header: str) -> None:
    assert explain(config, "--origin", ORIGIN, "--header", header).exit_code == 2


def test_forbidden_headers_are_dropped_as_fetch_drops_them(config: str) -> None:
    result = explain(config, "--origin", ORIGIN, "--header", "Cookie: a=b")
    assert "dropped by fetch() (forbidden request-headers): Cookie" in result.stdout
    verdict = browser(explain(config, "-f", "json", "--origin", ORIGIN, "--header",
                              "Cookie: a=b"))
    assert verdict["fetch"]["dropped"] == ["Cookie"] and verdict["preflight_needed"] is False


@pytest.mark.parametrize(("credentials", "word", "check"), [
    ("include", "blocked", "HeaderDisallowedByPreflightResponse"),  # * is literal then
    ("omit", "allowed", None),
    ("same-origin", "allowed", None),
])
def test_credentials_modes(config: str, credentials: str, word: str, check: str | None) -> None:
    verdict = browser(explain(config, "-f", "json", "--origin", "https://star.example",
                              "--header", "X-Custom: 1", "--credentials", credentials))
    assert (verdict["verdict"], verdict["check"]) == (word, check)
    assert verdict["fetch"]["credentials"] == credentials


def test_authorization_is_never_covered_by_a_star_and_chromium_is_told(config: str) -> None:
    verdict = browser(explain(config, "-f", "json", "--origin", "https://star.example",
                              "--header", "Authorization: Bearer t", "--credentials", "omit"))
    assert verdict["check"] == "HeaderDisallowedByPreflightResponse"
    assert verdict["failed_parameter"] == "authorization"
    assert verdict["chromium"] == {"verdict": "allowed", "check": None, "message": None}
    text = explain(config, "--origin", "https://star.example", "--header",
                   "Authorization: Bearer t", "--credentials", "omit").stdout
    assert "          Chromium 156 differs: allowed" in text.splitlines()


def test_duplicate_allow_origin_from_custom_headers(tmp_path: Path) -> None:
    config = write(tmp_path, DUPLICATE)
    verdict = browser(explain(config, "-f", "json", "--origin", ORIGIN))
    assert verdict["check"] == "MultipleAllowOriginValues"
    assert verdict["message"] == ("The 'Access-Control-Allow-Origin' header contains multiple "
                                  "values 'https://app.example, *', but only one is allowed.")
    verdict = browser(explain(config, "-f", "json", "--origin", ORIGIN, "--method", "PUT"))
    assert verdict["check"] == "PreflightMultipleAllowOriginValues"


@pytest.mark.parametrize(("status", "word"), [(200, "allowed"), (204, "allowed"),
                                              (405, "blocked"), (302, "blocked")])
def test_app_status_of_a_preflight_the_app_answers(tmp_path: Path, status: int,
                                                   word: str) -> None:
    config = write(tmp_path, CUSTOM_ONLY)
    result = explain(config, "-f", "json", "--origin", ORIGIN, "--method", "PUT",
                     "--app-status", str(status), "--expect", "allowed")
    verdict = browser(result)
    assert verdict["verdict"] == word and result.exit_code == (0 if word == "allowed" else 1)
    if word == "blocked":
        assert verdict["check"] == "PreflightInvalidStatus"
    assert verdict["assumptions"][0] == (f"the app answers the preflight with {status} and adds "
                                         "no Access-Control-* header")


def test_same_origin_request_is_not_checked(config: str) -> None:
    # B13: IIS refuses the site's own origin (403), but the page reads its own response.
    args = [config, "-f", "json", "--origin", "https://site.example", "--host", "site.example",
            "--scheme", "https", "--method", "POST"]
    result = explain(*args, "--expect", "allowed", "--expect-iis", "denied")
    assert result.exit_code == 0
    verdict = browser(result)
    assert verdict["same_origin"] is True and verdict["verdict"] == "allowed"


def test_a_forbidden_method_is_refused_by_fetch(config: str) -> None:
    result = explain(config, "-f", "json", "--origin", ORIGIN, "--method", "TRACE")
    document = json.loads(result.stdout)
    assert document["outcome"] == "allowed"  # IIS's answer to the raw request is still given
    verdict = document["browser"]
    assert (verdict["verdict"], verdict["check"], verdict["stage"]) == (
        "blocked", "FetchRefused", "fetch")
    assert verdict["fetch"] is None and verdict["actual"] is None


# -- the JSON shape and the text --------------------------------------------------------------

BROWSER_KEYS = {"verdict", "check", "failed_parameter", "message", "stage", "section",
                "same_origin", "preflight_needed", "why_preflight", "fetch", "preflight",
                "actual", "actual_sent", "assumptions", "chromium"}


def test_json_shape(config: str) -> None:
    result = explain(config, "-f", "json", "--origin", ORIGIN, "--method", "PUT",
                     "--expect", "allowed", "--expect-iis", "allowed")
    document = json.loads(result.stdout)
    assert result.exit_code == 0
    assert (document["expected"], document["expected_iis"]) == ("allowed", "allowed")
    verdict = document["browser"]
    assert set(verdict) == BROWSER_KEYS
    assert set(verdict["fetch"]) == {"method", "credentials", "headers", "dropped",
                                     "request_headers"}
    exchange_keys = {"request", "scope", "kind", "outcome", "status", "headers", "rule",
                     "rewrite", "reason"}
    assert set(verdict["preflight"]) == set(verdict["actual"]) == exchange_keys
    assert verdict["preflight"]["kind"] == "preflight" and verdict["actual"]["kind"] == "actual"
    assert verdict["why_preflight"] == ["PUT is not a CORS-safelisted method (GET, HEAD, POST)"]
    assert verdict["actual_sent"] is True and verdict["chromium"] is None


def test_text_shows_the_verdict_after_iis_answer(config: str) -> None:
    lines = explain(config, "--origin", "https://get-only.example", "--method", "PUT"
                    ).stdout.splitlines()
    start = lines.index("browser:  blocked: Method PUT is not allowed by "
                        "Access-Control-Allow-Methods in preflight response.")
    assert lines[start - 1].startswith("reason:   ")
    assert lines[start + 1] == ('          check MethodDisallowedByPreflightResponse '
                                '(Fetch standard, "CORS-preflight fetch")')
    assert lines[start + 2] == ("          the page's fetch(): PUT /, credentials same-origin, "
                                "no header")
    assert lines[start + 4].startswith("          preflight OPTIONS / → allowed, 204 from the "
                                       "middleware [Access-Control-Allow-Origin: "
                                       "https://get-only.example;")
    assert lines[start + 5] == "          actual PUT / → not sent: the preflight failed"


def test_text_escapes_control_characters_in_page_headers(config: str) -> None:
    result = explain(config, "--origin", ORIGIN, "--header", "X-Note: a\x1b]0;t\x07b",
                     "--header", "X-Mark: ##[error]x")
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "X-Note: a\\x1b]0;t\\x07b" in result.stdout
    assert "##[error]" not in result.stdout


def test_the_docs_example_is_what_explain_prints(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/cli.md's example, run as written: the file shown, the command, the output."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    block = re.search(r"```\n\$ cat web.config\n(.*?)\n\$ (iiscors explain .*?)\n(.*?)\n```",
                      docs, re.DOTALL)
    assert block is not None, "the example is gone from docs/cli.md"
    config, command, output = block.groups()
    (tmp_path / "web.config").write_text(config + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, shlex.split(command)[1:])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == output.splitlines()
