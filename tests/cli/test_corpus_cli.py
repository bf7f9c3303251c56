"""Every real web.config of ../shared/corpus/webconfigs through ``iiscors validate``.

The table records, per file, the exit code, the diagnostics (code:line, in report order) and
why (SOURCES.tsv describes each file).  A new corpus file fails the test until it has a row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner

from iiscors.cli.main import main

from support import CORPUS

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}")


class Expected(NamedTuple):
    exit_code: int
    codes: tuple[str, ...]
    reason: str


TABLE: dict[str, Expected] = {
    "001.config": Expected(0, ("W219:4",), "IIS sample: failUnlistedOrigins with only an "
                           "allowed * rule, which can never refuse"),
    "002.config": Expected(0, ("W219:4",), "earlier revision of 001, same * + "
                           "failUnlistedOrigins"),
    "004.config": Expected(1, ("N101:16", "E204:46", "E201:46"), "<add header=\"OPTIONS\"/> "
                           "inside allowMethods: no method attribute, and header is unrecognized "
                           "there; its SPA <rewrite> is not interpreted (a note, contract C2)"),
    "005.config": Expected(0, ("W217:9",), "<cors enabled=\"true\" /> with no origin rules"),
    "006.config": Expected(0, (), "credentials on http://localhost:8080: a loopback origin, a "
                           "secure context, so W203 stays quiet; empty-bodied allowHeaders is "
                           "fine"),
    "008.config": Expected(0, ("W219:5",), "failUnlistedOrigins with only an allowed *"),
    "009.config": Expected(0, ("W219:4",), "failUnlistedOrigins with only an allowed *"),
    "010.config": Expected(0, ("W222:4", "W216:12", "W213:18"), "listed origins + http://* "
                           "denied under failUnlistedOrigins (the site's own origin is not "
                           "listed); allowAllRequestedHeaders with a list; OPTIONS in "
                           "allowMethods"),
    "011.config": Expected(0, ("W222:4", "W216:10"), "the Microsoft sample: http://* denied "
                           "under failUnlistedOrigins refuses an http: site's own forms; "
                           "allowAllRequestedHeaders with a header list"),
    "012.config": Expected(0, ("W222:4", "W216:10"), "re-indented copy of 011"),
    "013.config": Expected(0, ("W213:12",), "LibreSpeed: OPTIONS in allowMethods; the empty "
                           "<exposeHeaders> is fine"),
    "014.config": Expected(0, ("W213:12",), "older LibreSpeed revision; trailing spaces are "
                           "fine"),
    "015.config": Expected(0, (), "simplest walkthrough config: one * rule"),
    "016.config": Expected(0, (), "two exact origins (the misspelled domain cannot be known)"),
    "017.config": Expected(0, (), "Windows authentication + * rule: nothing wrong in <cors>"),
    "019.config": Expected(0, (), "one exact origin; .tbl is not a real TLD but is a valid "
                           "host"),
    "020.config": Expected(0, ("W101:None", "W102:6"), "not the IIS module: a custom <cors> "
                           "section directly under <configuration>"),
    "021.config": Expected(1, ("E102:22",), "ends with <configuration> instead of "
                           "</configuration>: not well-formed"),
    "023.config": Expected(0, ("W213:11",), "OPTIONS in allowMethods (https://localhost with "
                           "credentials is fine)"),
    "024.config": Expected(0, ("W213:13",), "OPTIONS in allowMethods"),
    "028.config": Expected(0, (), "single-quoted attributes, * with allowAllRequestedHeaders"),
    "029.config": Expected(0, ("W219:3",), "FileMaker: failUnlistedOrigins with only an allowed "
                           "*"),
    "030.config": Expected(0, (), "credentials on http://localhost:4200: loopback, no W203"),
    "031.config": Expected(0, ("W206:4",), "origin=\"localhost:3000\" has no scheme: never "
                           "matches"),
    "033.config": Expected(0, (), "two exact https origins"),
    "036.config": Expected(0, ("W201:5",), "origin=\"*\" with allowCredentials=\"true\""),
}


def corpus_files() -> list[str]:
    return sorted(path.name for path in CORPUS.glob("*.config"))


def test_every_corpus_file_has_a_row() -> None:
    assert corpus_files() == sorted(TABLE)


def codes_of(stdout: str) -> dict[str, tuple[str, ...]]:
    document = json.loads(stdout)
    return {Path(f["file"]).name: tuple(f"{d['code']}:{d['line']}" for d in f["diagnostics"])
            for f in document["files"]}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_corpus_file(name: str) -> None:
    expected = TABLE[name]
    result = CliRunner().invoke(main, ["validate", "--format", "json", str(CORPUS / name)])
    assert result.exit_code == expected.exit_code, (expected.reason, result.stdout)
    assert codes_of(result.stdout)[name] == expected.codes, expected.reason
    strict = CliRunner().invoke(main, ["validate", "--strict", str(CORPUS / name)])
    assert strict.exit_code == (1 if expected.codes else 0), expected.reason


def test_whole_corpus_in_one_process() -> None:
    result = CliRunner().invoke(main, ["validate", "--format", "json", str(CORPUS)])
    assert result.exit_code == 1  # 004 and 021 have errors
    assert codes_of(result.stdout) == {name: row.codes for name, row in TABLE.items()}
