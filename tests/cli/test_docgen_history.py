"""docs/diagnostics.md documents each code's severity and history (issue 14, contract C3), and
the examples it says come from the corpus name corpus files that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from iiscors.cli.docgen import INTRO, NOTES, render
from iiscors.config.diagnostics import CATALOGUE, UNRELEASED, Severity

ROOT = Path(__file__).resolve().parents[2]
PAGE = render()


def entry(code: str) -> str:
    start = PAGE.index(f"\n### {code}\n")
    end = PAGE.find("\n### ", start + 1)
    return PAGE[start:end if end >= 0 else len(PAGE)]


@pytest.mark.parametrize("code", list(CATALOGUE))
def test_each_entry_gives_severity_and_history(code: str) -> None:
    info = CATALOGUE[code]
    text = entry(code)
    assert f"**{info.severity.value}**:" in text
    assert f"| [{code}](#{code.lower()}) | {info.severity.value} |" in PAGE
    history = text[text.index("History:"):]
    assert f"- {info.added}: added." in history
    assert history.count("\n- ") == 1 + len(info.changed)


def test_w101_history_says_it_became_a_note() -> None:
    assert CATALOGUE["W101"].severity is Severity.NOTE
    assert f"- {UNRELEASED}: a note, no longer a warning" in entry("W101")


def test_the_intro_explains_notes_and_kept_codes() -> None:
    assert "**Notes**" in INTRO and "never change behaviour nor an exit code" in INTRO
    assert "A code keeps its letter when its severity changes" in INTRO


def test_new_codes_are_marked_unreleased() -> None:
    for code in ("N101", "N301", "N302", *(f"W30{i}" for i in range(1, 10))):
        assert CATALOGUE[code].added == UNRELEASED, code


def test_corpus_files_named_by_the_notes_exist() -> None:
    named = {path for note in NOTES.values()
             for path in re.findall(r"tests/corpus/customheaders/[\w.-]+\.(?:config|md)", note)}
    assert len(named) >= 6
    for path in named:
        assert (ROOT / path).is_file(), path
