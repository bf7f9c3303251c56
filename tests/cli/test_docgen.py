"""docs/diagnostics.md is generated from the catalogue: it must be current and complete."""

from __future__ import annotations

from pathlib import Path

from iiscors.cli import docgen
from iiscors.config.diagnostics import CATALOGUE

from support import ROOT

PAGE = ROOT / "docs" / "diagnostics.md"


def test_page_is_current() -> None:
    # Fails when the catalogue changed without `python -m iiscors.cli.docgen`.
    assert PAGE.read_text(encoding="utf-8") == docgen.render(), \
        "docs/diagnostics.md is stale: run python -m iiscors.cli.docgen"


def test_every_code_has_an_entry_with_example_and_fix() -> None:
    text = docgen.render()
    for code in CATALOGUE:
        section = text.split(f"\n### {code}\n", 1)[1].split("\n### ", 1)[0]
        assert "Example:" in section and "Fix: " in section, code
        assert f"[{code}](#{code.lower()})" in text


def test_check_mode(tmp_path: Path) -> None:
    stale = tmp_path / "diagnostics.md"
    stale.write_text("old\n", encoding="utf-8")
    assert docgen.main(["--check", "--output", str(stale)]) == 1
    assert docgen.main(["--output", str(stale)]) == 0
    assert docgen.main(["--check", "--output", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == docgen.render()
