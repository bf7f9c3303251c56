"""What a mutation run of iiscors/config/fastcors.py found unpinned (docs/mutation.md).

:class:`RuleChildren` stands for the tuple of ``("add", place)`` children the long way builds
for a section's lock checks (contract E2): it must compare, hash and print as that tuple, so
that a section read in one pass is indistinguishable from one read the long way.
"""

from __future__ import annotations

from iiscors import load_config
from iiscors.config.fastcors import RuleChildren
from iiscors.policy.model import OriginRule

from support import web_config


def rules_of(*origins: str) -> tuple[OriginRule, ...]:
    cors = "".join(f'<add origin="{origin}"/>' for origin in origins)
    return load_config(web_config(f'<cors enabled="true">{cors}</cors>')).scopes[()].rules


def test_rule_children_equal_the_same_rules_and_differ_from_others() -> None:
    rules = rules_of("https://a.example", "https://b.example")
    assert RuleChildren(rules) == RuleChildren(rules)
    assert RuleChildren(rules) != RuleChildren(rules[:1])
    assert RuleChildren(rules) != RuleChildren(rules_of("https://c.example", "https://d.example"))


def test_rule_children_equal_only_the_tuple_the_long_way_builds() -> None:
    rules = rules_of("https://a.example", "https://b.example")
    children = RuleChildren(rules)
    as_tuple = tuple(children)
    assert [name for name, _ in as_tuple] == ["add", "add"]
    assert children == as_tuple
    assert children != list(as_tuple)  # only a tuple, as the long way's children are
    assert children != as_tuple[:1]
    assert children != "add"


def test_rule_children_hash_and_print_as_their_tuple() -> None:
    children = RuleChildren(rules_of("https://a.example"))
    assert hash(children) == hash(tuple(children))
    assert {children: 1}[tuple(children)] == 1
    assert repr(children) == f"RuleChildren({tuple(children)!r})"
