"""The load's shortcuts (issue 17) say exactly what the long way says.

Each shortcut skips work for the common case: lint's plain-origin rules, classify's plain exact
patterns, the XPath depth check, the Locator's per-tag attribute table.  Every test here runs
the same input both ways and compares: a shortcut that ever answered differently would fail.
"""

from __future__ import annotations

import random
import re
import string
from pathlib import Path

import pytest

import iiscors.config.lint as lint_module
import iiscors.config.loader as loader_module
import iiscors.policy.origins as origins_module
from iiscors import check_config
from iiscors.config.loader import MAX_DEPTH, Locator, parse_bytes
from iiscors.policy.model import Location, OriginRule

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "webconfigs"
SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
NEVER = re.compile(r"(?!)")


def patterns(count: int) -> list[str]:
    """Origin patterns, plain and not: schemes, cases, ports, paths, wildcards, junk."""
    rng = random.Random(17)
    alphabet = string.ascii_letters + string.digits + "-_.:/*[]@?#{}\\%é "
    heads = ["https://", "http://", "HTTPS://", "ws://", "a+b://", "1x://", "", "https:/",
             "file://", "http://*.", "https://*"]
    found = ["*", "null", "https://a.example", "http://a.example:80", "https://a.example/",
             "https://a.example.", "https://[::1]:8443", "http://localhost:3000"]
    for _ in range(count):
        found.append(rng.choice(heads) + "".join(rng.choice(alphabet)
                                                 for _ in range(rng.randint(0, 14))))
    return found


def test_classify_says_of_every_pattern_what_the_long_way_says(
        monkeypatch: pytest.MonkeyPatch) -> None:
    every = patterns(20_000)
    fast = [origins_module.classify(p) for p in every]
    monkeypatch.setattr(origins_module, "_PLAIN_EXACT", NEVER)
    assert fast == [origins_module.classify(p) for p in every]


def rules_of(pattern: str) -> list[OriginRule]:
    where = Location("web.config", 3, 5)
    return [OriginRule(pattern, location=where),
            OriginRule(pattern, allow_credentials=True, location=where),
            OriginRule(pattern, allowed=False, allow_credentials=True, location=where),
            OriginRule(pattern, max_age=9000, location=where),
            OriginRule(pattern, allow_methods=("OPTIONS",), location=where,
                       header_locations=(("allowMethods", "OPTIONS", where),))]


def test_lint_says_of_every_rule_what_the_long_way_says(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = [rule for p in patterns(3_000) for rule in rules_of(p)]
    fast = [(lint_module._quiet(r), list(lint_module.rule_checks(r))) for r in rules]
    monkeypatch.setattr(lint_module, "_PLAIN", NEVER)
    slow = [list(lint_module.rule_checks(r)) for r in rules]
    assert [checks for _, checks in fast] == slow
    assert all(not checks for quiet, checks in fast if quiet)  # quiet means nothing to say
    assert any(quiet for quiet, _ in fast)


def corpus() -> list[Path]:
    return sorted([*CORPUS.glob("*.config"), *SAMPLES.rglob("*.config")])


def test_every_known_file_is_diagnosed_as_the_long_way_diagnoses_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    files = corpus()
    assert files
    fast = [check_config(path) for path in files]
    monkeypatch.setattr(lint_module, "_PLAIN", NEVER)
    monkeypatch.setattr(origins_module, "_PLAIN_EXACT", NEVER)
    assert fast == [check_config(path) for path in files]


def nested(depth: int, siblings: int = 0) -> bytes:
    inner = "<x/>" * siblings
    return ("<configuration>" + "<a>" * (depth - 1) + inner + "</a>" * (depth - 1)
            + "</configuration>").encode()


@pytest.mark.parametrize(("depth", "siblings"), [
    (MAX_DEPTH, 0), (MAX_DEPTH + 1, 0), (MAX_DEPTH - 1, 3), (MAX_DEPTH, 2), (MAX_DEPTH + 5, 0)])
def test_the_depth_check_finds_what_the_walk_finds(depth: int, siblings: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    document, fast = parse_bytes(nested(depth, siblings), "web.config")
    monkeypatch.setattr(loader_module, "_BELOW_MAX_DEPTH", lambda root: True)
    again, slow = parse_bytes(nested(depth, siblings), "web.config")
    assert fast == slow
    assert (document is None) == (again is None) == (depth + (1 if siblings else 0) > MAX_DEPTH)


def test_attribute_positions_are_read_once_per_tag_and_stay_exact() -> None:
    text = ('<configuration>\n  <add origin="https://a" title="x origin=&quot;y&quot;"\n'
            '       allowCredentials="true" />\n</configuration>\n')
    root = parse_bytes(text.encode(), "web.config")[0]
    assert root is not None
    locator = Locator(text, root.root)
    add = root.root[0]
    assert locator.attribute(add, "origin") == (2, 8)
    assert locator.attribute(add, "allowCredentials") == (3, 8)
    assert locator.attribute(add, "missing") == (2, 3)  # the tag itself
    assert locator.element(add) == (2, 3)

    # Equal line numbers are one int object (beyond Python's small ints): a rule's locations
    # share one, instead of one each.
    far = text.replace("<configuration>\n", "<configuration>\n" + "\n" * 400)
    root = parse_bytes(far.encode(), "web.config")[0]
    assert root is not None
    locator = Locator(far, root.root)
    line = locator.attribute(root.root[0], "origin")[0]
    assert line == 402 and line is locator.element(root.root[0])[0]
