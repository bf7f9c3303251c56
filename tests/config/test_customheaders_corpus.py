"""The customHeaders corpus (issue 14 item 5): every file of tests/corpus/customheaders through
``iiscors validate --strict``, its verdict pinned, and the same verdicts in docs/corpus.md.

The files are re-creations written for iiscors of web.config files surveyed in public
repositories (SOURCES.md says which, and what each does); the search tool's terms forbid
committing copies.  Each row records the exit code under ``--strict``, the diagnostics
(code:line, in report order) and why.  A new file fails the test until it has a row.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner

from iiscors.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus" / "customheaders"
DOCS = ROOT / "docs" / "corpus.md"


class Row(NamedTuple):
    strict_exit: int
    codes: tuple[str, ...]
    why: str


TABLE: dict[str, Row] = {
    "01-star-post-only.config": Row(0, ("N301:16", "N301:17"),
                                    "* for POST with one header: clean; the preflight-only "
                                    "headers are notes"),
    "02-static-site-one-origin.config": Row(0, ("N301:13", "N301:14"),
                                            "one exact origin for a static site: clean"),
    "03-star-credentials-verbs-rewrite.config": Row(
        1, ("W301:9", "N301:10", "N301:11", "N301:13", "N101:25"),
        "* with credentials (at the Allow-Credentials add); a disabled rewrite rule is still "
        "a <rewrite> iiscors does not interpret"),
    "04-aspnetcore-star-credentials.config": Row(1, ("N301:9", "N301:10", "W301:11"),
                                                 "* with credentials in an ASP.NET Core app"),
    "05-readme-snippet-star-credentials.config": Row(1, ("N301:8", "W301:9", "N301:10"),
                                                     "* with credentials from a README"),
    "06-webapi-template-no-cors.config": Row(0, ("W101:None",),
                                             "the Web API template removes OPTIONSVerbHandler "
                                             "without any CORS: a note, not a failure"),
    "07-mvc4-extensionless-verbs.config": Row(0, ("W101:None",),
                                              "the MVC 4 template's verb lists: no CORS"),
    "08-views-web.config": Row(0, ("W101:None",), "a Views/Web.config: at most a note"),
    "09-release-transform.config": Row(0, ("W101:None",),
                                       "a Web.Release.config transform (xdt:): at most a note"),
    "10-transform-options-rule.config": Row(0, ("W101:None", "N101:6"),
                                            "a transform that inserts an OPTIONS rule: its "
                                            "server variables are not customHeaders"),
    "11-iisnode-star-everything.config": Row(0, ("N301:11", "N301:12", "N101:18"),
                                             "* lists without credentials are wildcards: "
                                             "clean"),
    "12-iisnode-preflight-rule.config": Row(0, ("N101:10", "N301:30", "N301:31"),
                                            "the OPTIONS CustomResponse recipe beside one "
                                            "origin: clean, the rule is noted"),
    "13-preflight-rule-star-credentials.config": Row(
        1, ("N301:9", "N301:10", "N301:11", "W215:11", "W301:12"),
        "* with credentials, and a Max-Age of a day that Chromium caps at two hours"),
    "14-two-httpprotocol-sections.config": Row(1, ("E301:13",),
                                               "two <httpProtocol> in one <system.webServer>: "
                                               "IIS refuses the file (500.19)"),
    "15-comma-separated-origins.config": Row(1, ("W302:11", "N301:12"),
                                             "two origins in one Access-Control-Allow-Origin"),
    "16-wildcard-subdomain-origin.config": Row(1, ("N101:6", "W304:24"),
                                               "*.domain is sent as written and matches "
                                               "nothing"),
    "17-windows-auth-credentials.config": Row(0, ("N301:16", "N301:17"),
                                              "one https origin with credentials: clean"),
    "18-http-origin-with-port.config": Row(0, ("N301:8",),
                                           "an http: origin with its port and credentials: "
                                           "a valid origin"),
    "19-remove-then-add-no-origin.config": Row(0, ("N301:19", "N301:21"),
                                               "remove-then-add is fine; no Allow-Origin "
                                               "(the application sends it)"),
    "20-reverse-proxy-credentials.config": Row(0, ("N301:9", "N301:10", "N101:14"),
                                               "one origin with credentials before a proxy "
                                               "rule: clean"),
    "21-httpplatform-one-day-max-age.config": Row(
        1, ("N301:9", "N301:10", "N301:12", "W215:12"),
        "Max-Age 86400: more than Chromium honours"),
    "22-static-coop-coep.config": Row(0, ("N301:9", "N301:10"),
                                      "* beside the Cross-Origin-*-Policy headers: clean"),
    "23-aspnetcore-publish-no-cors.config": Row(0, ("W101:None",),
                                                "the ASP.NET Core publish output: no CORS"),
    "24-spa-rewrite-no-cors.config": Row(0, ("W101:None", "N101:5"),
                                         "a rewrite to the application, no CORS: notes only"),
}


def corpus_files() -> list[str]:
    return sorted(path.name for path in CORPUS.glob("*.config"))


def test_every_corpus_file_has_a_row() -> None:
    assert len(corpus_files()) >= 20  # issue 14: twenty or more
    assert corpus_files() == sorted(TABLE)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_corpus_verdict(name: str) -> None:
    row = TABLE[name]
    result = CliRunner().invoke(main, ["validate", "--strict", "--format", "json",
                                       str(CORPUS / name)])
    assert result.exit_code == row.strict_exit, (row.why, result.stdout)
    (entry,) = json.loads(result.stdout)["files"]
    assert tuple(f"{d['code']}:{d['line']}" for d in entry["diagnostics"]) == row.codes, row.why
    # without --strict only errors fail (contract C3: warnings and notes never do)
    plain = CliRunner().invoke(main, ["validate", str(CORPUS / name)])
    errors = any(code.startswith("E") for code in row.codes)
    assert plain.exit_code == (1 if errors else 0), row.why


@pytest.mark.parametrize("name", sorted(TABLE))
def test_each_file_says_it_is_a_re_creation_and_what_it_models(name: str) -> None:
    text = (CORPUS / name).read_text(encoding="utf-8")
    head = text[:text.index("-->")]
    assert "a re-creation written for iiscors, not a copy" in head
    assert "It models the structure" in head and "See SOURCES.md" in head


def test_sources_describes_every_file() -> None:
    sources = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    for name in TABLE:
        assert f"`{name}`" in sources, name
    assert "re-creation" in sources and "verbatim" in sources


DOC_ROW = re.compile(r"^\| `(?P<name>[^`]+\.config)` \| (?P<exit>\d) \| (?P<codes>[^|]*) \|")


def test_the_docs_table_shows_the_verdicts() -> None:
    documented = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        match = DOC_ROW.match(line)
        if match:
            codes = tuple(code.strip() for code in match["codes"].split(",") if code.strip())
            documented[match["name"]] = (int(match["exit"]), codes)
    assert documented == {name: (row.strict_exit, tuple(code.replace(":None", "")
                                                        for code in row.codes))
                          for name, row in TABLE.items()}


def test_the_counts_the_docs_give() -> None:
    sources = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    known = re.findall(r"^\| A\d+ \|", sources, re.MULTILINE)
    searched = re.findall(r"^\| S\d+ \|", sources, re.MULTILINE)
    assert (len(known), len(searched)) == (25, 14)
    docs = DOCS.read_text(encoding="utf-8")
    assert f"lists the {len(known) + len(searched)} surveyed files" in docs
    assert f"holds {len(TABLE)} such files" in docs
    failing = sum(row.strict_exit for row in TABLE.values())
    assert f"of the {len(TABLE)}, {failing} fail `--strict`" in docs
    star_credentials = [name for name, row in TABLE.items()
                        if any(code.startswith("W301") for code in row.codes)]
    assert len(star_credentials) == 4 and "four send `Access-Control-Allow-Origin: *`" in docs
