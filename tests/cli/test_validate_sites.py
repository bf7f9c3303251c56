"""``iiscors validate DIR`` judges a site as the runtime loads it (contract E1, issue 13).

A directory is searched for sites: each top-most web.config starts one, and the site is judged
with every sub-directory's web.config merged (:func:`iiscors.config.site.analyse_site`, what the
middleware and ``serve --root`` load).  A cross-file error is located in the lower file and names
the upper file's place as related information, in every output format.  ``--each-file`` keeps
the older judgement, every file on its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from iiscors.cli.main import main
from iiscors.config.site import analyse_site

ROOT = """<configuration><system.webServer>
  <cors enabled="true">
    <add origin="https://www.contoso.com" />
  </cors>
</system.webServer></configuration>
"""
API = """<configuration><system.webServer>
  <cors>
    <add origin="https://partner.fabrikam.com" />
  </cors>
</system.webServer></configuration>
"""
ADMIN = """<configuration><system.webServer>
  <cors failUnlistedOrigins="true">
    <add origin="https://admin.contoso.com" />
  </cors>
</system.webServer></configuration>
"""
#: api/web.config adding the root's origin again: the runtime refuses it (E302)
API_AGAIN = """<configuration><system.webServer>
  <cors>
    <add origin="https://www.contoso.com" />
  </cors>
</system.webServer></configuration>
"""


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def validate(*args: str) -> Result:
    return CliRunner().invoke(main, ["validate", *args])


def diagnostics(result: Result) -> list[dict[str, Any]]:
    return [d for f in json.loads(result.stdout)["files"] for d in f["diagnostics"]]


def codes(result: Result, root: Path) -> list[tuple[str, str]]:
    return [(Path(d["file"]).relative_to(root).as_posix(), d["code"])
            for d in diagnostics(result)]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The issue's first tree: the root enables CORS, two nested files add origins."""
    return tree(tmp_path / "site", {"web.config": ROOT, "api/web.config": API,
                                    "api/admin/web.config": ADMIN})


@pytest.fixture
def site2(tmp_path: Path) -> Path:
    """The issue's second tree: api/web.config adds the root's origin again."""
    return tree(tmp_path / "site2", {"web.config": ROOT, "api/web.config": API_AGAIN})


def test_a_child_file_is_not_judged_as_if_it_stood_alone(site: Path) -> None:
    result = validate("-f", "json", str(site))
    assert result.exit_code == 0, result.stdout
    # The root enables CORS, so the child files' rules apply: no W218 ("CORS is not enabled").
    assert "W218" not in [code for _, code in codes(result, site)]
    assert [Path(f["file"]).relative_to(site).as_posix()
            for f in json.loads(result.stdout)["files"]] == [
        "web.config", "api/web.config", "api/admin/web.config"]


def test_each_file_judges_every_file_on_its_own(site: Path) -> None:
    result = validate("--each-file", "-f", "json", str(site))
    assert ("api/web.config", "W218") in codes(result, site)
    assert ("api/admin/web.config", "W218") in codes(result, site)


def test_a_duplicate_across_files_fails_validate_as_it_fails_the_runtime(site2: Path) -> None:
    result = validate("-f", "json", str(site2))
    assert result.exit_code == 1, result.stdout
    [found] = [d for d in diagnostics(result) if d["code"] == "E302"]
    # Located in the lower file, at the repeated origin; the upper file's entry is related.
    assert (Path(found["file"]).relative_to(site2).as_posix(), found["line"],
            found["column"]) == ("api/web.config", 3, 10)
    assert found["related"] == [{"note": "first added at", "file": str(site2 / "web.config"),
                                 "line": 3, "column": 10}]
    # Exactly what loading the site reports.
    loaded = analyse_site(site2)
    assert [(d["code"], d["file"], d["line"]) for d in diagnostics(result)] == [
        (d.code, d.file, d.line) for d in loaded.diagnostics]
    assert validate("--each-file", str(site2)).exit_code == 0  # each file alone is fine


def test_the_related_place_in_text_github_and_sarif(site2: Path) -> None:
    upper = f"{site2 / 'web.config'}:3:10"
    text = validate(str(site2)).stdout.splitlines()
    error = next(i for i, line in enumerate(text) if " error E302 " in line)
    assert text[error].startswith(f"{site2 / 'api' / 'web.config'}:3:10: error E302 ")
    assert text[error + 1] == f"    note: first added at {upper}"
    github = validate("-f", "github", str(site2)).stdout
    assert f"%0ANote: first added at {upper}" in github
    sarif = json.loads(validate("-f", "sarif", str(site2)).stdout)
    [result] = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "E302"]
    assert result["relatedLocations"] == [{
        "id": 1, "message": {"text": "first added at"},
        "physicalLocation": {"artifactLocation": {"uri": (site2 / "web.config").as_uri()},
                             "region": {"startLine": 3, "startColumn": 10}}}]


def test_sites_side_by_side_are_each_judged_as_a_site(tmp_path: Path) -> None:
    # No web.config above them: a/ and b/ each start a site; b/api adds b's origin again.
    tree(tmp_path, {"a/web.config": ROOT, "a/api/web.config": API,
                    "b/web.config": ROOT, "b/api/web.config": API_AGAIN,
                    "b/Web.Release.config": ROOT})
    result = validate("-f", "json", str(tmp_path))
    assert result.exit_code == 1
    assert codes(result, tmp_path) == [("b/api/web.config", "E302")]
    files = [Path(f["file"]).relative_to(tmp_path).as_posix()
             for f in json.loads(result.stdout)["files"]]
    # Each site's files (root first), and the transform file on its own (IIS never reads it).
    assert files == ["a/web.config", "a/api/web.config", "b/web.config", "b/api/web.config",
                     "b/Web.Release.config"]


def test_build_output_below_a_site_is_part_of_it_as_the_runtime_reads_it(tmp_path: Path
                                                                         ) -> None:
    # The middleware reads every sub-directory's web.config, bin/ included: so does validate.
    # Above any site, bin/ and node_modules/ are not searched for sites.
    tree(tmp_path, {"site/web.config": ROOT, "site/bin/web.config": API_AGAIN,
                    "bin/web.config": "<configuration><oops/></configuration>"})
    result = validate("-f", "json", str(tmp_path))
    assert codes(result, tmp_path) == [("site/bin/web.config", "E302")]


def test_a_named_file_is_still_judged_on_its_own(site: Path) -> None:
    result = validate("-f", "json", str(site / "api" / "web.config"))
    assert [d["code"] for d in diagnostics(result)] == ["W218"]


def test_explain_takes_a_site_directory(site: Path) -> None:
    result = CliRunner().invoke(main, ["explain", str(site), "--path", "/api/admin/x",
                                       "--origin", "https://partner.fabrikam.com",
                                       "-f", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    # /api/admin inherits /api's rule and adds failUnlistedOrigins: the partner is allowed.
    assert (document["scope"], document["outcome"]) == ("/api/admin", "allowed")
    assert document["rule"]["file"] == str(site / "api" / "web.config")
