"""``compare_access`` on pairs of web.config files: the changes a reviewer must see (issue 16).

Each case is an old and a new ``<cors>`` section (or more of the file) and the changes expected,
written as ``(scopes, origin, kind, class, credentials, aspects, cause, side)``; a case id says
what it shows.  Locations are checked apart (``test_locations_*``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from iiscors.config.load import load_config
from iiscors.policy.access import NO_CONFIGURATION, Change, compare_access
from iiscors.policy.core import ScopePolicy, Verdict
from iiscors.policy.witnesses import MALFORMED_LABEL, UNLISTED_LABEL

from support import web_config

Expected = tuple[tuple[str, ...], str, str, str, bool, tuple[str, ...], str, str]


def scopes(cors: str, server: str = "", outside: str = "", name: str = "web.config"
           ) -> dict[tuple[str, ...], object]:
    return dict(load_config(web_config(cors, server=server, outside=outside), name=name).scopes)


def summary(change: Change) -> Expected:
    return (change.scopes, change.origin, change.kind.value, change.direction.value,
            change.credentials, tuple(a.what for a in change.aspects), change.cause.value,
            change.side.value)


def diff(old: bytes | None, new: bytes | None) -> tuple[Change, ...]:
    before = load_config(old, name="old.config").scopes if old else NO_CONFIGURATION
    after = load_config(new, name="new.config").scopes if new else NO_CONFIGURATION
    return compare_access(before, after)


@dataclass(frozen=True)
class Case:
    id: str
    old: str
    new: str
    expected: list[Expected]
    old_server: str = ""
    new_server: str = ""
    old_outside: str = ""
    new_outside: str = ""


ON = '<cors enabled="true">'
FAIL = '<cors enabled="true" failUnlistedOrigins="true">'
END = "</cors>"
A = '<add origin="https://a.example"/>'
B = '<add origin="https://b.example"/>'
A_CRED = '<add origin="https://a.example" allowCredentials="true"/>'
WILD = '<add origin="https://*.a.example"/>'
ROOT = ("/",)
ACCESS = ("access",)
UNLISTED = (ROOT, UNLISTED_LABEL, "unlisted", "narrows", False, ACCESS, "failUnlistedOrigins",
            "new")
MALFORMED = (ROOT, MALFORMED_LABEL, "malformed", "narrows", False, ACCESS, "failUnlistedOrigins",
             "new")

CASES = [
    Case("identical", f"{ON}{A}{END}", f"{ON}{A}{END}", []),
    Case("reformatted-and-reordered-only", f"{ON}{A}{B}{END}", f"{ON}\n\n  {B}\n  {A}\n{END}",
         []),
    Case("new-exact-origin-widens", f"{ON}{A}{END}", f"{ON}{A}{B}{END}",
         [(ROOT, "https://b.example", "exact", "widens", False, ACCESS, "rule", "new")]),
    Case("new-origin-with-credentials-is-loudest", f"{ON}{A}{END}",
         f'{ON}{A}<add origin="https://b.example" allowCredentials="true"/>{END}',
         [(ROOT, "https://b.example", "exact", "widens", True, ACCESS, "rule", "new")]),
    Case("removed-origin-narrows-at-the-old-line", f"{ON}{A}{B}{END}", f"{ON}{A}{END}",
         [(ROOT, "https://b.example", "exact", "narrows", False, ACCESS, "rule", "old")]),
    Case("credentials-gained", f"{ON}{A}{END}", f"{ON}{A_CRED}{END}",
         [(ROOT, "https://a.example", "exact", "widens", True, ("credentials",), "rule",
           "new")]),
    Case("credentials-lost", f"{ON}{A_CRED}{END}", f"{ON}{A}{END}",
         [(ROOT, "https://a.example", "exact", "narrows", False, ("credentials",), "rule",
           "new")]),
    Case("exact-denied-inside-an-old-wildcard-changes-that-origin-only", f"{ON}{WILD}{END}",
         f'{ON}{WILD}<add origin="https://x.a.example" allowed="false"/>{END}',
         [(ROOT, "https://x.a.example", "exact", "narrows", False, ("access", "rule"), "rule",
           "new")]),
    Case("exact-with-more-methods-inside-a-wildcard", f"{ON}{WILD}{END}",
         f'{ON}{WILD}<add origin="https://x.a.example"><allowMethods><add method="PUT"/>'
         f"</allowMethods></add>{END}",
         [(ROOT, "https://x.a.example", "exact", "widens", False, ("methods", "rule"), "rule",
           "new")]),
    Case("exact-inside-a-wildcard-answering-alike-is-no-change", f"{ON}{WILD}{END}",
         f'{ON}{WILD}<add origin="https://x.a.example"/>{END}', []),
    Case("new-wildcard-shadowing-nothing", f"{ON}{A}{END}", f"{ON}{A}{WILD}{END}",
         [(ROOT, "https://*.a.example", "host-wildcard", "widens", False, ACCESS, "rule",
           "new")]),
    Case("new-wildcard-leaves-the-exact-inside-it-alone",
         f'{ON}<add origin="https://x.a.example" allowCredentials="true"/>{END}',
         f'{ON}<add origin="https://x.a.example" allowCredentials="true"/>{WILD}{END}',
         [(ROOT, "https://*.a.example", "host-wildcard", "widens", False, ACCESS, "rule",
           "new")]),
    Case("longer-suffix-wildcard-inside-a-shorter-one", f"{ON}{WILD}{END}",
         f'{ON}{WILD}<add origin="https://*.eu.a.example" allowed="false"/>{END}',
         [(ROOT, "https://*.eu.a.example", "host-wildcard", "narrows", False, ("access", "rule"),
           "rule", "new")]),
    Case("wildcard-removed-exact-inside-it-kept",
         f'{ON}{WILD}<add origin="https://x.a.example"/>{END}',
         f'{ON}<add origin="https://x.a.example"/>{END}',
         [(ROOT, "https://*.a.example", "host-wildcard", "narrows", False, ACCESS, "rule",
           "old")]),
    Case("wildcard-narrowed-to-an-exact-origin", f"{ON}{WILD}{END}",
         f'{ON}<add origin="https://x.a.example"/>{END}',
         [(ROOT, "https://*.a.example", "host-wildcard", "narrows", False, ACCESS, "rule",
           "old")]),
    Case("scheme-wildcard-added", f"{ON}{WILD}{END}",
         f'{ON}{WILD}<add origin="https://*"/>{END}',
         [(ROOT, "https://*", "scheme-wildcard", "widens", False, ACCESS, "rule", "new")]),
    Case("star-added-widens-every-other-origin", f"{ON}{A}{END}",
         f'{ON}{A}<add origin="*"/>{END}',
         [(ROOT, "*", "any", "widens", False, ACCESS, "rule", "new")]),
    Case("star-alone-then-with-an-exact-origin-echoes-and-refuses-malformed-values",
         f'{ON}<add origin="*"/>{END}', f'{ON}<add origin="*"/>{A}{END}',
         [(ROOT, "https://a.example", "exact", "neutral", False, ("allow-origin", "rule"),
           "rule", "new"),
          (ROOT, MALFORMED_LABEL, "malformed", "narrows", False, ACCESS, "rule", "new"),
          (ROOT, "*", "any", "neutral", False, ("allow-origin",), "rule", "new")]),
    Case("star-with-credentials-echoed-becomes-credentialed",
         f'{ON}<add origin="*" allowCredentials="true"/>{END}',
         f'{ON}<add origin="*" allowCredentials="true"/>'
         f'<add origin="https://a.example" allowed="false"/>{END}',
         [(ROOT, "*", "any", "widens", True, ("allow-origin",), "rule", "new"),
          (ROOT, "https://a.example", "exact", "narrows", False, ("access", "rule"), "rule",
           "new"),
          (ROOT, MALFORMED_LABEL, "malformed", "narrows", False, ACCESS, "rule", "new")]),
    Case("allowed-false-flipped-to-true", f'{ON}<add origin="https://a.example" allowed="false"/>'
         f"{END}", f"{ON}{A}{END}",
         [(ROOT, "https://a.example", "exact", "widens", False, ACCESS, "rule", "new")]),
    Case("enabled-turned-off", f"{ON}{A}{END}", f'<cors enabled="false">{A}{END}',
         [(ROOT, "https://a.example", "exact", "narrows", False, ACCESS, "enabled", "new")]),
    Case("enabled-turned-on-with-fail-unlisted", f'<cors failUnlistedOrigins="true">{A}{END}',
         f"{FAIL}{A}{END}",
         [(ROOT, "https://a.example", "exact", "widens", False, ACCESS, "enabled", "new"),
          (ROOT, MALFORMED_LABEL, "malformed", "narrows", False, ACCESS, "enabled", "new"),
          (ROOT, UNLISTED_LABEL, "unlisted", "narrows", False, ACCESS, "enabled", "new")]),
    Case("fail-unlisted-origins-turned-on", f"{ON}{A}{END}", f"{FAIL}{A}{END}",
         [MALFORMED, UNLISTED]),
    Case("fail-unlisted-origins-turns-a-denied-rule-into-403",
         f'{ON}<add origin="https://a.example" allowed="false"/>{END}',
         f'{FAIL}<add origin="https://a.example" allowed="false"/>{END}',
         [(ROOT, "https://a.example", "exact", "narrows", False, ACCESS, "failUnlistedOrigins",
           "new"), MALFORMED, UNLISTED]),
    Case("module-removed", f"{ON}{A}{END}", f"{ON}{A}{END}",
         [(ROOT, "https://a.example", "exact", "narrows", False, ACCESS, "module", "new")],
         new_server='<modules><remove name="CorsModule"/></modules>'),
    Case("module-restored-where-the-old-file-cleared-it", f"{ON}{A}{END}", f"{ON}{A}{END}",
         [(ROOT, "https://a.example", "exact", "widens", False, ACCESS, "module", "old")],
         old_server="<modules><clear/></modules>"),
    Case("enabled-in-a-scope-whose-module-is-removed-changes-nothing", f"<cors>{A}{END}",
         f"{ON}{A}{END}", [], old_server='<modules><remove name="CorsModule"/></modules>',
         new_server='<modules><remove name="CorsModule"/></modules>'),
    Case("all-requested-headers-gained", f"{ON}{A}{END}",
         f'{ON}<add origin="https://a.example"><allowHeaders allowAllRequestedHeaders="true"/>'
         f"</add>{END}",
         [(ROOT, "https://a.example", "exact", "widens", False, ("all-requested-headers",),
           "rule", "new")]),
    Case("allow-headers-list-narrowed",
         f'{ON}<add origin="https://a.example"><allowHeaders><add header="X-A"/>'
         f'<add header="X-B"/></allowHeaders></add>{END}',
         f'{ON}<add origin="https://a.example"><allowHeaders><add header="X-A"/>'
         f"</allowHeaders></add>{END}",
         [(ROOT, "https://a.example", "exact", "narrows", False, ("allow-headers",), "rule",
           "new")]),
    Case("expose-headers-gained", f"{ON}{A}{END}",
         f'{ON}<add origin="https://a.example"><exposeHeaders><add header="X-Total"/>'
         f"</exposeHeaders></add>{END}",
         [(ROOT, "https://a.example", "exact", "widens", False, ("expose-headers",), "rule",
           "new")]),
    Case("max-age-is-neutral", f"{ON}{A}{END}",
         f'{ON}<add origin="https://a.example" maxAge="600"/>{END}',
         [(ROOT, "https://a.example", "exact", "neutral", False, ("max-age",), "rule", "new")]),
    Case("allow-headers-list-is-neutral-where-all-requested-headers-are-allowed",
         f'{ON}<add origin="https://a.example"><allowHeaders allowAllRequestedHeaders="true">'
         f'<add header="X-A"/></allowHeaders></add>{END}',
         f'{ON}<add origin="https://a.example"><allowHeaders allowAllRequestedHeaders="true"/>'
         f"</add>{END}",
         [(ROOT, "https://a.example", "exact", "neutral", False, ("allow-headers",), "rule",
           "new")]),
    Case("expose-headers-letter-case-is-neutral",
         f'{ON}<add origin="https://a.example"><exposeHeaders><add header="X-Total"/>'
         f"</exposeHeaders></add>{END}",
         f'{ON}<add origin="https://a.example"><exposeHeaders><add header="x-total"/>'
         f"</exposeHeaders></add>{END}",
         [(ROOT, "https://a.example", "exact", "neutral", False, ("expose-headers",), "rule",
           "new")]),
    Case("custom-max-age-header-is-neutral", f"{ON}{A}{END}", f"{ON}{A}{END}",
         [(ROOT, "(every response)", "every-response", "neutral", False,
           ("Access-Control-Max-Age",), "customHeaders", "new")],
         new_server='<httpProtocol><customHeaders><add name="Access-Control-Max-Age" '
                    'value="600"/></customHeaders></httpProtocol>'),
    Case("methods-reordered-is-neutral",
         f'{ON}<add origin="https://a.example"><allowMethods><add method="GET"/>'
         f'<add method="PUT"/></allowMethods></add>{END}',
         f'{ON}<add origin="https://a.example"><allowMethods><add method="PUT"/>'
         f'<add method="GET"/></allowMethods></add>{END}',
         [(ROOT, "https://a.example", "exact", "neutral", False, ("methods",), "rule", "new")]),
    Case("trailing-dot-origin-is-its-own-exact-origin", f"{ON}{WILD}{END}",
         f'{ON}{WILD}<add origin="https://x.a.example."/>{END}',
         [(ROOT, "https://x.a.example.", "exact", "widens", False, ACCESS, "rule", "new")]),
    Case("null-origin-added", f"{ON}{A}{END}", f'{ON}{A}<add origin="null"/>{END}',
         [(ROOT, "null", "exact", "widens", False, ACCESS, "rule", "new")]),
    Case("custom-allow-origin-header-added", f"{ON}{A}{END}", f"{ON}{A}{END}",
         [(ROOT, "(every response)", "every-response", "widens", False,
           ("Access-Control-Allow-Origin",), "customHeaders", "new")],
         new_server='<httpProtocol><customHeaders><add name="Access-Control-Allow-Origin" '
                    'value="*"/></customHeaders></httpProtocol>'),
    Case("custom-credentials-header-added-is-loudest", f"{ON}{A}{END}", f"{ON}{A}{END}",
         [(ROOT, "(every response)", "every-response", "widens", True,
           ("Access-Control-Allow-Credentials",), "customHeaders", "new")],
         new_server='<httpProtocol><customHeaders><add name="Access-Control-Allow-Credentials" '
                    'value="true"/></customHeaders></httpProtocol>'),
    Case("custom-header-removed", f"{ON}{A}{END}", f"{ON}{A}{END}",
         [(ROOT, "(every response)", "every-response", "narrows", False,
           ("Access-Control-Allow-Origin",), "customHeaders", "old")],
         old_server='<httpProtocol><customHeaders><add name="Access-Control-Allow-Origin" '
                    'value="*"/></customHeaders></httpProtocol>'),
    Case("custom-header-that-is-not-cors-is-no-change", f"{ON}{A}{END}", f"{ON}{A}{END}", [],
         new_server='<httpProtocol><customHeaders><add name="X-Frame-Options" value="DENY"/>'
                    "</customHeaders></httpProtocol>"),
    Case("only-vary-changes-is-no-change",
         # "*" alone sends no Vary (B10, B15); beside another rule every response varies on
         # Origin, but nothing here is allowed before or after: no access changes.
         f'{ON}<add origin="*" allowed="false"/>{END}',
         f'{ON}<add origin="*" allowed="false"/><add origin="https://a.example" '
         f'allowed="false"/>{END}', []),
    Case("root-change-inherited-by-a-location-is-one-change", f"{ON}{A}{END}",
         f"{ON}{A}{B}{END}",
         [(("/", "/api"), "https://b.example", "exact", "widens", False, ACCESS, "rule", "new")],
         old_outside='<location path="api"><system.webServer><cors><add origin="https://'
                     'c.example"/></cors></system.webServer></location>',
         new_outside='<location path="api"><system.webServer><cors><add origin="https://'
                     'c.example"/></cors></system.webServer></location>'),
    Case("location-clear-narrows-there-only", f"{ON}{A}{END}", f"{ON}{A}{END}",
         [(("/api",), "https://a.example", "exact", "narrows", False, ACCESS, "rule", "old")],
         new_outside='<location path="api"><system.webServer><cors><clear/></cors>'
                     "</system.webServer></location>"),
    Case("location-remove-narrows-there-only", f"{ON}{A}{B}{END}", f"{ON}{A}{B}{END}",
         [(("/api",), "https://b.example", "exact", "narrows", False, ACCESS, "rule", "old")],
         new_outside='<location path="api"><system.webServer><cors>'
                     '<remove origin="https://b.example"/></cors></system.webServer></location>'),
    Case("an-exact-origin-added-under-a-wildcard-a-deeper-scope-denies",
         f'{ON}<add origin="https://*.com"/>{END}',
         f'{ON}<add origin="https://*.com"/><add origin="https://x.a.com"/>{END}',
         [(("/api",), "https://x.a.com", "exact", "widens", False, ("access", "rule"), "rule",
           "new")],
         old_outside='<location path="api"><system.webServer><cors><add origin="https://'
                     '*.a.com" allowed="false"/></cors></system.webServer></location>',
         new_outside='<location path="api"><system.webServer><cors><add origin="https://'
                     '*.a.com" allowed="false"/></cors></system.webServer></location>'),
    Case("a-witness-standing-for-two-regions-in-two-scopes-is-named-after-each",
         # The root's remainder and /api's scheme wildcard have the same witness Origin.
         '<cors enabled="true" failUnlistedOrigins="true"/>', '<cors enabled="false"/>',
         [(("/", "/api"), UNLISTED_LABEL, "unlisted", "widens", False, ACCESS, "enabled",
           "new"),
          (("/", "/api"), MALFORMED_LABEL, "malformed", "widens", False, ACCESS, "enabled",
           "new"),
          (("/api",), "x-iiscors-probe://*", "scheme-wildcard", "widens", False, ACCESS,
           "enabled", "new")],
         new_outside='<location path="api"><system.webServer><cors><add origin="x-iiscors-'
                     'probe://*"/></cors></system.webServer></location>'),
    Case("enabled-turned-off-at-the-root-is-reported-once-for-every-scope", f"{ON}{A}{END}",
         f'<cors enabled="false">{A}{END}',
         [(("/", "/api"), "https://a.example", "exact", "narrows", False, ACCESS, "enabled",
           "new")],
         old_outside='<location path="api"><system.webServer><cors/></system.webServer>'
                     "</location>",
         new_outside='<location path="api"><system.webServer><cors/></system.webServer>'
                     "</location>"),
]


def _file(cors: str, server: str, outside: str) -> bytes:
    return web_config(cors, server=server, outside=outside)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_changes(case: Case) -> None:
    changes = diff(_file(case.old, case.old_server, case.old_outside),
                   _file(case.new, case.new_server, case.new_outside))
    assert sorted(summary(c) for c in changes) == sorted(case.expected)


def test_widening_with_credentials_comes_first() -> None:
    changes = diff(web_config(f"{ON}{A}{B}{END}"),
                   web_config(f"{FAIL}{A_CRED}<add origin=\"https://c.example\"/>{END}"))
    assert [c.credentials for c in changes][:1] == [True]
    classes = [c.direction.value for c in changes if not c.credentials]
    assert classes == sorted(classes, key=["widens", "narrows", "neutral"].index)


def test_locations_point_at_the_new_line_or_the_old_line_for_a_removal() -> None:
    old = web_config(f"{ON}\n{A}\n{B}\n{END}")           # a on line 5, b on line 6
    new = web_config(f"{ON}\n\n{A_CRED}\n{END}")          # a on line 6
    changes = {c.origin: c for c in diff(old, new)}
    gained, removed = changes["https://a.example"], changes["https://b.example"]
    assert (gained.location and gained.location.file, gained.location and gained.location.line,
            gained.side.value) == ("new.config", 6, "new")
    assert (removed.location and removed.location.file,
            removed.location and removed.location.line, removed.side.value) == ("old.config", 6,
                                                                                 "old")


def test_locations_of_settings() -> None:
    on = diff(web_config(f"{ON}\n{A}\n{END}"), web_config(f'\n<cors enabled="false">\n{A}\n{END}'))
    assert [(c.cause.value, c.location and c.location.line) for c in on] == [("enabled", 5)]
    removed = diff(web_config(f"{ON}{A}{END}"), web_config(
        f"{ON}{A}{END}", server='\n\n<modules>\n<remove name="CorsModule"/>\n</modules>'))
    assert [(c.cause.value, c.location and c.location.line) for c in removed] == [("module", 7)]
    custom = diff(web_config(f"{ON}{A}{END}"), web_config(
        f"{ON}{A}{END}", server='<httpProtocol><customHeaders>\n<add name="Access-Control-'
                               'Allow-Origin" value="*"/></customHeaders></httpProtocol>'))
    assert [(c.cause.value, c.location and c.location.line) for c in custom] == [
        ("customHeaders", 6)]


def test_a_file_added_is_compared_with_no_file() -> None:
    changes = diff(None, web_config(f"{ON}{A}{END}"))
    assert [summary(c) for c in changes] == [
        (ROOT, "https://a.example", "exact", "widens", False, ACCESS, "enabled", "new")]
    assert diff(web_config(f"{ON}{A}{END}"), None)[0].side.value == "old"


def test_every_change_names_a_witness_and_what_changed_in_words() -> None:
    (change,) = diff(web_config(f"{ON}{WILD}{END}"), web_config(
        f'{ON}<add origin="https://*.a.example" allowCredentials="true">'
        f'<allowMethods><add method="PUT"/></allowMethods></add>{END}'))
    assert change.witness == "https://x-iiscors-probe.a.example"
    assert [(a.what, a.old, a.new, a.direction.value, a.requests) for a in change.aspects] == [
        ("credentials", "false", "true", "widens", "all"),
        ("methods", "(none)", "PUT", "widens", "preflight")]


def test_a_witness_label_already_listed_is_not_used() -> None:
    listed = '<add origin="https://x-iiscors-probe.a.example" allowed="false"/>'
    (change,) = diff(web_config(f"{ON}{listed}{END}"), web_config(f"{ON}{listed}{WILD}{END}"))
    assert change.origin == "https://*.a.example"
    assert change.witness != "https://x-iiscors-probe.a.example"
    assert change.witness is not None and change.witness.endswith(".a.example")


def test_ten_thousand_unchanged_origins_cost_no_evaluation(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Regions whose rule and settings are the same on both sides are not asked (contract B4):
    # the work follows the changes, not the size of the files.
    rules = "".join(f'<add origin="https://app{i}.example"/>' for i in range(10_000))
    old = load_config(web_config(f"{ON}{rules}{END}"), max_bytes=2**20).scopes
    new = load_config(web_config(f"{ON}{rules}{B}{END}"), max_bytes=2**20).scopes
    asked: list[str | None] = []
    verdict = ScopePolicy.verdict

    def counting(self: ScopePolicy, method: str, origin: str | None, *args: str | None
                 ) -> Verdict:
        asked.append(origin)
        return verdict(self, method, origin, *args)

    monkeypatch.setattr(ScopePolicy, "verdict", counting)
    changes = compare_access(old, new)
    assert [c.origin for c in changes] == ["https://b.example"]
    assert 0 < len(asked) < 50


def test_an_origin_answered_by_another_rule_says_which() -> None:
    # The exact rule is gone and a wildcard with credentials now answers the origin (B4).
    changes = {c.origin: c for c in diff(
        web_config(f'{ON}<add origin="https://legacy.a.example"/>{END}'),
        web_config(f'{ON}<add origin="https://*.a.example" allowCredentials="true"/>{END}'))}
    legacy = changes["https://legacy.a.example"]
    assert [(a.what, a.old, a.new) for a in legacy.aspects] == [
        ("credentials", "false", "true"), ("rule", "https://legacy.a.example",
                                           "https://*.a.example")]
    assert legacy.credentials and legacy.side.value == "new"
