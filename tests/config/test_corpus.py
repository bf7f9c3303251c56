"""Every real web.config of ../shared/corpus/webconfigs loads, or fails with ConfigError whose
diagnostics point at the right line — never another exception.  (The CLI's view of the same
files, warnings included, is in tests/cli/test_corpus_cli.py.)
"""

from __future__ import annotations

import pytest

from iiscors import ConfigError, CorsMiddleware, CorsRequest, load_config

from support import CORPUS, Recorder, call

#: file → (error codes with lines, or [] when it loads; why)
EXPECTED: dict[str, tuple[list[tuple[str, int | None]], str]] = {
    "001.config": ([], "IIS PM sample: * with allowAllRequestedHeaders"),
    "002.config": ([], "earlier revision of 001: bare * rule"),
    "004.config": ([("E201", 46), ("E204", 46)],
                   "<add header=\"OPTIONS\"/> inside <allowMethods>: 'header' is not an "
                   "attribute of a method entry and 'method' is missing; IIS answers 500.19"),
    "005.config": ([], "enabled with no rules inside <location path=\".\">"),
    "006.config": ([], "credentials for http://localhost:8080, empty-bodied allowHeaders"),
    "008.config": ([], "location path=\".\", * with methods, failUnlistedOrigins"),
    "009.config": ([], "minimal * with allowAllRequestedHeaders"),
    "010.config": ([], "copy of the reference sample with comments inside the section"),
    "011.config": ([], "the canonical Microsoft sample"),
    "012.config": ([], "re-indented copy of 011"),
    "013.config": ([], "LibreSpeed: empty <exposeHeaders>, OPTIONS listed"),
    "014.config": ([], "013 with trailing spaces after start tags"),
    "015.config": ([], "walkthrough example 1"),
    "016.config": ([], "walkthrough example 2 (misspelled domain, valid syntax)"),
    "017.config": ([], "walkthrough example 3, Windows authentication"),
    "019.config": ([], "leading spaces before <configuration>, no XML declaration"),
    "020.config": ([], "a custom non-IIS <cors> at the root: only warnings"),
    "021.config": ([("E102", 22)], "not well-formed: the last </configuration> is written "
                   "<configuration>, so the document never ends"),
    "023.config": ([], "credentials for https://localhost:3000, explicit lists"),
    "024.config": ([], "* with explicit header and method lists"),
    "028.config": ([], "single-quoted attributes"),
    "029.config": ([], "* with PATCH, failUnlistedOrigins"),
    "030.config": ([], "credentials for http://localhost:4200"),
    "031.config": ([], "origin without a scheme: valid syntax, never matches (lint warns)"),
    "033.config": ([], "two exact Azure origins"),
    "036.config": ([], "* with allowCredentials inside <location path=\".\">"),
}


def test_the_table_covers_the_whole_corpus() -> None:
    assert CORPUS.is_dir(), f"the corpus is expected beside the clone: {CORPUS}"
    assert sorted(p.name for p in CORPUS.glob("*.config")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file(name: str) -> None:
    errors, _why = EXPECTED[name]
    path = CORPUS / name
    if not errors:
        config = load_config(path)
        assert not [d for d in config.diagnostics if d.is_error]
        # It really works as middleware too.
        response = call(CorsMiddleware(Recorder(), config), headers={"Origin": "https://x.test"})
        assert response.status in (200, 403)
        return
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    found = sorted((d.code, d.line) for d in raised.value.diagnostics if d.is_error)
    assert found == sorted(errors)
    assert all(d.file == str(path) for d in raised.value.diagnostics)


def test_reference_sample_decisions_match_the_documentation() -> None:
    """011 is Microsoft's own sample; the reference describes what it does."""
    config = load_config(CORPUS / "011.config")
    allowed = config.evaluate(CorsRequest("OPTIONS", "https://www.microsoft.com", "DELETE"))
    assert (allowed.status, dict(allowed.headers)["Access-Control-Max-Age"]) == (204, "120")
    assert config.evaluate(CorsRequest("GET", "http://www.microsoft.com")).status == 403
    assert config.evaluate(CorsRequest("GET", "https://example.org")).status is None
