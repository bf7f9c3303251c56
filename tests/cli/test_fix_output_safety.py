"""``iiscors fix`` prints a stranger's file as a diff into terminals and CI logs: nothing in the
lines it shows may drive them (issue 12 item 10), while tabs and CR LF endings are kept so the
diff still applies."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from iiscors.cli.fix import fix
from iiscors.config.text import visible_source

FILE = ('<?xml version="1.0" encoding="utf-8"?>\r\n<configuration>\r\n<system.webServer>\r\n'
        '<cors enabled="true">\r\n'
        '\t<!-- ##[error]forged \u009b31m \u202e -->\r\n'
        '\t<add origin="https://App.Example.com" />\r\n'
        '</cors>\r\n</system.webServer>\r\n</configuration>\r\n')


def test_the_dry_run_diff_cannot_drive_a_terminal_or_a_ci_log(tmp_path: Path) -> None:
    config = tmp_path / "web.config"
    config.write_bytes(FILE.encode("utf-8"))
    result = CliRunner().invoke(fix, [str(config)])
    assert result.exit_code == 1, result.output
    assert "+\t<add origin=\"https://app.example.com\" />" in result.stdout  # the fix
    assert "##[" not in result.stdout and "\u009b" not in result.stdout
    assert "\u202e" not in result.stdout
    assert "##\\x5berror]forged \\x9b31m \\u202e" in result.stdout


def test_tabs_and_line_endings_are_kept() -> None:
    assert visible_source("\t<add/>\r\n") == "\t<add/>\r\n"
    assert visible_source("a\x1bb\n") == "a\\x1bb\n"
