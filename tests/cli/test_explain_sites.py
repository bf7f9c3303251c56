"""``iiscors explain DIR --path P`` (issue 13 item 6): the decision for that path in the site the
middleware loads, naming the file and line of every level that contributed (contract A9, E1),
and, under an unusable scope, the errors that make it so (E6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from iiscors.cli.main import main

ROOT = """<configuration>
  <system.webServer>
    <cors enabled="true"><add origin="https://a.example" /></cors>
  </system.webServer>
  <location path="api">
    <system.webServer>
      <httpProtocol><customHeaders><add name="X-Api" value="1" /></customHeaders></httpProtocol>
    </system.webServer>
  </location>
  <location path="other">
    <system.webServer>
      <cors enabled="false" />
    </system.webServer>
  </location>
</configuration>
"""
API = """<configuration>
  <system.webServer>
    <cors failUnlistedOrigins="true" />
    <modules><remove name="WebDAVModule" /></modules>
  </system.webServer>
</configuration>
"""
BROKEN = """<configuration>
  <system.webServer>
    <cors enabled="yes" />
  </system.webServer>
</configuration>
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "api" / "v1").mkdir(parents=True)
    (tmp_path / "web.config").write_text(ROOT, encoding="utf-8")
    (tmp_path / "api" / "Web.config").write_text(API, encoding="utf-8")
    (tmp_path / "api" / "v1" / "web.config").write_text(BROKEN, encoding="utf-8")
    return tmp_path


def explain(*args: str) -> Result:
    return CliRunner().invoke(main, ["explain", *args])


def test_text_names_every_contributing_level_in_merge_order(site: Path) -> None:
    result = explain(str(site), "--path", "/API/items", "--origin", "https://a.example")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = lines.index(f"levels:   <cors> at {site / 'web.config'}:3")
    assert lines[start - 1] == "scope:    /api"
    assert lines[start + 1:start + 4] == [
        f'          <customHeaders> in <location path="api"> at {site / "web.config"}:7',
        f"          <cors> at {site / 'api' / 'Web.config'}:3",
        f"          <modules> at {site / 'api' / 'Web.config'}:4",
    ]
    assert lines[start + 4].startswith("kind:")  # the sibling <location path="other"> is not
    assert "outcome:  allowed" in result.stdout


def test_json_lists_the_levels_with_their_places(site: Path) -> None:
    result = explain(str(site), "--path", "/other/x", "--origin", "https://a.example",
                     "-f", "json")
    document: dict[str, Any] = json.loads(result.stdout)
    assert [(level["section"], level["location"], Path(level["file"]).name, level["line"])
            for level in document["levels"]] == [("cors", None, "web.config", 3),
                                                 ("cors", "other", "web.config", 12)]
    assert document["outcome"] == "passthrough"


def test_an_unusable_path_names_the_errors_that_break_it(site: Path) -> None:
    result = explain(str(site), "--path", "/api/v1/x", "--origin", "https://a.example")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    [errors] = [text for text in lines if text.startswith("errors:")]
    assert errors == (f"errors:   {site / 'api' / 'v1' / 'web.config'}:3:11: error E206 "
                      "Invalid boolean value 'yes' for attribute 'enabled' (true or false)")
    assert "outcome:  unusable: the middleware answers 500 itself; the app is not called" in lines
    # A path outside the broken scope shows no errors line.
    other = explain(str(site), "--path", "/api", "--origin", "https://a.example")
    assert not [text for text in other.stdout.splitlines() if text.startswith("errors:")]


def test_a_single_file_names_its_root_and_locations(tmp_path: Path) -> None:
    config = tmp_path / "web.config"
    config.write_text(ROOT, encoding="utf-8")
    result = explain(str(config), "--path", "/api", "--origin", "https://a.example",
                     "-f", "json")
    assert [(level["section"], level["line"]) for level in
            json.loads(result.stdout)["levels"]] == [("cors", 3), ("customHeaders", 7)]
