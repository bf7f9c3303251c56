"""Rules that answer alike share their compiled headers (iiscors.policy.compiled, issue 17).

The headers are built once per distinct set of flags and lists in a scope; the Decision's
lookup keeps each origin's position among the rules, and the ScopeRule of the one it finds
is built when a Decision is asked for.  Sharing must never blur which rule decided: the
Decision names the origin's own rule (its own line), and rules that differ in anything but the
origin answer with their own headers.
"""

from __future__ import annotations

from iiscors import CorsRequest, load_config
from iiscors.policy.compiled import CompiledRule, RuleCompiler, ScopeRule
from iiscors.policy.model import OriginRule


def web_config(rules: str, custom: str = "") -> bytes:
    return ('<configuration><system.webServer><cors enabled="true">\n'
            f"{rules}</cors>{custom}</system.webServer></configuration>").encode()


REALISTIC = ('<add origin="https://a{n}.example" allowCredentials="true">'
             '<allowMethods><add method="GET"/></allowMethods></add>\n')


def entries(config: bytes) -> dict[str, ScopeRule]:
    scope = load_config(config).policy.root
    rules = scope.section.rules
    return {rules[at].origin: scope._compiler.rule(rules[at]) for at in scope._matcher.values()}


def test_rules_that_answer_alike_share_one_compiled_rule() -> None:
    found = entries(web_config("".join(REALISTIC.format(n=n) for n in range(50))))
    compiled = {id(entry.compiled) for entry in found.values()}
    assert len(found) == 50 and len(compiled) == 1
    shared = next(iter(found.values())).compiled
    assert isinstance(shared, CompiledRule)
    assert shared.actual_tail == (("Access-Control-Allow-Credentials", "true"),
                                  ("Vary", "Origin"))


def test_rules_that_differ_keep_their_own_headers() -> None:
    rules = (REALISTIC.format(n=1) + REALISTIC.format(n=2).replace("GET", "PUT")
             + '<add origin="https://a3.example" maxAge="60"/>'
             + '<add origin="https://a4.example"/><add origin="https://a5.example"/>'
             + '<add origin="https://a6.example" allowed="false"/>')
    found = entries(web_config(rules))
    assert found["https://a1.example"].compiled is not found["https://a2.example"].compiled
    assert found["https://a3.example"].compiled is not found["https://a4.example"].compiled
    assert found["https://a4.example"].compiled is found["https://a5.example"].compiled
    assert found["https://a6.example"].compiled is None  # allowed="false": nothing to send
    preflight = found["https://a2.example"].compiled
    assert preflight is not None
    assert ("Access-Control-Allow-Methods", "PUT") in preflight.preflight_tail


def test_the_decision_names_the_origins_own_rule_and_line() -> None:
    config = load_config(web_config("".join(REALISTIC.format(n=n) for n in range(3))))
    for n in range(3):
        decision = config.evaluate(CorsRequest(origin=f"https://a{n}.example"))
        assert decision.rule is not None
        assert decision.rule.origin == f"https://a{n}.example"
        assert decision.rule.location.line == n + 2
        assert ("Access-Control-Allow-Origin", f"https://a{n}.example") in decision.headers


def test_the_compiler_builds_each_set_of_headers_once() -> None:
    compiler = RuleCompiler((("Vary", "Origin"),))
    first = compiler.rule(OriginRule("https://a.example", allow_methods=("GET",)))
    second = compiler.rule(OriginRule("https://b.example", allow_methods=("GET",)))
    other = compiler.rule(OriginRule("https://c.example", allow_methods=("GET", "PUT")))
    assert first.compiled is second.compiled is not other.compiled
    assert first.rule.origin == "https://a.example" and second.rule.origin == "https://b.example"
    assert len(compiler.compiled) == 2
