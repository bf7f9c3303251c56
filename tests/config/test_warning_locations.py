"""Every warning points at what it talks about (issue 13 item 8).

For every sample, every corpus file and a file that raises every located lint warning, each
warning's line and column must be the start of the attribute (``name=``) or the element
(``<name``) its code talks about: W222 for ``/api/admin`` of ``location-scoping.config`` used to
point at a ``<cors>`` without ``failUnlistedOrigins``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from iiscors import Diagnostic, check_config

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_configs"
CORPUS = ROOT.parent / "shared" / "corpus" / "webconfigs"

#: What each located warning talks about: attribute names (``name=``) or elements (``<name``).
TALKS_ABOUT: dict[str, tuple[str, ...]] = {
    "W102": ("<cors",),
    "W103": ("origin=", "header=", "method=", "name="),
    **dict.fromkeys(("W201", "W202", "W203"), ("allowCredentials=",)),
    **dict.fromkeys(("W204", "W205", "W206", "W207", "W208", "W209", "W210", "W211", "W212",
                     "W223"), ("origin=",)),
    "W213": ("method=",),
    "W214": ("header=",),
    "W215": ("maxAge=",),
    "W216": ("header=",),  # the first entry of the list that a preflight then ignores
    "W217": ("<cors",),
    "W218": ("<cors",),
    "W219": ("failUnlistedOrigins=",),
    "W220": ("name=",),
    "W221": ("name=", "<clear"),  # the <remove name="CorsModule"/> or the <clear/>
    "W222": ("failUnlistedOrigins=",),
}
#: The same, for what other sections raise (their every-code file is tests/config/
#: test_headerlint.py's): customHeaders lint (C3) at the <add>, on its name attribute, and N101
#: at the file's first <rewrite> section (C2).
OTHER_SECTIONS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("W301", "W302", "W303", "W304", "W305", "W306", "W307", "W308", "W309",
                     "N301", "N302"), ("name=",)),
    "N101": ("<rewrite",),
}
#: Warnings about a whole file or a search, placed on no attribute or element.
WHOLE_FILE = {"W101", "W104"}

#: A file that raises every located lint warning, W222 in a scope that sets nothing of its own.
EVERY_WARNING = """<configuration>
  <cors />
  <system.webServer>
    <cors enabled="true" failUnlistedOrigins="true">
      <add origin="*" allowCredentials="true" />
      <add origin="https://*" allowCredentials="true" />
      <add origin="http://app.example" allowCredentials="true" maxAge="86400" />
      <add origin="https://App.example" />
      <add origin="https://path.example/" />
      <add origin="noscheme.example" />
      <add origin="https://{domain}" />
      <add origin="https://\\*.example.com" />
      <add origin="https://api-*.example.com" />
      <add origin="https://port.example:443" />
      <add origin="null" />
      <add origin="file://" />
      <add origin="https://exa mple.com" />
      <add origin="https://lists.example">
        <allowHeaders allowAllRequestedHeaders="true"><add header="x-a" /></allowHeaders>
        <allowMethods><add method="OPTIONS" /></allowMethods>
        <exposeHeaders><add header="Access-Control-Allow-Origin" /></exposeHeaders>
      </add>
      <remove origin="https://never.example" />
    </cors>
    <httpProtocol><customHeaders>
      <add name="Access-Control-Allow-Origin" value="*" />
    </customHeaders></httpProtocol>
  </system.webServer>
  <location path="empty">
    <system.webServer><cors><clear /></cors></system.webServer>
  </location>
  <location path="off">
    <system.webServer>
      <cors enabled="false"><add origin="https://off.example" /></cors>
    </system.webServer>
  </location>
  <location path="nomodule">
    <system.webServer>
      <modules><remove name="CorsModule" /></modules>
    </system.webServer>
  </location>
  <location path="listed">
    <system.webServer>
      <cors failUnlistedOrigins="true"><clear /><add origin="https://one.example" /></cors>
    </system.webServer>
  </location>
  <location path="listed/deeper">
    <system.webServer>
      <cors><add origin="https://two.example" /></cors>
    </system.webServer>
  </location>
</configuration>
"""


def files() -> list[Path]:
    found = sorted(SAMPLES.glob("*.config")) + sorted((SAMPLES / "invalid").glob("*.config"))
    return found + (sorted(CORPUS.glob("*.config")) if CORPUS.is_dir() else [])


def misplaced(diagnostics: list[Diagnostic], text: str) -> list[str]:
    """Every warning whose place does not start with what its code talks about."""
    lines = text.splitlines()
    wrong = []
    for d in diagnostics:
        if d.is_error or d.code in WHOLE_FILE:
            continue
        assert d.line is not None and d.column is not None, d
        at = lines[d.line - 1][d.column - 1:]
        if not at.startswith({**TALKS_ABOUT, **OTHER_SECTIONS}[d.code]):
            wrong.append(f"{d}: points at {at[:40]!r}")
    return wrong


@pytest.mark.parametrize("path", files(), ids=lambda path: path.name)
def test_every_warning_of_the_samples_and_corpus_points_at_its_subject(path: Path) -> None:
    assert misplaced(check_config(path), path.read_text(encoding="utf-8-sig")) == []


def test_every_located_warning_code_points_at_its_subject() -> None:
    diagnostics = check_config(EVERY_WARNING.encode(), name="every.config")
    codes = {d.code for d in diagnostics}
    assert set(TALKS_ABOUT) <= codes, set(TALKS_ABOUT) - codes  # the file raises them all
    assert misplaced(diagnostics, EVERY_WARNING) == []


def test_w222_of_an_inheriting_scope_points_at_the_inherited_attribute() -> None:
    path = SAMPLES / "location-scoping.config"
    w222 = [(d.line, d.column) for d in check_config(path) if d.code == "W222"]
    assert w222 == [(13, 13)]  # api's failUnlistedOrigins, which /api/admin inherits
