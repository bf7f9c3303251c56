"""Lint's bulk shortcuts (issue 17) say what the rule-by-rule way says.

Lint tells the rules it may speak of by their shape and by one match over all their origins
joined; a shortcut that ever answered differently would fail here.
"""

from __future__ import annotations

import random

import pytest

import iiscors.config.lint as lint_module
from iiscors import check_config


def test_all_origins_are_judged_plain_together_as_one_by_one() -> None:
    rng = random.Random(23)
    alphabet = "abz09-.:/H\n \t\u00e9"
    heads = ["https://", "http://", "", "HTTP://", "https://*."]
    for _ in range(20_000):
        origins = [rng.choice(heads) + "".join(rng.choice(alphabet)
                                               for _ in range(rng.randint(0, 6)))
                   for _ in range(rng.randint(1, 4))]
        together = lint_module._ALL_PLAIN.fullmatch("\x00".join(origins)) is not None
        assert together == all(lint_module._PLAIN.fullmatch(o) for o in origins), origins


def webconfig(origins: list[str]) -> bytes:
    rules = "".join(f'<add origin="{origin}"/>\n' for origin in origins)
    return (f'<configuration><system.webServer><cors enabled="true">\n{rules}</cors>'
            "</system.webServer></configuration>").encode()


@pytest.mark.parametrize("odd", ["HTTPS://A.example", "https://a.example/", "null",
                                 "https://a.example:443", "*", "http://*.a.example"])
def test_a_file_of_plain_rules_is_linted_as_rule_by_rule(
        odd: str, monkeypatch: pytest.MonkeyPatch) -> None:
    origins = [f"https://a{n}.example" for n in range(300)]
    for data in (webconfig(origins), webconfig([*origins[:150], odd, *origins[150:]])):
        fast = check_config(data)
        monkeypatch.setattr(lint_module, "_ALL_PLAIN", lint_module.re.compile("(?!)"))
        assert check_config(data) == fast
        monkeypatch.undo()
