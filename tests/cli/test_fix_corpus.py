"""What ``iiscors fix --write`` leaves behind, on every corpus file it has something to fix.

For each real web.config of ../shared/corpus/webconfigs and sample_configs with a fixable
diagnostic (and for a few synthetic files covering the codes the corpus lacks):

- the file is copied, ``iiscors fix --write`` repairs the copy (exit 0);
- ``check_config`` on the copy reports no error and none of what was fixed, and nothing new;
- the answers before and after, on a set of requests built from both files (every origin
  written, lower- and upper-case variants, wildcard probes, unlisted origins, every scope, simple
  requests and preflights), are the same everywhere except where a fix's announced
  :class:`~iiscors.cli.fixes.model.Effect` says they change (:func:`unexplained_differences`,
  written as one helper so that ``iiscors diff`` can take its place when it exists).
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from iiscors.cli.fixes.model import Effect
from iiscors.cli.fixes.planner import plan_file
from iiscors.cli.main import main
from iiscors.config.diagnostics import CATALOGUE
from iiscors.config.load import Config, check_config, load_config
from iiscors.config.loader import DEFAULT_MAX_BYTES
from iiscors.policy.core import CorsRequest, Decision
from iiscors.policy.origins import OriginMatcher

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_configs"
CORPUS = ROOT.parent / "shared" / "corpus" / "webconfigs"

#: Codes the corpus has no example of get one here (each line is one file's <cors> body).
SYNTHETIC = {
    "origins.config": '<add origin="https://App.Example" /><add origin="https://b.example/" />'
                      '<add origin="https://c.example:443" allowCredentials="true" />'
                      '<add origin="http://Cred.example" allowCredentials="true" />'
                      '<add origin="https://*.D.example" /><add origin="https://e.example" />',
    "lists.config": '<add origin="https://a.example"><allowMethods><add method="GET" />'
                    '<remove method="PUT" /><add method="OPTIONS" /></allowMethods>'
                    '<allowHeaders><remove header="x-gone" /></allowHeaders></add>'
                    '<add origin="*"><allowMethods><add method="options" /></allowMethods></add>',
    "duplicates.config": '<add origin="https://a.example" /><add origin="https://a.example" />'
                         '<add origin="https://B.example" />',
    "credentials.config": '<add origin="*" allowCredentials="true" maxAge="60" />',
}


def synthetic(root: Path) -> list[Path]:
    paths = []
    for name, body in SYNTHETIC.items():
        path = root / name
        path.write_text("<configuration>\r\n <system.webServer>\r\n  <cors enabled='true'>\r\n"
                        f"   {body}\r\n  </cors>\r\n </system.webServer>\r\n"
                        "</configuration>\r\n", encoding="utf-8")
        paths.append(path)
    return paths


def fixable_codes(path: Path) -> set[str]:
    """The fixable warnings of a file (a file with errors has none: lint needs a valid one)."""
    return {d.code for d in check_config(path) if CATALOGUE[d.code].fixable and not d.is_error}


def every_file() -> list[Path]:
    return sorted(CORPUS.glob("*.config")) + sorted(SAMPLES.rglob("*.config"))


def corpus_files() -> list[Path]:
    return [p for p in every_file() if fixable_codes(p)]


# -- the comparison --------------------------------------------------------------------------

def _variants(origin: str) -> Iterator[str]:
    yield from (origin, origin.lower(), origin.upper(), origin.rstrip("/"), origin + "/")
    yield from (origin.replace("*.", "x."), origin.replace("*.", "a.b."), origin.replace("*", "x"))
    yield from (origin.replace("https:", "http:"), origin.replace("http:", "https:"))
    for port in (":443", ":80"):
        yield origin.replace(port, "")
        yield origin + port


def requests_for(configs: Iterable[Config]) -> list[CorsRequest]:
    """Requests that tell the configurations apart: every origin either file names, with
    variants, unlisted ones, in every scope, as simple requests and preflights."""
    origins: set[str | None] = {None, "null", "https://unlisted.example", "http://evil.example"}
    paths = {"/"}
    for config in configs:
        for path, section in config.scopes.items():
            paths.add("/" + "/".join((*path, "x")))
            for rule in section.rules:
                origins.update(_variants(rule.origin))
    requests = []
    for origin in sorted(origins, key=str):
        for path in sorted(paths):
            requests.extend([
                CorsRequest("GET", origin, path=path),
                CorsRequest("OPTIONS", origin, "PUT", "Content-Type, X-Custom", path=path),
                CorsRequest("OPTIONS", origin, "OPTIONS", path=path),
                CorsRequest("OPTIONS", origin, path=path),
            ])
    return requests


def _without(headers: Iterable[tuple[str, str]], dropped: set[tuple[str, str]]
             ) -> tuple[tuple[str, str], ...]:
    """Headers with every announced dropped value taken out (a header left empty goes)."""
    kept = []
    for name, value in headers:
        tokens = [t.strip() for t in value.split(",")]
        left = [t for t in tokens if (name.lower(), t.lower()) not in dropped]
        if left:
            kept.append((name, ",".join(left) if len(left) < len(tokens) else value))
    return tuple(kept)


def _answer(decision: Decision, dropped: set[tuple[str, str]]) -> tuple[object, ...]:
    return (decision.kind, decision.outcome, decision.status,
            _without(decision.headers, dropped), decision.why, decision.origin)


def unexplained_differences(before: Config, after: Config, effects: Iterable[Effect]
                            ) -> list[str]:
    """Requests answered differently before and after that no announced effect explains."""
    effects = list(effects)
    dropped = {(e.dropped[0].lower(), e.dropped[1].lower()) for e in effects if e.dropped}
    matching: OriginMatcher[bool] = OriginMatcher((e.matches, True) for e in effects
                                                  if e.matches is not None)
    unmatched: OriginMatcher[bool] = OriginMatcher((e.unmatched, True) for e in effects
                                                   if e.unmatched is not None)
    found = []
    for request in requests_for([before, after]):
        old, new = before.evaluate(request), after.evaluate(request)
        if _answer(old, dropped) == _answer(new, dropped):
            continue
        origin = request.origin
        if origin is not None and (matching.match(origin)[0] or unmatched.match(origin)[0]):
            continue  # the announced change: this origin is now matched (or no longer)
        found.append(f"{request}: {old} -> {new}")
    return found


# -- the round trip ----------------------------------------------------------------------------

def _round_trip(original: Path, tmp_path: Path) -> None:
    copy = tmp_path / original.name
    shutil.copyfile(original, copy)
    data = copy.read_bytes()
    plan = plan_file(data, str(copy), DEFAULT_MAX_BYTES)
    assert plan.refused is None and plan.changed and plan.source is not None, plan
    result = CliRunner().invoke(main, ["fix", "--write", str(copy)])
    assert result.exit_code == 0, result.stderr
    assert copy.read_bytes() == plan.source.encode(plan.text)

    before, after = check_config(data, name="x"), check_config(copy, name="x")
    assert not [d for d in after if d.is_error], after
    expected = Counter(d.code for d in before)
    expected.subtract(code for fix in plan.fixes for code in fix.codes)
    left = Counter(d.code for d in after)
    assert all(left[code] <= max(expected[code], 0) for code in left), (before, after)
    for fixed in {code for fix in plan.fixes for code in fix.codes}:
        assert left[fixed] == max(expected[fixed], 0), fixed

    effects = [fix.effect for fix in plan.fixes if fix.effect is not None]
    if any(d.is_error for d in before):
        assert all(e.loadable for e in effects if e.loadable)  # before had no behaviour
        return
    differences = unexplained_differences(load_config(data), load_config(copy), effects)
    assert not differences, "\n".join(differences[:5])


@pytest.mark.parametrize("original", corpus_files(), ids=lambda p: p.name)
def test_corpus_round_trip(original: Path, tmp_path: Path) -> None:
    _round_trip(original, tmp_path)


def test_the_corpus_has_fixable_files() -> None:
    # the corpus test above is not vacuous: real files with W213 and W201 are in it
    found = {code for path in corpus_files() for code in fixable_codes(path)}
    assert {"W201", "W213"} <= found


@pytest.mark.parametrize("original", every_file(), ids=lambda p: p.name)
def test_corpus_files_with_errors_are_refused(original: Path) -> None:
    # and only those: a loadable file is never refused
    data = original.read_bytes()
    plan = plan_file(data, original.name, DEFAULT_MAX_BYTES)
    errors = [d for d in check_config(data) if d.is_error]
    assert (plan.refused is not None) == bool(errors), plan.refused


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_synthetic_round_trip(name: str, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    path = next(p for p in synthetic(source) if p.name == name)
    work = tmp_path / "work"
    work.mkdir()
    _round_trip(path, work)


def test_every_fixable_code_is_fixed_in_a_round_trip(tmp_path: Path) -> None:
    fixed = set()
    for path in [*corpus_files(), *synthetic(tmp_path)]:
        plan = plan_file(path.read_bytes(), path.name, DEFAULT_MAX_BYTES)
        fixed.update(code for fix in plan.fixes for code in fix.codes)
    assert fixed == {code for code, info in CATALOGUE.items() if info.fixable}


def test_the_comparison_sees_an_unannounced_change() -> None:
    # The helper can fail: a real difference that no effect announces is reported.
    before = load_config(b'<configuration><system.webServer><cors enabled="true">'
                         b'<add origin="https://a.example" allowCredentials="true" />'
                         b"</cors></system.webServer></configuration>")
    after = load_config(b'<configuration><system.webServer><cors enabled="true">'
                        b'<add origin="https://a.example" />'
                        b"</cors></system.webServer></configuration>")
    assert unexplained_differences(before, after, [])
    announced = Effect(dropped=("Access-Control-Allow-Credentials", "true"))
    assert not unexplained_differences(before, after, [announced])
