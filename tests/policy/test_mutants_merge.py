"""Vary merging cases that a mutation run of iiscors/policy/merge.py found no test for
(docs/mutation.md): contract B11, ``Origin`` merged into the application's own ``Vary``."""

from __future__ import annotations

from iiscors.policy.merge import merge_headers

OURS = [("Vary", "Origin")]


def test_the_first_of_several_vary_headers_grows_even_when_it_comes_first() -> None:
    app = [("Vary", "Accept"), ("Content-Type", "text/plain"), ("Vary", "Cookie")]
    assert merge_headers(app, OURS) == [
        ("Vary", "Accept, Origin"), ("Content-Type", "text/plain"), ("Vary", "Cookie")]


def test_a_vary_token_list_without_spaces_already_naming_origin_is_left_alone() -> None:
    app = [("Vary", "Accept,Origin")]
    assert merge_headers(app, OURS) == [("Vary", "Accept,Origin")]
