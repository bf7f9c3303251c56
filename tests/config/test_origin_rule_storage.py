"""OriginRule keeps its public interface while its storage is compact (issue 17).

A rule holds its origin, one shape tuple shared by every rule with the same file, flags and
lists, and its place packed into one int.  Callers still see the frozen dataclass it was:
every field, equality and hashing by value, ``dataclasses.replace`` (``iiscors fix`` uses it),
pickling, immutability.
"""

from __future__ import annotations

import dataclasses
import pickle
import sys

import pytest

from iiscors.policy.model import Location, OriginRule

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
    many = OriginRule.located_all(["https://a.example"], [shape], [12], [9])
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
