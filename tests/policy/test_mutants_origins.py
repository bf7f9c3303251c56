"""Origin matching cases that a mutation run of iiscors/policy/origins.py found no test for
(docs/mutation.md).

Each test is a behaviour of contract B4-B6 seen from outside: a configuration, an Origin, and
what the policy decides.  Rules are chosen so that the lookup goes past the exact-origin table
(``*`` beside other rules, host and scheme wildcards), where the parsing happens.
"""

from __future__ import annotations

import pytest

from iiscors import CorsRequest, load_config
from iiscors.policy import headers
from iiscors.policy.origins import (
    MAX_ORIGIN_BYTES,
    OriginMatcher,
    ParsedOrigin,
    PatternKind,
    classify,
    parse_origin,
)


def web_config(cors: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<configuration><system.webServer>{cors}'
            "</system.webServer></configuration>\n").encode()


def decide(rules: str, origin: str) -> tuple[int | None, str | None]:
    """(status, Access-Control-Allow-Origin) of a GET from ``origin`` under ``rules``."""
    config = load_config(web_config(f'<cors enabled="true" failUnlistedOrigins="true">{rules}'
                                    "</cors>"))
    decision = config.evaluate(CorsRequest("GET", origin))
    return decision.status, dict(decision.headers).get(headers.ALLOW_ORIGIN)


STAR_BESIDE_A_HOST_WILDCARD = '<add origin="*" /><add origin="https://*.contoso.com" />'


def test_an_origin_of_exactly_the_bound_still_matches_a_host_wildcard() -> None:
    origin = "https://" + "a" * (MAX_ORIGIN_BYTES - len("https://") - len(".contoso.com")) \
        + ".contoso.com"
    assert len(origin) == MAX_ORIGIN_BYTES
    # contract B6: 2,048 bytes is still a serialized origin, so the wildcard rule echoes it
    assert decide('<add origin="https://*.contoso.com" />', origin) == (None, origin)


def test_an_origin_of_exactly_the_bound_is_echoed_by_star_beside_other_rules() -> None:
    origin = "https://" + "a" * (MAX_ORIGIN_BYTES - len("https://") - len(".example")) \
        + ".example"
    assert len(origin) == MAX_ORIGIN_BYTES
    assert decide(STAR_BESIDE_A_HOST_WILDCARD, origin) == (None, origin)


def test_an_origin_past_the_bound_is_not_echoed_by_star_beside_other_rules() -> None:
    origin = "https://" + "a" * MAX_ORIGIN_BYTES + ".example"
    # contract B6: past 2,048 bytes it is not a serialized origin; "*" beside other rules would
    # echo it, so it is treated as unlisted instead
    assert decide(STAR_BESIDE_A_HOST_WILDCARD, origin) == (403, None)


def test_userinfo_before_a_wildcard_suffix_is_not_echoed_by_star() -> None:
    # "x@a" is no host label: the host wildcard does not match, and "*" must not echo it (B6)
    assert decide(STAR_BESIDE_A_HOST_WILDCARD, "https://x@a.contoso.com") == (403, None)


def test_an_empty_label_before_a_wildcard_suffix_is_refused() -> None:
    # "https://.contoso.com" has an empty first label: not serialized, refused, never a crash
    assert decide('<add origin="https://*.contoso.com" />', "https://.contoso.com") == (403, None)
    assert decide(STAR_BESIDE_A_HOST_WILDCARD, "https://.contoso.com") == (403, None)


def test_a_host_wildcard_under_a_scheme_with_a_dot() -> None:
    # a scheme may hold dots (B6: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )); the labels the
    # wildcard stands for start after "://", never at the scheme's dot
    rules = '<add origin="web+app.v2://*.contoso.com" />'
    assert decide(rules, "web+app.v2://a.contoso.com") == (None, "web+app.v2://a.contoso.com")


@pytest.mark.parametrize("origin", ["http://[::1]:8080", "https://[2001:db8::7]", "http://[1::]"])
def test_an_ipv6_origin_is_serialized_and_echoed_by_star_beside_other_rules(origin: str
                                                                              ) -> None:
    assert decide(STAR_BESIDE_A_HOST_WILDCARD, origin) == (None, origin)


@pytest.mark.parametrize("origin", ["http://[::g]", "http://[1:2:3]", "http://[]",
                                    "http://[::1:]"])
def test_a_bracketed_host_that_is_no_ipv6_address_is_not_echoed(origin: str) -> None:
    assert decide(STAR_BESIDE_A_HOST_WILDCARD, origin) == (403, None)


def test_a_trailing_dot_host_is_not_matched_by_a_scheme_wildcard() -> None:
    # contract B6: a host with a trailing dot is matched only by "*" or an exact rule
    assert decide('<add origin="https://*" />', "https://a.example.") == (403, None)
    assert decide('<add origin="https://*" />', "https://a.example") == (None, "https://a.example")


def test_a_scheme_wildcard_keeps_the_scheme_as_written() -> None:
    # contract B5: patterns are case-sensitive and a scheme may hold capitals
    assert classify("Web+App://*") is PatternKind.SCHEME_WILDCARD
    assert decide('<add origin="Web+App://*" />', "Web+App://a.example") \
        == (None, "Web+App://a.example")


def test_parse_origin_returns_each_part() -> None:
    assert parse_origin("https://a.example:8443") == ParsedOrigin("https", "a.example", "8443", 8)
    assert parse_origin("http://[::1]") == ParsedOrigin("http", "[::1]", None, 7)


def test_the_matcher_says_a_too_long_origin_that_only_star_matched_is_not_serialized() -> None:
    matcher = OriginMatcher([("*", "any"), ("https://*.contoso.com", "host")])
    too_long = "https://" + "a" * MAX_ORIGIN_BYTES + ".example"
    assert matcher.match(too_long) == ("any", False)
    assert matcher.match("https://x@a.contoso.com") == ("any", False)


def test_a_rule_longer_than_the_bound_never_matches_even_the_same_origin() -> None:
    # contract B6: a pattern past 2,048 bytes is no serialized origin, so it can never match,
    # not even an Origin spelled exactly like it
    long_origin = "https://" + "a" * MAX_ORIGIN_BYTES + ".example"
    assert classify(long_origin) is PatternKind.NEVER
    assert decide(f'<add origin="{long_origin}" />', long_origin) == (403, None)
