"""OriginRule keeps its public interface while its storage is compact (issue 17).

A rule holds its origin, one shape tuple shared by every rule with the same file, flags and
lists, and its place packed into one int.  Callers still see the frozen dataclass it was:
every field, equality and hashing by value, ``dataclasses.replace`` (``iiscors fix`` uses it),
pickling, immutability.

A section read in one pass keeps its rules as a :class:`RuleTable`: columns (the origins, the
packed places, an index into the distinct shapes), no object per rule, read as the tuple of
rules it stands for.
"""

from __future__ import annotations

import dataclasses
import gc
import pickle
import sys

import pytest

from iiscors import load_config
from iiscors.policy.model import TABLE_STEP, Location, OriginRule, RuleTable

WHERE = Location("web.config", 12, 9)
FIELDS = {"origin": "https://a.example", "allowed": False, "allow_credentials": True,
          "max_age": 600, "allow_all_requested_headers": True, "allow_headers": ("X-A",),
          "allow_methods": ("PUT",), "expose_headers": ("X-E",), "location": WHERE}


def test_every_field_reads_back_as_given() -> None:
    rule = OriginRule(**FIELDS)
    assert {name: getattr(rule, name) for name in FIELDS} == FIELDS
    assert rule.header_locations == () and rule.attribute_locations == ()
    assert [f.name for f in dataclasses.fields(rule)] == [*FIELDS, "header_locations",
                                                          "attribute_locations"]


@pytest.mark.parametrize("where", [WHERE, Location("f"), Location("f", 3),
                                   Location("f", 3, 5000), Location("f", 10**7, 1023)])
def test_a_place_reads_back_whether_it_is_packed_or_not(where: Location) -> None:
    rule = OriginRule("https://a.example", location=where)
    assert rule.location == where
    if where.line is not None and where.column is not None:
        shape = OriginRule.shape_of(where.file)
        assert rule == OriginRule.located("https://a.example", shape, where.line, where.column)


def test_rules_with_the_same_fields_are_equal_and_hash_alike() -> None:
    built = OriginRule(**FIELDS)
    shape = OriginRule.shape_of("web.config", False, True, 600, True, ("X-A",), ("PUT",),
                                ("X-E",))
    located = OriginRule.located("https://a.example", shape, 12, 9)
    many = RuleTable.located(["https://a.example"], [shape], [12], [9])
    assert built == located == many[0] and hash(built) == hash(located) == hash(many[0])
    assert built != OriginRule(**{**FIELDS, "max_age": 601})
    assert built != OriginRule(**{**FIELDS, "location": Location("web.config", 12, 10)})
    assert built != OriginRule(**{**FIELDS, "location": Location("other", 12, 9)})


def test_rules_of_one_shape_share_it() -> None:
    first = OriginRule("https://a.example", allow_methods=("GET",), location=WHERE)
    second = OriginRule("https://b.example", allow_methods=("GET",), location=WHERE)
    assert first.shape is second.shape
    assert sys.getsizeof(first) <= 64  # three references and the object's header


def test_replace_pickle_and_immutability() -> None:
    rule = OriginRule(**FIELDS)
    assert dataclasses.replace(rule, origin="https://b.example") == OriginRule(
        **{**FIELDS, "origin": "https://b.example"})
    assert pickle.loads(pickle.dumps(rule)) == rule
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.origin = "x"
    assert "allow_methods=('PUT',)" in repr(rule)


def table_of(count: int, *, column: int = 9) -> tuple[RuleTable, list[OriginRule]]:
    """A table of ``count`` rules of two shapes, and the same rules built one by one."""
    shapes = [OriginRule.shape_of("web.config"), OriginRule.shape_of("web.config", True, True)]
    origins = [f"https://app{n:06d}.example" for n in range(count)]
    kinds = [shapes[n % 3 == 2] for n in range(count)]
    lines = [n + 5 for n in range(count)]
    columns = [column] * count
    rules = [OriginRule.located(*row) for row in zip(origins, kinds, lines, columns, strict=True)]
    return RuleTable.located(origins, kinds, lines, columns), rules


@pytest.mark.parametrize("column", [9, 1023, 1024, 5000])
def test_a_table_reads_as_the_tuple_of_its_rules(column: int) -> None:
    count = TABLE_STEP + 7  # more than one step of rows
    table, rules = table_of(count, column=column)
    assert len(table) == count and list(table) == rules and tuple(table) == tuple(rules)
    assert table == tuple(rules) and tuple(rules) == table and hash(table) == hash(tuple(rules))
    assert table[0] == rules[0] and table[-1] == rules[-1] and table[3:9] == tuple(rules[3:9])
    assert table.rows(TABLE_STEP - 2, TABLE_STEP + 3) == rules[TABLE_STEP - 2:TABLE_STEP + 3]
    assert table == RuleTable.of(rules) and table != RuleTable.of(rules[1:])
    assert table != tuple(rules[:-1]) and table != (*rules[:-1], rules[0])
    assert rules[5] in table and table.index(rules[5]) == 5
    assert pickle.loads(pickle.dumps(table)) == table
    assert table.first_of_each_shape() == [rules[0], rules[2]]
    with pytest.raises(IndexError):
        table[count]


def test_a_table_keeps_rules_built_otherwise_whole_where_they_cannot_be_packed() -> None:
    table, rules = table_of(3)
    own = OriginRule("https://app000001.example", allow_methods=("PUT",),
                     location=Location("web.config", None))
    located = OriginRule("https://app000002.example", allow_methods=("PUT",),
                         location=Location("web.config", 7, 3))
    shapes = [rule.shape for rule in rules]
    built = RuleTable.located([rule.origin for rule in rules], shapes, [5, 6, 7], [9, 9, 9],
                              {1: own, 2: located})
    assert list(built) == [rules[0], own, located] and built[1] is own
    assert built != table


def test_tables_compare_by_their_rules_whatever_their_columns() -> None:
    table, rules = table_of(5)
    # equal shapes that are other tuples: more distinct shapes, other kinds, the same rules
    copies = [rule.shape[:1] + rule.shape[1:] for rule in rules]
    other = RuleTable.located([rule.origin for rule in rules], copies,
                              [rule.location.line or 0 for rule in rules], [9] * 5)
    assert len(other.shapes) == 5 and len(table.shapes) == 2
    assert other == table and table == other and hash(other) == hash(table)
    twisted = RuleTable.of([rules[2], *rules[:2], *rules[3:]])
    assert twisted != table and twisted == (rules[2], *rules[:2], *rules[3:])


def test_a_table_holds_no_object_per_rule() -> None:
    """What a full collection walks and what a worker keeps: no tracked object per rule (a
    table of OriginRule objects would add one each), and the columns past the origin strings
    under 20 bytes per rule (8 for the origin's slot, 8 for the place, 1 for the shape)."""
    count = 20_000
    origins = [f"https://app{n:06d}.example" for n in range(count)]
    shape = OriginRule.shape_of("web.config")
    gc.collect()
    before = len(gc.get_objects())
    table = RuleTable.located(origins, [shape] * count, list(range(5, count + 5)), [9] * count)
    gc.collect()
    assert len(gc.get_objects()) - before < 10
    columns = (sys.getsizeof(table) + sys.getsizeof(table.origins) + sys.getsizeof(table.places)
               + sys.getsizeof(table.kinds) + sys.getsizeof(table.shapes))
    assert columns / count < 20, columns / count


def site(api: str) -> bytes:
    rules = "\n".join(f'<add origin="https://a{n}.example" />' for n in range(5))
    return (f'<configuration>\n<system.webServer>\n<cors enabled="true">\n{rules}\n</cors>\n'
            '</system.webServer>\n<location path="api"><system.webServer>\n'
            f"{api}\n</system.webServer></location>\n"
            '<location path="other"><system.webServer><httpProtocol><customHeaders>'
            '<add name="X-A" value="1" /></customHeaders></httpProtocol></system.webServer>'
            "</location>\n</configuration>\n").encode()


def test_scopes_share_a_levels_table_and_merge_tables_into_tables() -> None:
    """A scope that inherits a table unchanged holds the level's table itself; one that adds
    or removes rules holds a new table of the merged rules (equal, rule by rule, to what the
    tuple of the long way held)."""
    config = load_config(site('<cors><remove origin="https://a1.example" />'
                              '<add origin="https://b.example" /></cors>'))
    level = config.levels[0]
    assert level.cors is not None and isinstance(level.cors.entries, RuleTable)
    assert config.scopes[()].rules is level.cors.entries is config.scopes[("other",)].rules
    merged = config.scopes[("api",)].rules
    assert isinstance(merged, RuleTable)
    assert [(rule.origin, rule.location.line) for rule in merged] == [
        ("https://a0.example", 4), ("https://a2.example", 6), ("https://a3.example", 7),
        ("https://a4.example", 8), ("https://b.example", 12)]
    kept = [rule for rule in level.cors.entries if rule.origin != "https://a1.example"]
    assert merged == (*kept, merged[-1]) and merged[-1].origin == "https://b.example"


@pytest.mark.parametrize("fail", ["true", "false"])
@pytest.mark.parametrize("settings", ["", ' allowCredentials="true"'])
def test_loading_builds_a_rule_per_shape_not_per_origin(
        monkeypatch: pytest.MonkeyPatch, fail: str, settings: str) -> None:
    """Reading, scoping, linting and compiling a section of 2,000 rules reads the table's
    columns: a rule is built for each shape (lint, the compiler) and none per origin."""
    built: list[int] = []
    rows, item = RuleTable.rows, RuleTable.__getitem__

    def counted_rows(self: RuleTable, start: int, stop: int) -> list[OriginRule]:
        built.append(stop - start)
        return rows(self, start, stop)

    def counted_item(self: RuleTable, index: int) -> OriginRule:
        built.append(1)
        return item(self, index)

    monkeypatch.setattr(RuleTable, "rows", counted_rows)
    monkeypatch.setattr(RuleTable, "__getitem__", counted_item)
    rules = "\n".join(f'<add origin="https://app{n:05d}.example.com"{settings} />'
                      for n in range(2000))
    config = load_config(f'<configuration><system.webServer><cors enabled="true" '
                         f'failUnlistedOrigins="{fail}">\n{rules}\n</cors></system.webServer>'
                         "</configuration>".encode())
    assert config.policy.root.admit("https://app01999.example.com") is not None  # compiled
    assert isinstance(config.scopes[()].rules, RuleTable)
    assert sum(built) <= 4, built


@pytest.mark.parametrize("step", [1, 2, 4096])
@pytest.mark.parametrize(("origins", "unique"), [
    (["https://a.example", "https://b.example"], True),
    (["https://a.example", "https://A.example"], False),  # contract A6: the key folds case
    (["https://A.example", "https://B.example"], True),
    (["https://straße.example", "https://STRASSE.example"], False),  # casefold, not lower
    (["https://é.example", "https://É.example", "https://x.example"], False),
    (["https://x.example", "https://x.example"], False),
])
def test_a_tables_origins_are_unique_as_the_collection_folds_them(
        origins: list[str], unique: bool, step: int, monkeypatch: pytest.MonkeyPatch) -> None:
    import iiscors.policy.model as model_module

    monkeypatch.setattr(model_module, "TABLE_STEP", step)
    shape = OriginRule.shape_of("web.config")
    table = RuleTable.located(list(origins), [shape] * len(origins), [1] * len(origins),
                              list(range(1, len(origins) + 1)))
    assert table.unique_origins() is unique
    assert unique is (len({o.casefold() for o in origins}) == len(origins))
