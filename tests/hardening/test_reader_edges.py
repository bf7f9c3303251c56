"""Edges of the ``<cors>`` readers found by an adversarial review (reader hardening brief).

Each case is bad or unusual input that once raised instead of giving a located diagnostic, or
that the one-pass reader (:mod:`iiscors.config.fastcors`) read differently from the long way
(:mod:`iiscors.config.rules`).  Every file here is read both ways (the one-pass reader switched
off as ``tests/config/test_fast_cors.py`` does it), and the two must agree.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import iiscors.config.rules as rules_module
from iiscors import check_config, load_config
from iiscors.config.diagnostics import Diagnostic
from iiscors.policy.model import OriginRule

#: The line of a :func:`web_config`'s rules
RULE_LINE = 3
#: Past the columns an :class:`OriginRule` packs into an int (model._COLUMN_LIMIT, 1024)
FAR = 1100


def web_config(body: str, *, pad: int = 0, head: str = '<cors enabled="true">') -> bytes:
    """A web.config whose ``<cors>`` holds ``body`` on line 3, after ``pad`` spaces."""
    return (f'<?xml version="1.0"?>\n<configuration><system.webServer>{head}\n'
            f'{" " * pad}{body}\n</cors></system.webServer></configuration>\n').encode()


@pytest.fixture(params=["fast", "slow"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each test runs with the one-pass reader on, then switched off (the long way only)."""
    if request.param == "slow":
        monkeypatch.setattr(rules_module, "read_plain_cors", lambda *_: None)
    yield request.param


def both_ways(data: bytes, monkeypatch: pytest.MonkeyPatch) -> list[Diagnostic]:
    """check_config's diagnostics with the one-pass reader on, asserted equal to those of the
    long way alone."""
    fast = check_config(data, name="web.config")
    with monkeypatch.context() as patch:
        patch.setattr(rules_module, "read_plain_cors", lambda *_: None)
        slow = check_config(data, name="web.config")
    assert fast == slow
    return fast


def placed(found: list[Diagnostic]) -> list[tuple[str, int | None, int | None]]:
    return [(d.code, d.line, d.column) for d in found]


def rules_of(data: bytes) -> tuple[OriginRule, ...]:
    return load_config(data, name="web.config").scopes[()].rules


# -- 1. a rule at a column past what a rule packs (model._COLUMN_LIMIT) ----------------------

EXPOSED = ('<add origin="https://a.example"><exposeHeaders><add header="X-a"/>'
           "</exposeHeaders></add>")
FAR_RULES = [
    '<add origin="https://a.example"/>',
    EXPOSED,
    '<add origin="https://a.example" maxAge="600"><allowMethods><add method="GET"/>'
    "</allowMethods></add>",
    '<add origin="https://a.example" maxAge="9000"/>',
    '<add origin="http://a.example" allowCredentials="true"/>',
    '<add origin="https://a.example"><exposeHeaders><add header="Access-Control-Allow-Origin"/>'
    "</exposeHeaders></add>",
]


@pytest.mark.parametrize("rule", FAR_RULES)
@pytest.mark.parametrize("pad", [0, FAR])
def test_a_rule_far_along_its_line_is_located_there(rule: str, pad: int, reader: str) -> None:
    (read,) = rules_of(web_config(rule, pad=pad))
    # contract A7: a rule is located at its origin attribute, 1-based: after the pad and "<add "
    assert (read.location.file, read.location.line, read.location.column) == (
        "web.config", RULE_LINE, pad + len("<add ") + 1)


def one_line(rules: list[str]) -> str:
    """``rules`` on one line, each with its own origin (contract A6: no duplicate keys)."""
    return "".join(rule.replace("a.example", f"r{n}.example") for n, rule in enumerate(rules))


def test_rules_far_along_a_line_agree_with_those_near_its_start(reader: str) -> None:
    line = one_line(FAR_RULES)
    near = rules_of(web_config(line))
    far = rules_of(web_config(line, pad=FAR))
    assert [rule.location.column for rule in far] == [
        FAR + rule.location.column for rule in near if rule.location.column is not None]
    assert [rule.shape[1:8] for rule in far] == [rule.shape[1:8] for rule in near]


def test_lint_places_far_along_a_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The warnings of rules with located attributes and entries, past column 1024."""
    line = one_line(FAR_RULES[3:])
    near = placed(both_ways(web_config(line), monkeypatch))
    far = placed(both_ways(web_config(line, pad=FAR), monkeypatch))
    assert [code for code, _, _ in near] == ["W215", "W203", "W214"]
    assert far == [(code, row, None if column is None else column + FAR)
                   for code, row, column in near]
    assert all(row == RULE_LINE for _, row, _ in far)


def test_a_far_rule_with_children_gives_no_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The review's repro: 1,100 spaces, then a rule with an ``<exposeHeaders>``."""
    assert both_ways(web_config(EXPOSED, pad=FAR), monkeypatch) == []
