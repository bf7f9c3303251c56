"""A diagnostic renders itself safe to print or log (issue 12 item 10): ``str(diagnostic)`` is
what ``iiscors serve``, the playground and the hot-reload log write, and it quotes what a
stranger wrote (attribute values, file names)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from iiscors.config.diagnostics import make
from iiscors.config.load import check_config
from iiscors.config.text import line, visible
from iiscors.serving.serve import serve

HOSTILE = ('<?xml version="1.0"?>\n<configuration><system.webServer>'
           '<cors enabled="&#10;::error::pwned&#x9b;31m&#x202e;"/>'
           '</system.webServer></configuration>\n')


def test_str_escapes_the_message_and_the_file() -> None:
    d = make("E206", "Invalid boolean value '\n::error::pwned\x1b]0;t\x07'", "a\nb\u202e.config",
             1, 2)
    text = str(d)
    assert "\n" not in text and "\x1b" not in text and "\u202e" not in text
    assert "\\x0a::error::pwned\\x1b]0;t\\x07" in text and text.startswith("a\\x0ab\\u202e")


def test_escaping_is_idempotent() -> None:
    for raw in ("::x", "##[error]x", "a\x1bb", "\udcff", "plain"):
        assert line(line(raw)) == line(raw) and visible(visible(raw)) == visible(raw)


def test_a_hostile_value_reaches_serve_output_escaped(tmp_path: Path) -> None:
    config = tmp_path / "web.config"
    config.write_text(HOSTILE, encoding="utf-8")
    result = CliRunner().invoke(serve, [str(config), "--port", "0"])
    assert result.exit_code == 1
    assert "E206" in result.output
    assert "\x9b" not in result.output and "\u202e" not in result.output
    assert not any(row.lstrip().startswith("::") for row in result.output.splitlines())


def test_the_reload_log_is_escaped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    diagnostics = check_config(HOSTILE.encode())
    with caplog.at_level(logging.WARNING, logger="iiscors"):
        for d in diagnostics:
            logging.getLogger("iiscors").warning("iiscors: %s", d)  # as iiscors.reload logs
    assert caplog.records and all("\n" not in r.getMessage() and "\x9b" not in r.getMessage()
                                  for r in caplog.records)
