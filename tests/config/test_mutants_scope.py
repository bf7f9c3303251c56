"""Scoping behaviours that a mutation run of iiscors/config/scope.py found no test for
(docs/mutation.md).

Each test loads a web.config and asks the policy for a decision, as the adapters do.
"""

from __future__ import annotations

from iiscors import CorsRequest, load_config
from iiscors.policy import headers

from support import web_config

ORIGIN = "https://app.example"
CORS = f'<cors enabled="true"><add origin="{ORIGIN}" /></cors>'


def allow_origin(config: bytes, path: str = "/") -> str | None:
    decision = load_config(config).evaluate(CorsRequest("GET", ORIGIN, path=path))
    return dict(decision.headers).get(headers.ALLOW_ORIGIN)


def test_adding_another_module_does_not_bring_corsmodule_back() -> None:
    # contract D1: only an <add name="CorsModule"> undoes its removal
    assert allow_origin(web_config(CORS, server='<modules><remove name="CorsModule" />'
                                   '<add name="Other" type="Other.Module" /></modules>')) is None
    assert allow_origin(web_config(CORS, server='<modules><remove name="CorsModule" />'
                                   '<add name="CorsModule" /></modules>')) == ORIGIN
